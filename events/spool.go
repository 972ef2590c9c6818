package events

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/portcullis/portcullis/internal/dirlock"
)

// ErrSpoolFull is returned when writing to the spool would take it past its
// bound.
var ErrSpoolFull = errors.New("outcome spool full")

// spool keeps outcomes on local disk while NATS cannot take them: a
// directory (0700, locked by one process) of append-only segment files
// (<20-digit number>.seg, 0600), written in order and drained oldest
// first. A segment is sealed (synced and closed) when it reaches segMax or
// is about to be drained, and is deleted once every record of it is
// acknowledged.
//
// Durability: a record is written to its file (one write system call) before
// the append returns, so a crash of the process loses nothing; the file is
// synced when its segment is sealed and when the spool is closed, so a crash
// of the machine may lose the records written since the last sync.
//
// A record is
//
//	magic uint32 | length uint32 | crc32c(length | body) uint32 | body
//	body: len(subject) uint8 | subject | len(id) uint8 | id | event
//
// little endian. A record that does not check is skipped: the reader scans
// for the next magic.
type spool struct {
	dir    string
	max    int64 // bound on the bytes of all segments
	segMax int64 // a segment is sealed once this long
	log    *slog.Logger

	lock    *os.File // holds the directory's lock until close
	mu      sync.Mutex
	sealed  []uint64 // segments to drain, oldest first
	next    uint64   // number of the next segment created
	w       *os.File // the segment being written, nil if none
	wseq    uint64
	wsize   int64
	scratch []byte
	size    atomic.Int64  // bytes of every segment on disk
	written atomic.Uint64 // records appended since open
	corrupt atomic.Uint64 // records skipped as corrupt while reading
	active  bool          // a spooling episode is under way (logged once)
	full    bool          // the last write found the spool full (logged once)
}

const (
	spoolMagic    = 0x014350ff // ff 'P' 'C' 01: 0xff is in no UTF-8 text, so in no event
	spoolHeader   = 12
	spoolSuffix   = ".seg"
	maxSpoolField = 255
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// openSpool opens (creating) the spool in dir; the segments there from
// an earlier run are drained first.
func openSpool(dir string, max, segMax int64, log *slog.Logger) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("outcome spool: %w", err)
	}
	lock, err := dirlock.Lock(dir, "LOCK")
	if errors.Is(err, dirlock.ErrNoLocks) {
		log.Warn("outcome_spool_not_locked", "dir", dir, "error", err)
	} else if err != nil {
		return nil, fmt.Errorf("outcome spool: %w", err)
	}
	s := &spool{dir: dir, max: max, segMax: segMax, log: log, lock: lock}
	ents, err := os.ReadDir(dir)
	if err != nil {
		s.unlock()
		return nil, fmt.Errorf("outcome spool: %w", err)
	}
	var size int64
	for _, ent := range ents {
		name := ent.Name()
		n, err := strconv.ParseUint(strings.TrimSuffix(name, spoolSuffix), 10, 64)
		if !strings.HasSuffix(name, spoolSuffix) || err != nil || !ent.Type().IsRegular() {
			continue
		}
		info, err := ent.Info()
		if err != nil {
			s.unlock()
			return nil, fmt.Errorf("outcome spool: %w", err)
		}
		size += info.Size()
		s.sealed = append(s.sealed, n)
		s.next = max64(s.next, n+1)
	}
	slices.Sort(s.sealed)
	s.size.Store(size)
	if len(s.sealed) > 0 {
		s.active = true
		log.Warn("auth_outcomes_spooled_found", "dir", dir, "segments", len(s.sealed), "bytes", size)
	}
	return s, nil
}

func max64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

func (s *spool) path(n uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", n, spoolSuffix))
}

// appendRecord encodes a record onto b.
func appendRecord(b []byte, subject, id string, data []byte) []byte {
	start := len(b)
	bodyLen := 2 + len(subject) + len(id) + len(data)
	b = binary.LittleEndian.AppendUint32(b, spoolMagic)
	b = binary.LittleEndian.AppendUint32(b, uint32(bodyLen))
	b = binary.LittleEndian.AppendUint32(b, 0) // crc, below
	b = append(b, byte(len(subject)))
	b = append(b, subject...)
	b = append(b, byte(len(id)))
	b = append(b, id...)
	b = append(b, data...)
	binary.LittleEndian.PutUint32(b[start+8:], crcUpdate(b[start+4:start+8], b[start+spoolHeader:]))
	return b
}

// crcUpdate is the checksum of a record's length field and body.
func crcUpdate(length, body []byte) uint32 {
	return crc32.Update(crc32.Checksum(length, castagnoli), castagnoli, body)
}

// spoolRecord is one record read back.
type spoolRecord struct {
	subject, id string
	data        []byte // into the segment's bytes
}

// Results of parseRecord other than a record.
var (
	errRecordTorn    = errors.New("record cut short")
	errRecordCorrupt = errors.New("record corrupt")
)

// parseRecord reads the record at the start of b: the record and its length,
// errRecordTorn when b ends inside a record that checks so far, or
// errRecordCorrupt.
func parseRecord(b []byte, maxBody int) (spoolRecord, int, error) {
	if len(b) < spoolHeader {
		if len(b) < 4 || binary.LittleEndian.Uint32(b) == spoolMagic {
			return spoolRecord{}, 0, errRecordTorn
		}
		return spoolRecord{}, 0, errRecordCorrupt
	}
	if binary.LittleEndian.Uint32(b) != spoolMagic {
		return spoolRecord{}, 0, errRecordCorrupt
	}
	n := int(binary.LittleEndian.Uint32(b[4:]))
	if n < 2 || n > maxBody {
		return spoolRecord{}, 0, errRecordCorrupt
	}
	if len(b) < spoolHeader+n {
		return spoolRecord{}, 0, errRecordTorn
	}
	body := b[spoolHeader : spoolHeader+n]
	if crcUpdate(b[4:8], body) != binary.LittleEndian.Uint32(b[8:]) {
		return spoolRecord{}, 0, errRecordCorrupt
	}
	sl := int(body[0])
	if 1+sl >= len(body) {
		return spoolRecord{}, 0, errRecordCorrupt
	}
	il := int(body[1+sl])
	if 2+sl+il > len(body) || sl == 0 || il == 0 {
		return spoolRecord{}, 0, errRecordCorrupt
	}
	return spoolRecord{
		subject: string(body[1 : 1+sl]),
		id:      string(body[2+sl : 2+sl+il]),
		data:    body[2+sl+il:],
	}, spoolHeader + n, nil
}

// scanSegment calls fn with every record of a segment's bytes that checks,
// in order, skipping corrupt bytes up to the next record. It returns how
// many corrupt stretches were skipped and whether the segment ends in a
// record cut short (a crash mid-write). It never fails on its input. A
// record's bytes may hold the magic (in its header fields): a false start
// fails its checksum and is skipped as well.
func scanSegment(b []byte, maxBody int, fn func(spoolRecord)) (corrupt int, torn bool) {
	inCorrupt := false
	for off := 0; off < len(b); {
		r, n, err := parseRecord(b[off:], maxBody)
		switch {
		case err == nil:
			fn(r)
			off += n
			inCorrupt = false
			continue
		case errors.Is(err, errRecordTorn) && !inCorrupt && indexMagic(b[off+1:]) < 0:
			// Cut short with nothing after it: the tail of a crash.
			// (With records after it, its length is corrupt.)
			return corrupt, true
		}
		if !inCorrupt {
			corrupt++
			inCorrupt = true
		}
		// Resynchronise on the next magic.
		i := indexMagic(b[off+1:])
		if i < 0 {
			return corrupt, false
		}
		off += 1 + i
	}
	return corrupt, false
}

func indexMagic(b []byte) int {
	var m [4]byte
	binary.LittleEndian.PutUint32(m[:], spoolMagic)
	return strings.Index(string(b), string(m[:])) // no copy: the compiler converts in place
}

// maxBody is the largest record body the spool writes or reads.
func (s *spool) maxBody() int { return int(min(s.segMax, 1<<30)) }

// checkRecord refuses what a record cannot hold.
func (s *spool) checkRecord(subject, id string, data []byte) error {
	if len(subject) == 0 || len(subject) > maxSpoolField || len(id) == 0 || len(id) > maxSpoolField ||
		2+len(subject)+len(id)+len(data) > s.maxBody() {
		return fmt.Errorf("outcome spool: record of %d bytes, subject %d, id %d: too large", len(data), len(subject), len(id))
	}
	return nil
}

// appendOne writes one record.
func (s *spool) appendOne(subject, id string, data []byte) error {
	if err := s.checkRecord(subject, id, data); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scratch = appendRecord(s.scratch[:0], subject, id, data)
	return s.writeLocked(s.scratch, 1)
}

// appendBatch writes the records of batch, in one write.
func (s *spool) appendBatch(batch []outgoing) error {
	for _, o := range batch {
		if err := s.checkRecord(o.subject, o.id, *o.buf); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scratch = s.scratch[:0]
	for _, o := range batch {
		s.scratch = appendRecord(s.scratch, o.subject, o.id, *o.buf)
	}
	return s.writeLocked(s.scratch, events(batch))
}

func (s *spool) writeLocked(b []byte, n int) error {
	if len(b) == 0 {
		return nil
	}
	if s.size.Load()+int64(len(b)) > s.max {
		if !s.full {
			s.full = true
			s.log.Error("auth_spool_full", "dir", s.dir, "bytes", s.size.Load(), "max_bytes", s.max)
		}
		return ErrSpoolFull
	}
	s.full = false
	if s.w == nil {
		f, err := os.OpenFile(s.path(s.next), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("outcome spool: %w", err)
		}
		syncDir(s.dir)
		s.w, s.wseq, s.wsize = f, s.next, 0
		s.next++
	}
	m, err := s.w.Write(b)
	s.wsize += int64(m)
	s.size.Add(int64(m))
	if err != nil {
		// The file may hold part of a record now: seal it (the reader
		// skips the torn part) and fail.
		_ = s.sealLocked()
		return fmt.Errorf("outcome spool: %w", err)
	}
	s.written.Add(uint64(n))
	if !s.active {
		s.active = true
		s.log.Warn("auth_outcomes_spooling", "dir", s.dir)
	}
	if s.wsize >= s.segMax {
		return s.sealLocked()
	}
	return nil
}

// sealLocked syncs and closes the segment being written; it is drained
// after the ones before it.
func (s *spool) sealLocked() error {
	if s.w == nil {
		return nil
	}
	err := s.w.Sync()
	if cerr := s.w.Close(); err == nil {
		err = cerr
	}
	s.sealed = append(s.sealed, s.wseq)
	s.w = nil
	if err != nil {
		return fmt.Errorf("outcome spool: seal segment: %w", err)
	}
	return nil
}

// oldest returns the oldest segment to drain, sealing the one being
// written if it is the only one; ok is false when the spool is empty.
func (s *spool) oldest() (n uint64, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sealed) == 0 {
		if s.w == nil {
			return 0, false, nil
		}
		err = s.sealLocked()
	}
	return s.sealed[0], true, err
}

// read reads segment n's records; the corrupt parts are skipped and logged.
func (s *spool) read(n uint64) ([]spoolRecord, error) {
	b, err := os.ReadFile(s.path(n))
	if err != nil {
		return nil, fmt.Errorf("outcome spool: %w", err)
	}
	var recs []spoolRecord
	corrupt, torn := scanSegment(b, s.maxBody(), func(r spoolRecord) { recs = append(recs, r) })
	if corrupt > 0 {
		s.corrupt.Add(uint64(corrupt))
		s.log.Error("auth_spool_corrupt_records_skipped", "segment", s.path(n), "count", corrupt)
	}
	if torn {
		s.log.Warn("auth_spool_torn_tail_skipped", "segment", s.path(n))
	}
	return recs, nil
}

// remove deletes drained segment n (the oldest).
func (s *spool) remove(n uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.path(n)
	info, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("outcome spool: %w", err)
	}
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("outcome spool: %w", err)
	}
	syncDir(s.dir)
	s.size.Add(-info.Size())
	s.sealed = slices.DeleteFunc(s.sealed, func(m uint64) bool { return m == n })
	if len(s.sealed) == 0 && s.w == nil && s.active {
		s.active = false
		s.log.Info("auth_outcomes_spool_drained", "dir", s.dir)
	}
	return nil
}

// empty reports whether no segment holds records to drain.
func (s *spool) empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sealed) == 0 && s.w == nil
}

// close syncs and closes the segment being written, and releases the
// directory. The spool is not to be used after.
func (s *spool) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.sealLocked()
	s.unlock()
	return err
}

func (s *spool) unlock() {
	if s.lock != nil {
		_ = s.lock.Close()
		s.lock = nil
	}
}

// syncDir syncs a directory, so that a file created or removed in it stays
// so through a crash of the machine; best effort.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
