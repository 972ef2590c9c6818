package events

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/portcullis/portcullis/events/eventstest"
)

func TestSplitEvents(t *testing.T) {
	for _, tt := range []struct {
		data string
		want []string
	}{
		{"", nil},
		{"\n", nil},
		{`{"id":"a"}`, []string{`{"id":"a"}`}},
		{`{"id":"a"}` + "\n", []string{`{"id":"a"}`}},
		{"a\nb\nc", []string{"a", "b", "c"}},
		{"a\n\nb\n", []string{"a", "b"}},
		{"\n\na", []string{"a"}},
	} {
		var got []string
		for line := range SplitEvents([]byte(tt.data)) {
			got = append(got, string(line))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("SplitEvents(%q) = %q, want %q", tt.data, got, tt.want)
		}
		if n := CountEvents([]byte(tt.data)); n != len(tt.want) {
			t.Errorf("CountEvents(%q) = %d, want %d", tt.data, n, len(tt.want))
		}
	}
	// Stopping early.
	n := 0
	for range SplitEvents([]byte("a\nb\nc")) {
		n++
		break
	}
	if n != 1 {
		t.Fatalf("%d events yielded after break", n)
	}
}

// FuzzSplitEvents: the events of any message are its non-empty lines, in
// order, and nothing else.
func FuzzSplitEvents(f *testing.F) {
	f.Add([]byte("a\nb"))
	f.Add([]byte("\n\n{}\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var want [][]byte
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(l) > 0 {
				want = append(want, l)
			}
		}
		var got [][]byte
		for line := range SplitEvents(data) {
			if len(line) == 0 || bytes.IndexByte(line, '\n') >= 0 {
				t.Fatalf("line %q", line)
			}
			got = append(got, line)
		}
		if !slices.EqualFunc(got, want, bytes.Equal) {
			t.Fatalf("SplitEvents(%q) = %q, want %q", data, got, want)
		}
		if CountEvents(data) != len(want) {
			t.Fatalf("CountEvents(%q) = %d, want %d", data, CountEvents(data), len(want))
		}
	})
}

func out(subject, id, data string) outgoing {
	b := []byte(data)
	return outgoing{subject: subject, id: id, buf: &b, n: 1}
}

func TestPack(t *testing.T) {
	big := strings.Repeat("x", MaxPackBytes/2)
	type msg struct {
		subject, id, data string
		n                 int
	}
	for _, tt := range []struct {
		name  string
		batch []outgoing
		want  []msg
	}{
		{"empty", nil, nil},
		{"one", []outgoing{out("s.a", "1", "A1")}, []msg{{"s.a", "1", "A1", 1}}},
		{"one subject, in order", []outgoing{out("s.a", "1", "A1"), out("s.a", "2", "A2"), out("s.a", "3", "A3")},
			[]msg{{"s.a", "1", "A1\nA2\nA3", 3}}},
		{"two subjects interleaved: each in order, first id of each",
			[]outgoing{out("s.a", "1", "A1"), out("s.b", "2", "B2"), out("s.a", "3", "A3"), out("s.b", "4", "B4")},
			[]msg{{"s.a", "1", "A1\nA3", 2}, {"s.b", "2", "B2\nB4", 2}}},
		{"a message is closed at MaxPackBytes",
			[]outgoing{out("s.a", "1", big), out("s.a", "2", big), out("s.a", "3", "A3")},
			[]msg{{"s.a", "1", big, 1}, {"s.a", "2", big + "\nA3", 2}}},
		{"an event larger than MaxPackBytes is a message of its own",
			[]outgoing{out("s.a", "1", "A1"), out("s.a", "2", big+big+"y"), out("s.a", "3", "A3")},
			[]msg{{"s.a", "1", "A1", 1}, {"s.a", "2", big + big + "y", 1}, {"s.a", "3", "A3", 1}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			prior := out("s.z", "0", "Z0")
			got := pack(tt.batch, []outgoing{prior}, MaxPackBytes)
			if got[0].id != "0" || string(*got[0].buf) != "Z0" {
				t.Fatalf("pack changed the messages before its own: %+v", got[0])
			}
			got = got[1:]
			if len(got) != len(tt.want) {
				t.Fatalf("%d messages, want %d", len(got), len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.subject != w.subject || g.id != w.id || string(*g.buf) != w.data || g.n != w.n {
					t.Errorf("message %d = {%s %s %.20q %d}, want {%s %s %.20q %d}", i, g.subject, g.id, *g.buf, g.n, w.subject, w.id, w.data, w.n)
				}
				if g.n != CountEvents(*g.buf) {
					t.Errorf("message %d: n %d, %d events", i, g.n, CountEvents(*g.buf))
				}
			}
		})
	}
}

// With a spool, a message is no larger than a spool record holds, so that
// a message NATS does not take can be spooled whole.
func TestEmitterPacksForTheSpool(t *testing.T) {
	js, _ := publisherFixture(t, time.Minute)
	for _, tt := range []struct {
		segment int64
		want    int
	}{
		{0, MaxPackBytes},                      // the default segment, 16 MiB
		{8 << 10, 8<<10 - 2 - 2*maxSpoolField}, // small segments
	} {
		em, err := NewEmitter(EmitterConfig{JS: js, Source: "test", SpoolDir: t.TempDir(), SpoolSegmentBytes: tt.segment})
		if err != nil {
			t.Fatal(err)
		}
		if em.packMax != tt.want {
			t.Errorf("segments of %d bytes: messages up to %d bytes, want %d", tt.segment, em.packMax, tt.want)
		}
		var batch []outgoing
		for i := range 100 {
			batch = append(batch, out("s.a", strconv.Itoa(i), strings.Repeat("x", 400)))
		}
		for _, m := range pack(batch, nil, em.packMax) {
			if err := em.spool.checkRecord(m.subject, m.id, *m.buf); err != nil {
				t.Errorf("segments of %d bytes: a packed message of %d bytes does not fit a record: %v", tt.segment, len(*m.buf), err)
			}
		}
		if err := em.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// Against a server whose max_payload is below MaxPackBytes, messages stay
// under it, and every outcome is stored.
func TestEmitterPacksForMaxPayload(t *testing.T) {
	srv := startServerOpts(t, &server.Options{StoreDir: t.TempDir(), Port: -1, MaxPayload: 16 << 10})
	t.Cleanup(srv.Shutdown)
	_, js := connectStreams(t, srv)
	em, err := NewEmitter(EmitterConfig{JS: js, Source: "test", Linger: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := runEmitter(t, em)
	for range 200 {
		if err := em.Emit(time.Now(), AuthOutcome{Action: ActionAccessGranted, User: "u", Path: "/" + strings.Repeat("p", 300)}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "200 published", func() bool { return em.Published() == 200 })
	stop()
	for m := range eventstest.Messages(t, js, StreamAuth) {
		if len(m.Data) > 16<<10-maxHeaderBytes {
			t.Fatalf("a message of %d bytes under a 16 KiB max_payload", len(m.Data))
		}
	}
	checkExactlyOnce(t, js, 200)
}

// A round packs what it finds queued and what comes during Linger into
// one message per action; the stream holds every outcome once.
func TestEmitterPacksARound(t *testing.T) {
	js, _ := publisherFixture(t, time.Minute)
	em, err := NewEmitter(EmitterConfig{JS: js, Source: "test", Linger: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := runEmitter(t, em)
	for i := range 100 {
		a := ActionAccessGranted
		if i%10 == 9 {
			a = ActionAccessDenied
		}
		if err := em.Emit(time.Now(), AuthOutcome{Action: a, User: "u"}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "100 published", func() bool { return em.Published() == 100 })
	stop()
	// The first outcome may have started a round of its own before the
	// others were queued; the rest came within its Linger.
	if n := authMsgs(t, js); n < 2 || n > 4 {
		t.Fatalf("AUTH holds %d messages for 100 outcomes of 2 actions, want 2 to 4", n)
	}
	checkExactlyOnce(t, js, 100)
}

// With Linger negative, a round takes only what is queued.
func TestEmitterNoLinger(t *testing.T) {
	js, _ := publisherFixture(t, time.Minute)
	em, err := NewEmitter(EmitterConfig{JS: js, Source: "test", Linger: -1})
	if err != nil {
		t.Fatal(err)
	}
	stop := runEmitter(t, em)
	for i := range 3 {
		if err := em.Emit(time.Now(), AuthOutcome{Action: ActionLogin, User: "u"}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "published", func() bool { return em.Published() == uint64(i+1) })
	}
	stop()
	if n := authMsgs(t, js); n != 3 {
		t.Fatalf("AUTH holds %d messages, want 3: one per round", n)
	}
	checkExactlyOnce(t, js, 3)
}

// runEmitter runs em until stop, which checks that Run returned nil.
func runEmitter(t *testing.T, em *Emitter) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- em.Run(ctx) }()
	return func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
}
