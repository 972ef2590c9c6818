package auditor

import "testing"

func TestLastInStream(t *testing.T) {
	for _, tt := range []struct {
		reply string
		want  bool
	}{
		{"$JS.ACK.PORTCULLIS_AUTH.portcullis-auditor.1.2.3.1790000000000000000.0", true},
		{"$JS.ACK.PORTCULLIS_AUTH.portcullis-auditor.1.2.3.1790000000000000000.17", false},
		{"$JS.ACK.PORTCULLIS_AUTH.portcullis-auditor.1.2.3.1790000000000000000.10", false},
		{"$JS.ACK._.ACCHASH.PORTCULLIS_AUTH.portcullis-auditor.1.2.3.1790000000000000000.0.rand", true},
		{"$JS.ACK.hub.ACCHASH.PORTCULLIS_AUTH.portcullis-auditor.1.2.3.1790000000000000000.0", true},
		{"$JS.ACK.hub.ACCHASH.PORTCULLIS_AUTH.portcullis-auditor.1.2.3.1790000000000000000.5.rand", false},
		{"$JS.ACK._.ACCHASH.PORTCULLIS_AUTH.portcullis-auditor.1.2.3.1790000000000000000.0.rand.more", false}, // thirteen: unknown
		{"$JS.ACK.PORTCULLIS_AUTH.c.1.2.3.0", false},                                                          // too few tokens
		{"$JS.ACK.a.b.c.d.e.f.g.0", false},                                                                    // ten tokens: neither form
		{"_INBOX.x.y.z.a.b.c.d.0", false},                                                                     // not an acknowledgement subject
		{"", false},
	} {
		if got := lastInStream(tt.reply); got != tt.want {
			t.Errorf("lastInStream(%q) = %v, want %v", tt.reply, got, tt.want)
		}
	}
}
