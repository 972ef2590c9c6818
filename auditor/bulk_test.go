package auditor

import "testing"

func TestStreamPos(t *testing.T) {
	for _, tt := range []struct {
		reply string
		want  int
	}{
		{"$JS.ACK.PORTCULLIS_AUTH.portcullis-auditor.1.2.3.1790000000000000000.0", posLast},
		{"$JS.ACK.PORTCULLIS_AUTH.portcullis-auditor.1.2.3.1790000000000000000.17", posMore},
		{"$JS.ACK.PORTCULLIS_AUTH.portcullis-auditor.1.2.3.1790000000000000000.10", posMore},
		{"$JS.ACK._.ACCHASH.PORTCULLIS_AUTH.portcullis-auditor.1.2.3.1790000000000000000.0.rand", posLast},
		{"$JS.ACK.hub.ACCHASH.PORTCULLIS_AUTH.portcullis-auditor.1.2.3.1790000000000000000.0", posLast},
		{"$JS.ACK.hub.ACCHASH.PORTCULLIS_AUTH.portcullis-auditor.1.2.3.1790000000000000000.5.rand", posMore},
		{"$JS.ACK.hub.ACCHASH.PORTCULLIS_AUTH.portcullis-auditor.1.2.3.1790000000000000000.x.rand", posUnknown},
		{"$JS.ACK.PORTCULLIS_AUTH.portcullis-auditor.1.2.3.1790000000000000000.", posUnknown},
		{"$JS.ACK._.ACCHASH.PORTCULLIS_AUTH.portcullis-auditor.1.2.3.1790000000000000000.0.rand.more", posUnknown}, // thirteen tokens
		{"$JS.ACK.PORTCULLIS_AUTH.c.1.2.3.0", posUnknown},                                                          // too few tokens
		{"$JS.ACK.a.b.c.d.e.f.g.0", posUnknown},                                                                    // ten tokens: neither form
		{"_INBOX.x.y.z.a.b.c.d.0", posUnknown},                                                                     // not an acknowledgement subject
		{"", posUnknown},
	} {
		if got := streamPos(tt.reply); got != tt.want {
			t.Errorf("streamPos(%q) = %d, want %d", tt.reply, got, tt.want)
		}
	}
}
