package projector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"time"
)

// The snapshot format, version 2 (1 had no context bindings). It must be read by every later version
// or refused by it (a new layout is a new version; an unknown version is
// never guessed at, the reader replays the streams instead).
//
//	snapshot = magic "PCSNAP" | version uint16 | section*
//	section  = kind uint8 | length uint32 | payload | crc uint32
//
// Integers of fixed size are little endian; crc is the CRC-32C
// (Castagnoli) of kind, length and payload. The sections come in this
// order, each once, except tokens, once per partition 0..63 (a partition's
// tokens in expiry order, which the reader does not rely on):
//
//	meta, accounts, roles, constraints, api keys, subjects, dead uids,
//	token pairs, tokens × 64, contexts, end
//
// contexts holds the search context bindings (scroll, PIT and async ids
// bound to their creator), copied with token partition 0: the TOKENS
// sequence they are at, then each one's hash, kind, owner and expiry.
//
// Inside a payload, numbers are uvarints (varints where signed), strings
// and byte strings a uvarint length then the bytes; a list or byte string
// that may be nil has its length plus one, 0 meaning nil, so that nil and
// empty survive the round trip. A time is a flag byte (0 for the zero
// time), then seconds (varint) and nanoseconds (uvarint) since the Unix
// epoch; it is read back in UTC.
//
// The encoding is hand-written for speed: a million tokens take about 40
// bytes each and decode without reflection (encoding/gob spends several
// times as long, see BenchmarkSnapshotCodec).
const (
	snapMagic   = "PCSNAP"
	snapVersion = 2

	// snapPartitions splits the tokens as the model's shards do (the
	// first byte of the hash, modulo 64), so that each partition is
	// frozen under the apply lock on its own and carries the TOKENS
	// sequence it was frozen at.
	snapPartitions = 64

	maxSection = 1 << 30 // bound on one section's payload, against a corrupt length

	// snapSlab is how many tokens the loader allocates at once.
	snapSlab = 64
)

// A partition is frozen as a shard: they must be the same split.
var _ = [1]struct{}{}[shardCount-snapPartitions]

type sectionKind uint8

const (
	secMeta sectionKind = iota + 1
	secAccounts
	secRoles
	secConstraints
	secAPIKeys
	secSubjects
	secDeadUIDs
	secTokenPairs
	secTokens
	secContexts
	secEnd sectionKind = 0xFF
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errSnapshot marks a snapshot that cannot be used: corrupt, truncated, of
// an unknown version, or of other streams. The projector logs it and
// replays the streams instead.
var errSnapshot = errors.New("unusable snapshot")

func snapErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errSnapshot, fmt.Sprintf(format, args...))
}

// snapWriter writes sections to w, buffering up to flushAt bytes.
type snapWriter struct {
	w       io.Writer
	flushAt int
	e       enc
	err     error
	n       int64 // bytes written to w
}

func newSnapWriter(w io.Writer, flushAt int) *snapWriter {
	sw := &snapWriter{w: w, flushAt: flushAt, e: enc{b: make([]byte, 0, flushAt+flushAt/4)}}
	sw.e.b = append(sw.e.b, snapMagic...)
	sw.e.b = binary.LittleEndian.AppendUint16(sw.e.b, snapVersion)
	return sw
}

// section appends one section whose payload body writes.
func (sw *snapWriter) section(kind sectionKind, body func(e *enc)) {
	if sw.err != nil {
		return
	}
	start := len(sw.e.b)
	sw.e.b = append(sw.e.b, byte(kind), 0, 0, 0, 0)
	body(&sw.e)
	n := len(sw.e.b) - start - 5
	if n > maxSection {
		sw.err = fmt.Errorf("snapshot section %d: %d bytes, more than %d", kind, n, maxSection)
		return
	}
	binary.LittleEndian.PutUint32(sw.e.b[start+1:], uint32(n))
	sw.e.b = binary.LittleEndian.AppendUint32(sw.e.b, crc32.Checksum(sw.e.b[start:], crcTable))
	if len(sw.e.b) >= sw.flushAt {
		sw.flush()
	}
}

func (sw *snapWriter) flush() {
	if sw.err != nil || len(sw.e.b) == 0 {
		return
	}
	n, err := sw.w.Write(sw.e.b)
	sw.n += int64(n)
	if err != nil {
		sw.err = fmt.Errorf("write snapshot: %w", err)
	}
	sw.e.b = sw.e.b[:0]
}

// close flushes what is buffered and returns the first error.
func (sw *snapWriter) close() error {
	sw.flush()
	return sw.err
}

// enc appends the payload encodings.
type enc struct{ b []byte }

func (e *enc) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }

func (e *enc) boolean(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *enc) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}

// strs writes a list that may be nil.
func (e *enc) strs(l []string) {
	if l == nil {
		e.uvarint(0)
		return
	}
	e.uvarint(uint64(len(l)) + 1)
	for _, s := range l {
		e.str(s)
	}
}

// bytes writes a byte string that may be nil.
func (e *enc) bytes(b []byte) {
	if b == nil {
		e.uvarint(0)
		return
	}
	e.uvarint(uint64(len(b)) + 1)
	e.b = append(e.b, b...)
}

func (e *enc) time(t time.Time) {
	if t.IsZero() {
		e.b = append(e.b, 0)
		return
	}
	e.b = append(e.b, 1)
	e.varint(t.Unix())
	e.uvarint(uint64(t.Nanosecond()))
}

// snapReader reads the sections of a snapshot, checking each one's CRC
// before handing out its payload.
type snapReader struct {
	r   io.Reader
	hdr [5]byte
	buf []byte
	n   int64 // bytes read
}

// newSnapReader reads and checks the magic and version.
func newSnapReader(r io.Reader) (*snapReader, error) {
	sr := &snapReader{r: r}
	var head [len(snapMagic) + 2]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, snapErr("header: %v", err)
	}
	sr.n = int64(len(head))
	if string(head[:len(snapMagic)]) != snapMagic {
		return nil, snapErr("not a snapshot (magic %q)", head[:len(snapMagic)])
	}
	if v := binary.LittleEndian.Uint16(head[len(snapMagic):]); v != snapVersion {
		return nil, snapErr("format version %d, this build reads %d", v, snapVersion)
	}
	return sr, nil
}

// next returns the next section; its payload is valid until the next
// call.
func (sr *snapReader) next() (sectionKind, []byte, error) {
	if _, err := io.ReadFull(sr.r, sr.hdr[:]); err != nil {
		return 0, nil, snapErr("section header: %v", err)
	}
	n := binary.LittleEndian.Uint32(sr.hdr[1:])
	if n > maxSection {
		return 0, nil, snapErr("section %d of %d bytes", sr.hdr[0], n)
	}
	size := int(n) + 4
	if cap(sr.buf) < size {
		sr.buf = make([]byte, size)
	}
	b := sr.buf[:size]
	if _, err := io.ReadFull(sr.r, b); err != nil {
		return 0, nil, snapErr("section %d: %v", sr.hdr[0], err)
	}
	sr.n += int64(5 + size)
	crc := crc32.Update(crc32.Checksum(sr.hdr[:], crcTable), crcTable, b[:n])
	if crc != binary.LittleEndian.Uint32(b[n:]) {
		return 0, nil, snapErr("section %d: checksum mismatch", sr.hdr[0])
	}
	return sectionKind(sr.hdr[0]), b[:n], nil
}

// expect returns the payload of the next section, which must be of kind.
func (sr *snapReader) expect(kind sectionKind) (*sdec, error) {
	k, b, err := sr.next()
	if err != nil {
		return nil, err
	}
	if k != kind {
		return nil, snapErr("section %d where %d was expected", k, kind)
	}
	return &sdec{b: b}, nil
}

// sdec reads a snapshot payload; the first error sticks and later reads return
// zero values, so a section decodes in straight-line code and is checked
// once at its end.
type sdec struct {
	b   []byte
	off int
	err error
}

func (d *sdec) fail(what string) {
	if d.err == nil {
		d.err = snapErr("%s at byte %d", what, d.off)
	}
}

// done reports the first error, or trailing bytes.
func (d *sdec) done() error {
	if d.err == nil && d.off != len(d.b) {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.b)-d.off))
	}
	return d.err
}

func (d *sdec) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.off += n
	return v
}

func (d *sdec) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

// count reads a number of items each at least min bytes long, bounded by
// what is left, so that a corrupt count cannot make a huge allocation.
func (d *sdec) count(min int) int {
	v := d.uvarint()
	if v > uint64(len(d.b)-d.off)/uint64(min) {
		d.fail("count beyond the section")
		return 0
	}
	return int(v)
}

// list reads the length of a list that may be nil (encoded plus one), -1
// for nil, bounded as count is.
func (d *sdec) list(min int) int {
	v := d.uvarint()
	if v == 0 || d.err != nil {
		return -1
	}
	if v-1 > uint64(len(d.b)-d.off)/uint64(min) {
		d.fail("count beyond the section")
		return -1
	}
	return int(v - 1)
}

func (d *sdec) boolean() bool {
	if d.err != nil {
		return false
	}
	if d.off >= len(d.b) || d.b[d.off] > 1 {
		d.fail("bad boolean")
		return false
	}
	d.off++
	return d.b[d.off-1] == 1
}

// raw returns the next n bytes, shared with the payload.
func (d *sdec) raw(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail("length beyond the section")
		return nil
	}
	b := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return b
}

func (d *sdec) strBytes() []byte { return d.raw(d.uvarint()) }

func (d *sdec) str() string { return string(d.strBytes()) }

func (d *sdec) strs() []string {
	n := d.list(1)
	if n < 0 {
		return nil
	}
	l := make([]string, n)
	for i := range l {
		l[i] = d.str()
	}
	return l
}

func (d *sdec) bytes() []byte {
	n := d.uvarint()
	if n == 0 {
		return nil
	}
	b := d.raw(n - 1)
	if d.err != nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

func (d *sdec) time() time.Time {
	if d.err != nil {
		return time.Time{}
	}
	if d.off >= len(d.b) {
		d.fail("bad time")
		return time.Time{}
	}
	flag := d.b[d.off]
	d.off++
	switch flag {
	case 0:
		return time.Time{}
	case 1:
	default:
		d.fail("bad time")
		return time.Time{}
	}
	sec, nsec := d.varint(), d.uvarint()
	if nsec >= 1e9 || sec == math.MinInt64 {
		d.fail("bad time")
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (d *sdec) hash() (h [32]byte) {
	copy(h[:], d.raw(32))
	return h
}
