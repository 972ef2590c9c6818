package policy

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTestEmbedded(t *testing.T) {
	var out bytes.Buffer
	passed, failed, err := Test(context.Background(), "", &out)
	if err != nil || failed != 0 || passed < 10 {
		t.Fatalf("Test = %d passed, %d failed, %v\n%s", passed, failed, err, out.String())
	}
	for _, want := range []string{"data.portcullis.authz_test.test_default_deny: PASS", "PASS: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestTestReportsFailures(t *testing.T) {
	dir := writePolicy(t, map[string]string{"broken_test.rego": `package portcullis.broken_test

import data.portcullis.authz

test_superuser_denied if {
	d := authz.decision with input as {"user": {"roles": ["superuser"]}, "request": {"method": "GET", "path": "/", "kind": "content"}}
	d.allow == false
}

test_error if {
	1 / 0 == 1
}
`})
	var out bytes.Buffer
	passed, failed, err := Test(context.Background(), dir, &out)
	if err != nil {
		t.Fatalf("Test: %v", err)
	}
	if failed != 2 || passed < 10 {
		t.Errorf("Test = %d passed, %d failed; want 2 failed\n%s", passed, failed, out.String())
	}
	if !strings.Contains(out.String(), "test_superuser_denied: FAIL") {
		t.Errorf("output lacks the failure:\n%s", out.String())
	}
}

func TestTestErrors(t *testing.T) {
	noTests := t.TempDir()
	if err := os.WriteFile(filepath.Join(noTests, "authz.rego"), []byte("package portcullis.authz\ndecision := 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	broken := writePolicy(t, map[string]string{"x_test.rego": "package x\ntest_x if {"})
	for name, dir := range map[string]string{"no tests": noTests, "syntax error": broken, "missing": filepath.Join(noTests, "nope")} {
		if _, _, err := Test(context.Background(), dir, &bytes.Buffer{}); !errors.Is(err, ErrCompile) {
			t.Errorf("%s: Test = %v, want ErrCompile", name, err)
		}
	}
}
