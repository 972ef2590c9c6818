package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(file, []byte("listen: 0.0.0.0:9300\ntoken_ttl: 2h\nupstream: [http://a:9200]\nnats:\n  replicas: 3\nlog:\n  format: json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig([]string{"--config", file, "--token-ttl", "5m"}, envOf(map[string]string{
		"PORTCULLIS_LISTEN":    "127.0.0.1:9400",
		"PORTCULLIS_UPSTREAM":  "http://b:9200, http://c:9200",
		"PORTCULLIS_TOKEN_TTL": "3h",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9400" { // env over file
		t.Errorf("listen = %q", cfg.Listen)
	}
	if cfg.TokenTTL != 5*time.Minute { // flag over env over file
		t.Errorf("token_ttl = %s", cfg.TokenTTL)
	}
	if !reflect.DeepEqual(cfg.Upstream, []string{"http://b:9200", "http://c:9200"}) {
		t.Errorf("upstream = %q", cfg.Upstream)
	}
	if cfg.NATS.Replicas != 3 || cfg.Log.Format != "json" { // file over defaults
		t.Errorf("file values lost: %+v", cfg)
	}
	if cfg.DataDir != "./data" { // default
		t.Errorf("data_dir = %q", cfg.DataDir)
	}
	if cfg.NATS.Listen != "127.0.0.1:4222" { // default: the client port on loopback
		t.Errorf("nats.listen = %q", cfg.NATS.Listen)
	}
	for _, off := range []string{"off", "OFF"} {
		if c, err := loadConfig(nil, envOf(map[string]string{"PORTCULLIS_NATS_LISTEN": off})); err != nil || c.NATS.Listen != "" {
			t.Errorf("nats.listen %s = %q, %v", off, c.NATS.Listen, err)
		}
	}
	if cfg.APIKeyRetentionPeriod != 7*24*time.Hour { // default, as Elasticsearch's
		t.Errorf("api_key_retention_period = %s", cfg.APIKeyRetentionPeriod)
	}
	cfg, err = loadConfig(nil, envOf(map[string]string{"PORTCULLIS_API_KEY_RETENTION_PERIOD": "36h"}))
	if err != nil || cfg.APIKeyRetentionPeriod != 36*time.Hour {
		t.Errorf("api_key_retention_period from the environment = %s, %v", cfg.APIKeyRetentionPeriod, err)
	}
}

// TestLoadConfigSpool: the spool lives under the data dir unless spool.dir
// says otherwise; its bound comes from the environment; too small or
// nowhere to live is refused.
func TestLoadConfigSpool(t *testing.T) {
	cfg, err := loadConfig([]string{"--data-dir", "/var/lib/p"}, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.spoolDir() != filepath.Join("/var/lib/p", "spool", "auth") || cfg.Spool.MaxBytes != 1<<30 {
		t.Errorf("spool dir %q, max %d; want /var/lib/p/spool/auth, 1 GiB", cfg.spoolDir(), cfg.Spool.MaxBytes)
	}
	cfg, err = loadConfig(nil, envOf(map[string]string{"PORTCULLIS_SPOOL_DIR": "/spool", "PORTCULLIS_SPOOL_MAX_BYTES": "2097152"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.spoolDir() != "/spool" || cfg.Spool.MaxBytes != 2<<20 {
		t.Errorf("spool dir %q, max %d; want /spool, 2 MiB", cfg.spoolDir(), cfg.Spool.MaxBytes)
	}
	_, err = loadConfig([]string{"--data-dir", "", "--nats-url", "nats://n:4222"}, envOf(map[string]string{"PORTCULLIS_SPOOL_MAX_BYTES": "1000"}))
	for _, w := range []string{"spool.dir", "spool.max_bytes"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("loadConfig = %v, want it to name %s", err, w)
		}
	}
}

func TestLoadConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(bad, []byte("listen: x\ncolour: red\n"), 0o600)
	cases := []struct {
		args []string
		env  map[string]string
		want []string
	}{
		{[]string{"--config", bad}, nil, []string{"colour"}},
		{[]string{"--config", filepath.Join(dir, "missing.yaml")}, nil, []string{"read config"}},
		{nil, map[string]string{"PORTCULLIS_TOKEN_TTL": "soon"}, []string{"PORTCULLIS_TOKEN_TTL"}},
		// Every problem at once, each naming its key.
		{[]string{"--token-ttl", "1ms", "--upstream", ""}, map[string]string{"PORTCULLIS_LOG_LEVEL": "loud"},
			[]string{"token_ttl", "upstream", "log.level"}},
		{[]string{"extra"}, nil, []string{"unexpected arguments"}},
		// A token honoured past the TOKENS stream's margin would be
		// forgotten by a replica that restarts.
		{nil, map[string]string{"PORTCULLIS_TOKEN_CLOCK_SKEW": "2h"}, []string{"token_clock_skew", "0..1h"}},
		{nil, map[string]string{"PORTCULLIS_TOKEN_CLOCK_SKEW": "-1s"}, []string{"token_clock_skew"}},
		{nil, map[string]string{"PORTCULLIS_API_KEY_RETENTION_PERIOD": "0s"}, []string{"api_key_retention_period", "shorter than 1s"}},
		{nil, map[string]string{"PORTCULLIS_NATS_USER": "_portcullis_internal"}, []string{"nats.user"}},
		{nil, map[string]string{"PORTCULLIS_AUTHC_LOCKOUT_THRESHOLD": "-1", "PORTCULLIS_AUTHC_LOCKOUT_WINDOW": "10ms", "PORTCULLIS_AUTHC_LOCKOUT_MAX_TRACKED": "0"},
			[]string{"authc.lockout.threshold: -1", "authc.lockout.window: 10ms", "authc.lockout.max_tracked: 0"}},
		{nil, map[string]string{"PORTCULLIS_NATS_AUTH_MAX_BYTES": "1000"}, []string{"nats.auth_max_bytes", "less than 1 MiB"}},
		// The profiles have no authentication: loopback only.
		{nil, map[string]string{"PORTCULLIS_DEBUG_PPROF_LISTEN": "0.0.0.0:6060"}, []string{"debug.pprof_listen", "not a loopback address"}},
		{nil, map[string]string{"PORTCULLIS_DEBUG_PPROF_LISTEN": "10.1.2.3:6060"}, []string{"debug.pprof_listen"}},
		{nil, map[string]string{"PORTCULLIS_DEBUG_PPROF_LISTEN": ":6060"}, []string{"debug.pprof_listen"}},
		{nil, map[string]string{"PORTCULLIS_DEBUG_PPROF_LISTEN": "6060"}, []string{"debug.pprof_listen"}},
	}
	for _, c := range cases {
		_, err := loadConfig(c.args, envOf(c.env))
		if err == nil {
			t.Errorf("loadConfig(%q, %v) succeeded", c.args, c.env)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("loadConfig(%q, %v) = %v, want it to name %q", c.args, c.env, err, w)
			}
		}
	}
}

// TestConfigurationDocumented keeps docs/configuration.md true: every YAML
// key and environment variable of Config is in it.
func TestConfigurationDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	var walk func(typ reflect.Type, prefix string)
	walk = func(typ reflect.Type, prefix string) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			key := prefix + f.Tag.Get("yaml")
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, key+".")
				continue
			}
			if !strings.Contains(string(doc), "`"+key+"`") {
				t.Errorf("docs/configuration.md lacks key %s", key)
			}
			if env := f.Tag.Get("env"); env != "" && !strings.Contains(string(doc), "`"+env+"`") {
				t.Errorf("docs/configuration.md lacks %s", env)
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "")
}

// TestLoadConfigLDAP: the LDAP realm's keys from YAML (role_mapping a map of
// group DN to roles), its scalars overridden by the environment, and ldap in
// authc.order without a URL refused.
func TestLoadConfigLDAP(t *testing.T) {
	file := filepath.Join(t.TempDir(), "portcullis.yaml")
	yml := `authc:
  order: [native, ldap]
  ldap:
    url: ldap://dir:389
    user_dn_templates: ["uid={0},ou=people,dc=example,dc=com"]
    group_search:
      base_dn: ou=groups,dc=example,dc=com
    role_mapping:
      "cn=ops,ou=groups,dc=example,dc=com": [logs_reader, ops]
`
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig([]string{"--config", file}, envOf(map[string]string{
		"PORTCULLIS_AUTHC_LDAP_URL": "ldaps://dir2:636", "PORTCULLIS_AUTHC_LDAP_GROUP_SEARCH_FILTER": "(uniqueMember={0})",
		"PORTCULLIS_AUTHC_LDAP_TIMEOUT": "3s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Authc.LDAP
	if l.URL != "ldaps://dir2:636" || l.GroupSearch.Filter != "(uniqueMember={0})" || l.Timeout != 3*time.Second ||
		l.GroupSearch.BaseDN != "ou=groups,dc=example,dc=com" || len(l.UserDNTemplates) != 1 ||
		strings.Join(l.RoleMapping["cn=ops,ou=groups,dc=example,dc=com"], ",") != "logs_reader,ops" ||
		strings.Join(cfg.Authc.Order, ",") != "native,ldap" {
		t.Fatalf("ldap config: %+v order %v", l, cfg.Authc.Order)
	}

	// User search mode, TLS, and the bind password from the environment.
	yml = `authc:
  ldap:
    url: ldaps://dir:636
    user_search: {base_dn: "dc=example,dc=com", filter: "(cn={0})", scope: one_level}
    bind_dn: "cn=svc,dc=example,dc=com"
    ssl: {certificate_authorities: [/etc/ca.pem], verification_mode: certificate}
`
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = loadConfig([]string{"--config", file}, envOf(map[string]string{"PORTCULLIS_AUTHC_LDAP_BIND_PASSWORD": "from-env"}))
	if err != nil {
		t.Fatal(err)
	}
	l = cfg.Authc.LDAP
	if l.UserSearch.BaseDN != "dc=example,dc=com" || l.UserSearch.Filter != "(cn={0})" || l.UserSearch.Scope != "one_level" ||
		l.BindDN != "cn=svc,dc=example,dc=com" || l.BindPassword != "from-env" ||
		strings.Join(l.SSL.CertificateAuthorities, ",") != "/etc/ca.pem" || l.SSL.VerificationMode != "certificate" {
		t.Fatalf("ldap user search config: %+v", l)
	}
	_, err = loadConfig(nil, envOf(map[string]string{"PORTCULLIS_AUTHC_ORDER": "native,ldap"}))
	if err == nil || !strings.Contains(err.Error(), "authc.ldap.url") {
		t.Fatalf("ldap in order without url: %v", err)
	}
}
