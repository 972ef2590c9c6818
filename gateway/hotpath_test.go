package gateway

import (
	"bytes"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadExactly(t *testing.T) {
	for _, c := range []struct {
		body string
		n    int
		ok   bool
	}{
		{"", 0, true},
		{`{"size":1}`, 10, true},
		{`{"size":1}x`, 10, false}, // longer than announced
		{`{"size":1`, 10, false},   // shorter
	} {
		b, err := readExactly(strings.NewReader(c.body), c.n)
		if (err == nil) != c.ok || c.ok && string(b) != c.body {
			t.Errorf("readExactly(%q, %d) = %q, %v; want ok %v", c.body, c.n, b, err, c.ok)
		}
		// One byte at a time, as a slow client sends it.
		b, err = readExactly(iotest.OneByteReader(strings.NewReader(c.body)), c.n)
		if (err == nil) != c.ok || c.ok && string(b) != c.body {
			t.Errorf("readExactly(one byte at a time %q, %d) = %q, %v; want ok %v", c.body, c.n, b, err, c.ok)
		}
	}
	if _, err := readExactly(iotest.ErrReader(iotest.ErrTimeout), 0); err == nil {
		t.Error("a read error after the body is not reported")
	}
}

func TestInternedStrings(t *testing.T) {
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS", ""} {
		if got := methodString([]byte(m)); got != m {
			t.Errorf("methodString(%q) = %q", m, got)
		}
	}
	for _, ct := range []string{"", "application/json", "application/x-ndjson", "application/json; charset=UTF-8", "text/plain", "APPLICATION/JSON"} {
		if got := contentTypeString([]byte(ct)); got != ct {
			t.Errorf("contentTypeString(%q) = %q", ct, got)
		}
	}
	// The strings returned do not alias the request's buffer.
	buf := []byte("POST")
	m := methodString(buf)
	copy(buf, "XXXX")
	if m != "POST" || !bytes.Equal(buf, []byte("XXXX")) {
		t.Errorf("methodString aliases its argument: %q", m)
	}
}
