package rego_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/portcullis/portcullis/policy"
)

// TestRegoTests runs the *_test.rego files of this package, as
// `portcullis policy test rego/` does.
func TestRegoTests(t *testing.T) {
	var out bytes.Buffer
	passed, failed, err := policy.Test(context.Background(), "", &out)
	if err != nil || failed > 0 || passed == 0 {
		t.Fatalf("%d passed, %d failed, %v\n%s", passed, failed, err, out.String())
	}
	t.Logf("%d Rego tests passed", passed)
}
