package events

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var discardLog = slog.New(slog.DiscardHandler)

func TestSpoolRecordCodec(t *testing.T) {
	good := appendRecord(nil, "portcullis.auth.login", "019a-id", []byte(`{"a":1}`))
	withCRC := func(b []byte) []byte { // re-checksums a record edited after its header
		b = bytes.Clone(b)
		binary.LittleEndian.PutUint32(b[8:], crcOf(b))
		return b
	}
	set := func(b []byte, i int, v byte) []byte { b = bytes.Clone(b); b[i] = v; return b }
	for _, c := range []struct {
		name string
		in   []byte
		want error
		n    int
	}{
		{"good", good, nil, len(good)},
		{"good then more", append(bytes.Clone(good), 1, 2, 3), nil, len(good)},
		{"empty", nil, errRecordTorn, 0},
		{"magic only, cut", good[:6], errRecordTorn, 0},
		{"header only", good[:spoolHeader], errRecordTorn, 0},
		{"body cut", good[:len(good)-1], errRecordTorn, 0},
		{"bad magic", set(good, 0, 'x'), errRecordCorrupt, 0},
		{"bad magic, short", []byte("xyzw"), errRecordCorrupt, 0},
		{"magic, short", good[:4], errRecordTorn, 0},
		{"bad crc", set(good, len(good)-1, '!'), errRecordCorrupt, 0},
		{"length longer", set(good, 4, good[4]+1), errRecordTorn, 0},
		{"length shorter", set(good, 4, good[4]-1), errRecordCorrupt, 0},
		{"length huge", withCRC(set(good, 7, 0x7f)), errRecordCorrupt, 0},
		{"length < 2", withCRC(append(set(good[:spoolHeader], 4, 1), 0)), errRecordCorrupt, 0},
		{"subject length past body", withCRC(set(good, spoolHeader, 250)), errRecordCorrupt, 0},
		{"empty subject", withCRC(appendRecord(nil, "", "id", nil)), errRecordCorrupt, 0},
		{"empty id", withCRC(appendRecord(nil, "s", "", nil)), errRecordCorrupt, 0},
		{"empty event", appendRecord(nil, "s", "i", nil), nil, spoolHeader + 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, n, err := parseRecord(c.in, 1<<20)
			if !errors.Is(err, c.want) || n != c.n {
				t.Fatalf("parseRecord = %d, %v; want %d, %v", n, err, c.n, c.want)
			}
			if c.name == "good" && (r.subject != "portcullis.auth.login" || r.id != "019a-id" || string(r.data) != `{"a":1}`) {
				t.Fatalf("parseRecord = %+v", r)
			}
		})
	}
}

// crcOf is the checksum a record's header should hold.
func crcOf(b []byte) uint32 {
	n := int(binary.LittleEndian.Uint32(b[4:]))
	end := min(spoolHeader+n, len(b))
	return crcUpdate(b[4:8], b[spoolHeader:end])
}

func scanAll(b []byte) (ids []string, corrupt int, torn bool) {
	corrupt, torn = scanSegment(b, 1<<20, func(r spoolRecord) { ids = append(ids, r.id) })
	return ids, corrupt, torn
}

func TestScanSegment(t *testing.T) {
	rec := func(id string) []byte { return appendRecord(nil, "portcullis.auth.login", id, []byte("{}")) }
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	a, b, c := rec("a"), rec("b"), rec("c")
	bad := bytes.Clone(b)
	bad[len(bad)-1] ^= 0xff
	long := bytes.Clone(b)
	long[4] += 200
	for _, tc := range []struct {
		name    string
		in      []byte
		ids     string
		corrupt int
		torn    bool
	}{
		{"three", join(a, b, c), "abc", 0, false},
		{"torn tail", join(a, b, c[:len(c)-2]), "ab", 0, true},
		{"torn header", join(a, b, c[:5]), "ab", 0, true},
		{"corrupt middle", join(a, bad, c), "ac", 1, false},
		{"length past the end in the middle", join(a, long, c), "ac", 1, false},
		{"garbage middle", join(a, []byte("garbage!"), c), "ac", 1, false},
		{"garbage tail", join(a, b, []byte("xyzzy-xyzzy-xyzzy")), "ab", 1, false},
		{"garbage then torn", join(a, []byte("junk"), c[:len(c)-1]), "a", 1, false},
		{"only garbage", []byte("not a spool at all"), "", 1, false},
		{"empty", nil, "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, corrupt, torn := scanAll(tc.in)
			var got string
			for _, id := range ids {
				got += id
			}
			if got != tc.ids || corrupt != tc.corrupt || torn != tc.torn {
				t.Fatalf("scan = %q, %d corrupt, torn %v; want %q, %d, %v", got, corrupt, torn, tc.ids, tc.corrupt, tc.torn)
			}
		})
	}
}

// FuzzScanSegment: a segment's bytes are untrusted; scanning never panics
// and yields only records that check.
func FuzzScanSegment(f *testing.F) {
	r := appendRecord(nil, "portcullis.auth.login", "id-1", []byte(`{"x":true}`))
	f.Add(r)
	f.Add(append(bytes.Clone(r), r[:9]...))
	f.Add(append([]byte("junk"), r...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		scanSegment(b, 4096, func(r spoolRecord) {
			if r.subject == "" || r.id == "" || len(r.subject) > maxSpoolField || len(r.id) > maxSpoolField {
				t.Fatalf("record %+v", r)
			}
			again := appendRecord(nil, r.subject, r.id, r.data)
			if _, _, err := parseRecord(again, 4096); err != nil {
				t.Fatalf("re-encoded record does not parse: %v", err)
			}
		})
	})
}

func TestSpoolFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool", "auth")
	s, err := openSpool(dir, 1<<20, 256, discardLog)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("x"), 100)
	for i := 0; i < 10; i++ {
		if err := s.appendOne("portcullis.auth.login", string(rune('a'+i)), data); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	ents, _ := filepath.Glob(filepath.Join(dir, "*"+spoolSuffix))
	if len(ents) < 3 {
		t.Fatalf("%d segments, want rotation at 256 bytes", len(ents))
	}
	var total int64
	for _, e := range ents {
		info, _ := os.Stat(e)
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", e, info.Mode().Perm())
		}
		total += info.Size()
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", st.Mode().Perm())
	}
	// The last segment torn mid-record, as by a crash.
	last := ents[len(ents)-1]
	f, _ := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
	torn := appendRecord(nil, "portcullis.auth.login", "torn", data)
	f.Write(torn[:len(torn)/2])
	f.Close()

	// Reopened, the records come back in order, the torn one skipped.
	s, err = openSpool(dir, 1<<20, 256, discardLog)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	// One process per directory.
	if _, err := openSpool(dir, 1<<20, 256, discardLog); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second open = %v, want in use", err)
	}
	if got := s.size.Load(); got != total+int64(len(torn)/2) {
		t.Fatalf("size %d, want %d", got, total+int64(len(torn)/2))
	}
	var ids string
	for {
		n, ok, err := s.oldest()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		recs, err := s.read(n)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			ids += r.id
			if !bytes.Equal(r.data, data) {
				t.Fatalf("record %s data %q", r.id, r.data)
			}
		}
		if err := s.remove(n); err != nil {
			t.Fatal(err)
		}
	}
	if ids != "abcdefghij" {
		t.Fatalf("read %q, want abcdefghij", ids)
	}
	if ents, _ := filepath.Glob(filepath.Join(dir, "*"+spoolSuffix)); len(ents) != 0 || s.size.Load() != 0 {
		t.Fatalf("%d files, %d bytes left", len(ents), s.size.Load())
	}
}

func TestSpoolBound(t *testing.T) {
	s, err := openSpool(t.TempDir(), 300, 1<<20, discardLog)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	data := bytes.Repeat([]byte("x"), 100)
	if err := s.appendOne("s", "1", data); err != nil {
		t.Fatal(err)
	}
	if err := s.appendOne("s", "2", data); err != nil {
		t.Fatal(err)
	}
	if err := s.appendOne("s", "3", data); !errors.Is(err, ErrSpoolFull) {
		t.Fatalf("third append = %v, want ErrSpoolFull", err)
	}
	if err := s.appendOne("s", string(bytes.Repeat([]byte("i"), 256)), nil); err == nil {
		t.Fatal("id of 256 bytes spooled")
	}
}
