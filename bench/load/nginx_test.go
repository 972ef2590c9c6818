package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The expected hashes are openssl passwd -apr1 -salt SALT PASSWORD.
func TestAPR1(t *testing.T) {
	tests := []struct{ password, salt, want string }{
		{"password", "saltsalt", "$apr1$saltsalt$yAAkm4libquA.ZWLHbSBq/"},
		{"bench-password-1", "x1y2", "$apr1$x1y2$NeWUqvC/EMWmo2iYS58ZR1"},
		{"password", "saltsaltTOOLONG", "$apr1$saltsalt$yAAkm4libquA.ZWLHbSBq/"},
	}
	for _, tt := range tests {
		if got := apr1(tt.password, tt.salt); got != tt.want {
			t.Errorf("apr1(%q, %q) = %q, want %q", tt.password, tt.salt, got, tt.want)
		}
	}
}

func TestWriteNginx(t *testing.T) {
	dir := t.TempDir()
	conf, err := writeNginx(nginxParams{Workers: 1, Dir: dir, Listen: "127.0.0.1:8081", Upstream: "127.0.0.1:8082",
		User: "bench", PasswordHash: "$apr1$x1y2$NeWUqvC/EMWmo2iYS58ZR1"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"worker_processes 1;",
		"listen 127.0.0.1:8081;",
		"server 127.0.0.1:8082;",
		"auth_basic_user_file " + dir + "/htpasswd;",
		"pid " + dir + "/nginx.pid;",
		`proxy_set_header Authorization "";`,
		"access_log off;",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("nginx.conf lacks %q:\n%s", want, b)
		}
	}
	pw, err := os.ReadFile(filepath.Join(dir, "htpasswd"))
	if err != nil {
		t.Fatal(err)
	}
	if string(pw) != "bench:$apr1$x1y2$NeWUqvC/EMWmo2iYS58ZR1\n" {
		t.Errorf("htpasswd = %q", pw)
	}
}
