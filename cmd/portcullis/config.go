package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/portcullis/portcullis/gateway"
	"github.com/portcullis/portcullis/lockout"
	"github.com/portcullis/portcullis/projector"
)

// Config is the root configuration: one YAML file (--config), then
// PORTCULLIS_* environment variables, then flags, each overriding the one
// before. docs/configuration.md lists every key; a test keeps it true.
type Config struct {
	// Listen is the gateway's address. Default 127.0.0.1:9200. Env PORTCULLIS_LISTEN, flag --listen.
	Listen string `yaml:"listen" env:"PORTCULLIS_LISTEN"`
	// Upstream lists the Elasticsearch nodes. Default http://127.0.0.1:9201. Env PORTCULLIS_UPSTREAM (comma separated), flag --upstream.
	Upstream []string `yaml:"upstream" env:"PORTCULLIS_UPSTREAM"`
	// DataDir holds the embedded JetStream store and the outcome spool. Default ./data. Env PORTCULLIS_DATA_DIR, flag --data-dir.
	DataDir string `yaml:"data_dir" env:"PORTCULLIS_DATA_DIR"`
	// TokenTTL is the lifetime of login tokens. Default 24h. Env PORTCULLIS_TOKEN_TTL, flag --token-ttl.
	TokenTTL time.Duration `yaml:"token_ttl" env:"PORTCULLIS_TOKEN_TTL"`
	// NodeID names this replica in events. Default: host name and a random suffix. Env PORTCULLIS_NODE_ID.
	NodeID string `yaml:"node_id" env:"PORTCULLIS_NODE_ID"`
	// BasicCacheTTL bounds how long a verified Basic credential is cached. Default 20m. Env PORTCULLIS_BASIC_CACHE_TTL.
	BasicCacheTTL time.Duration `yaml:"basic_cache_ttl" env:"PORTCULLIS_BASIC_CACHE_TTL"`
	// UpstreamTimeout bounds reading an Elasticsearch answer. Default 120s. Env PORTCULLIS_UPSTREAM_TIMEOUT.
	UpstreamTimeout time.Duration `yaml:"upstream_timeout" env:"PORTCULLIS_UPSTREAM_TIMEOUT"`
	// APIKeyClockSkew is how long past its expiration an API key still
	// authenticates, for clocks that drift between replicas. Default 0. Env PORTCULLIS_API_KEY_CLOCK_SKEW.
	APIKeyClockSkew time.Duration `yaml:"api_key_clock_skew" env:"PORTCULLIS_API_KEY_CLOCK_SKEW"`
	// APIKeyRetentionPeriod is how long an expired or invalidated API key is
	// kept, and listed by the get API key API, before every replica drops it
	// (Elasticsearch's xpack.security.authc.api_key.delete.retention_period).
	// At least 1s. Default 168h (7 days). Env PORTCULLIS_API_KEY_RETENTION_PERIOD.
	APIKeyRetentionPeriod time.Duration `yaml:"api_key_retention_period" env:"PORTCULLIS_API_KEY_RETENTION_PERIOD"`
	// TokenClockSkew is how long past its expiration a login token still
	// authenticates, for clocks that drift between replicas. Default 0. Env PORTCULLIS_TOKEN_CLOCK_SKEW.
	TokenClockSkew time.Duration `yaml:"token_clock_skew" env:"PORTCULLIS_TOKEN_CLOCK_SKEW"`

	NATS     NATSConfig     `yaml:"nats"`
	Spool    SpoolConfig    `yaml:"spool"`
	Snapshot SnapshotConfig `yaml:"snapshot"`
	Policy   PolicyConfig   `yaml:"policy"`
	Audit    AuditConfig    `yaml:"audit"`
	Authc    AuthcConfig    `yaml:"authc"`
	Log      LogConfig      `yaml:"log"`
	Debug    DebugConfig    `yaml:"debug"`
}

// AuthcConfig configures authentication, named as Elasticsearch's
// xpack.security.authc.
type AuthcConfig struct {
	// Order of the password realms for Basic credentials. Default [native, file], and ldap last when authc.ldap.url is set. Env PORTCULLIS_AUTHC_ORDER (comma separated).
	Order     stringList      `yaml:"order" env:"PORTCULLIS_AUTHC_ORDER"`
	File      FileRealmConfig `yaml:"file"`
	LDAP      LDAPRealmConfig `yaml:"ldap"`
	Anonymous AnonymousConfig `yaml:"anonymous"`
	Lockout   LockoutConfig   `yaml:"lockout"`
}

// LockoutConfig locks a user out after repeated wrong passwords (package
// lockout). Elasticsearch has no such thing, so it is off by default.
type LockoutConfig struct {
	// Threshold is how many wrong passwords within Window lock a user; 0 turns lockouts off. Default 0. Env PORTCULLIS_AUTHC_LOCKOUT_THRESHOLD.
	Threshold int `yaml:"threshold" env:"PORTCULLIS_AUTHC_LOCKOUT_THRESHOLD"`
	// Window is the span the wrong passwords must fall in. Default 5m. Env PORTCULLIS_AUTHC_LOCKOUT_WINDOW.
	Window time.Duration `yaml:"window" env:"PORTCULLIS_AUTHC_LOCKOUT_WINDOW"`
	// Duration is how long a lock lasts. Default 15m. Env PORTCULLIS_AUTHC_LOCKOUT_DURATION.
	Duration time.Duration `yaml:"duration" env:"PORTCULLIS_AUTHC_LOCKOUT_DURATION"`
	// MaxTracked bounds the user names with recent failures followed. Default 65536. Env PORTCULLIS_AUTHC_LOCKOUT_MAX_TRACKED.
	MaxTracked int `yaml:"max_tracked" env:"PORTCULLIS_AUTHC_LOCKOUT_MAX_TRACKED"`
}

// FileRealmConfig is Elasticsearch's file realm: its users and users_roles
// files, re-read when they change.
type FileRealmConfig struct {
	// Users file, `name:bcrypt-hash` a line; empty turns the realm off. Default empty. Env PORTCULLIS_AUTHC_FILE_USERS.
	Users string `yaml:"users" env:"PORTCULLIS_AUTHC_FILE_USERS"`
	// UsersRoles file, `role:user1,user2` a line. Default: users_roles beside Users. Env PORTCULLIS_AUTHC_FILE_USERS_ROLES.
	UsersRoles string `yaml:"users_roles" env:"PORTCULLIS_AUTHC_FILE_USERS_ROLES"`
}

// LDAPRealmConfig is Elasticsearch's LDAP realm (realm ldap1), in its
// user_dn_templates mode (users bind as a DN built from their name) or its
// user search mode (the realm finds the user's entry, then binds as it);
// the user's groups map to roles. A verification is cached for at most a
// minute.
type LDAPRealmConfig struct {
	// URL of the directory, ldap://host:port or ldaps://host:port; empty turns the realm off. Default empty. Env PORTCULLIS_AUTHC_LDAP_URL.
	URL string `yaml:"url" env:"PORTCULLIS_AUTHC_LDAP_URL"`
	// UserDNTemplates: the DNs a user binds as, {0} the user name, e.g. "uid={0},ou=people,dc=example,dc=com". This or user_search.base_dn is required with URL. YAML only (DNs hold commas).
	UserDNTemplates []string             `yaml:"user_dn_templates"`
	UserSearch      LDAPUserSearchConfig `yaml:"user_search"`
	// BindDN the realm binds as to search users and groups in user search mode. Default empty: anonymous. Env PORTCULLIS_AUTHC_LDAP_BIND_DN.
	BindDN string `yaml:"bind_dn" env:"PORTCULLIS_AUTHC_LDAP_BIND_DN"`
	// BindPassword of BindDN; a secret, never logged (prefer the environment). Default empty. Env PORTCULLIS_AUTHC_LDAP_BIND_PASSWORD.
	BindPassword string                `yaml:"bind_password" env:"PORTCULLIS_AUTHC_LDAP_BIND_PASSWORD"`
	SSL          LDAPSSLConfig         `yaml:"ssl"`
	GroupSearch  LDAPGroupSearchConfig `yaml:"group_search"`
	// RoleMapping maps a group DN to the roles of its members. Default none. YAML only.
	RoleMapping map[string][]string `yaml:"role_mapping"`
	// Timeout bounds connecting and each LDAP operation. Default 5s. Env PORTCULLIS_AUTHC_LDAP_TIMEOUT.
	Timeout time.Duration `yaml:"timeout" env:"PORTCULLIS_AUTHC_LDAP_TIMEOUT"`
}

// LDAPUserSearchConfig is the user search mode: the realm, bound as
// bind_dn, finds the user's entry under BaseDN.
type LDAPUserSearchConfig struct {
	// BaseDN searched for the user's entry; set, it turns user search mode on. Default empty. Env PORTCULLIS_AUTHC_LDAP_USER_SEARCH_BASE_DN.
	BaseDN string `yaml:"base_dn" env:"PORTCULLIS_AUTHC_LDAP_USER_SEARCH_BASE_DN"`
	// Filter of the user's entry, {0} the user name. Default "(uid={0})". Env PORTCULLIS_AUTHC_LDAP_USER_SEARCH_FILTER.
	Filter string `yaml:"filter" env:"PORTCULLIS_AUTHC_LDAP_USER_SEARCH_FILTER"`
	// Scope of the search: sub_tree, one_level or base. Default sub_tree. Env PORTCULLIS_AUTHC_LDAP_USER_SEARCH_SCOPE.
	Scope string `yaml:"scope" env:"PORTCULLIS_AUTHC_LDAP_USER_SEARCH_SCOPE"`
}

// LDAPSSLConfig verifies an ldaps:// directory's certificate.
type LDAPSSLConfig struct {
	// CertificateAuthorities: PEM files of the CAs the directory's certificate must chain to. Default: the system's. YAML only.
	CertificateAuthorities []string `yaml:"certificate_authorities"`
	// VerificationMode: full (chain and host name), certificate (chain only) or none. Default full. Env PORTCULLIS_AUTHC_LDAP_SSL_VERIFICATION_MODE.
	VerificationMode string `yaml:"verification_mode" env:"PORTCULLIS_AUTHC_LDAP_SSL_VERIFICATION_MODE"`
}

// LDAPGroupSearchConfig finds a user's groups.
type LDAPGroupSearchConfig struct {
	// BaseDN searched (subtree) for the user's groups. Default empty: no groups, no roles. Env PORTCULLIS_AUTHC_LDAP_GROUP_SEARCH_BASE_DN.
	BaseDN string `yaml:"base_dn" env:"PORTCULLIS_AUTHC_LDAP_GROUP_SEARCH_BASE_DN"`
	// Filter of the groups, {0} the user's DN. Default "(member={0})". Env PORTCULLIS_AUTHC_LDAP_GROUP_SEARCH_FILTER.
	Filter string `yaml:"filter" env:"PORTCULLIS_AUTHC_LDAP_GROUP_SEARCH_FILTER"`
}

// AnonymousConfig is Elasticsearch's xpack.security.authc.anonymous: with
// roles set, a request without credentials is the anonymous user instead of
// a 401.
type AnonymousConfig struct {
	// Username of the anonymous user. Default "_anonymous". Env PORTCULLIS_AUTHC_ANONYMOUS_USERNAME.
	Username string `yaml:"username" env:"PORTCULLIS_AUTHC_ANONYMOUS_USERNAME"`
	// Roles of the anonymous user (a list, or one string with commas); anonymous access is on when set. Default none: off. Env PORTCULLIS_AUTHC_ANONYMOUS_ROLES.
	Roles stringList `yaml:"roles" env:"PORTCULLIS_AUTHC_ANONYMOUS_ROLES"`
	// AuthzException: a denied anonymous request is a 403 (true) or a 401 asking for credentials (false). Default true. Env PORTCULLIS_AUTHC_ANONYMOUS_AUTHZ_EXCEPTION.
	AuthzException bool `yaml:"authz_exception" env:"PORTCULLIS_AUTHC_ANONYMOUS_AUTHZ_EXCEPTION"`
}

// stringList decodes from a YAML sequence or, as Elasticsearch's settings
// allow, one comma-separated string.
type stringList []string

// UnmarshalYAML accepts `[a, b]` and `a, b`.
func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = splitList(n.Value)
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

// AuditConfig configures the auditor, which writes audited outcomes into
// Elasticsearch (in-process under serve, or alone as `portcullis auditor`).
type AuditConfig struct {
	// Disabled turns the in-process auditor of serve off (run `portcullis auditor` elsewhere). Default false. Env PORTCULLIS_AUDIT_DISABLED.
	Disabled bool `yaml:"disabled" env:"PORTCULLIS_AUDIT_DISABLED"`
	// URL of the Elasticsearch that stores the audit indices. Default: the first upstream. Env PORTCULLIS_AUDIT_URL, flag --audit-url.
	URL string `yaml:"url" env:"PORTCULLIS_AUDIT_URL"`
	// Username and Password for an Elasticsearch with its own security. Default: none. Env PORTCULLIS_AUDIT_USERNAME, PORTCULLIS_AUDIT_PASSWORD.
	Username string `yaml:"username" env:"PORTCULLIS_AUDIT_USERNAME"`
	Password string `yaml:"password" env:"PORTCULLIS_AUDIT_PASSWORD"`
	// Actions audited; "_all" for every outcome. Default: the failures and denials and security_config_change. Env PORTCULLIS_AUDIT_ACTIONS (comma separated).
	Actions []string `yaml:"actions" env:"PORTCULLIS_AUDIT_ACTIONS"`
}

// NATSConfig selects the embedded server or an external cluster.
type NATSConfig struct {
	// URL of an external NATS cluster; empty runs the embedded server. Env PORTCULLIS_NATS_URL, flag --nats-url.
	URL string `yaml:"url" env:"PORTCULLIS_NATS_URL"`
	// Listen is the embedded server's client address, so that `nats sub 'portcullis.auth.>'` works; "off" (or "") takes in-process clients only. Default 127.0.0.1:4222. Env PORTCULLIS_NATS_LISTEN.
	Listen string `yaml:"listen" env:"PORTCULLIS_NATS_LISTEN"`
	// User of the embedded server's client port, and of the external cluster. Default "portcullis". Env PORTCULLIS_NATS_USER.
	User string `yaml:"user" env:"PORTCULLIS_NATS_USER"`
	// Password for User. Default: for the embedded server, one made on the first start, shown once, its bcrypt hash kept in the data dir; for an external cluster, none. Env PORTCULLIS_NATS_PASSWORD.
	Password string `yaml:"password" env:"PORTCULLIS_NATS_PASSWORD"`
	// Replicas of every stream. Default 1 (embedded); 3 in a cluster. Env PORTCULLIS_NATS_REPLICAS.
	Replicas int `yaml:"replicas" env:"PORTCULLIS_NATS_REPLICAS"`
	// AuthMaxAge is how long auth outcomes stay in the AUTH stream. Default 168h. Env PORTCULLIS_NATS_AUTH_MAX_AGE.
	AuthMaxAge time.Duration `yaml:"auth_max_age" env:"PORTCULLIS_NATS_AUTH_MAX_AGE"`
	// AuthMaxBytes bounds the AUTH stream's size; the oldest outcomes go first. Default 1 GiB, at least 1 MiB. Env PORTCULLIS_NATS_AUTH_MAX_BYTES.
	AuthMaxBytes int `yaml:"auth_max_bytes" env:"PORTCULLIS_NATS_AUTH_MAX_BYTES"`
}

// SpoolConfig configures the disk spool of the auth outcomes NATS cannot
// take (events.Emitter): written while NATS is unreachable, published from
// when it is back.
type SpoolConfig struct {
	// Dir of the spool's files, one process's own. Default <data_dir>/spool/auth. Env PORTCULLIS_SPOOL_DIR.
	Dir string `yaml:"dir" env:"PORTCULLIS_SPOOL_DIR"`
	// MaxBytes bounds the spool; when it is full, a request whose outcome finds no room is denied. Default 1073741824 (1 GiB). Env PORTCULLIS_SPOOL_MAX_BYTES.
	MaxBytes int `yaml:"max_bytes" env:"PORTCULLIS_SPOOL_MAX_BYTES"`
}

// spoolDir is the spool's directory: spool.dir, or <data_dir>/spool/auth.
func (c Config) spoolDir() string {
	if c.Spool.Dir != "" {
		return c.Spool.Dir
	}
	return filepath.Join(c.DataDir, "spool", "auth")
}

// SnapshotConfig configures the snapshots of the read model, kept in the
// object store bucket PORTCULLIS_SNAPSHOTS, that bound a replica's start:
// it loads the latest and replays only the events after it.
type SnapshotConfig struct {
	// Disabled turns snapshots off: every start replays both streams in full. Default false. Env PORTCULLIS_SNAPSHOT_DISABLED.
	Disabled bool `yaml:"disabled" env:"PORTCULLIS_SNAPSHOT_DISABLED"`
	// Every is how many events applied since the last snapshot make the next one due. Default 50000. Env PORTCULLIS_SNAPSHOT_EVERY.
	Every int `yaml:"every" env:"PORTCULLIS_SNAPSHOT_EVERY"`
	// Interval is the shortest time between two snapshots of one replica. Default 1m. Env PORTCULLIS_SNAPSHOT_INTERVAL.
	Interval time.Duration `yaml:"interval" env:"PORTCULLIS_SNAPSHOT_INTERVAL"`
}

// PolicyConfig locates the Rego policy.
type PolicyConfig struct {
	// Dir of .rego files replacing the built-in policy (rego/ of the repository). Default "": built in. Env PORTCULLIS_POLICY_DIR, flag --policy-dir.
	Dir string `yaml:"dir" env:"PORTCULLIS_POLICY_DIR"`
	// WatchInterval is how often the files of Dir are read for changes, which then take effect (as POST /_auth/reload); 0 turns the watch off. Default 2s. Env PORTCULLIS_POLICY_WATCH_INTERVAL.
	WatchInterval time.Duration `yaml:"watch_interval" env:"PORTCULLIS_POLICY_WATCH_INTERVAL"`
}

// LogConfig configures slog.
type LogConfig struct {
	// Level is debug, info, warn or error. Default info. Env PORTCULLIS_LOG_LEVEL.
	Level string `yaml:"level" env:"PORTCULLIS_LOG_LEVEL"`
	// Format is text or json. Default text. Env PORTCULLIS_LOG_FORMAT.
	Format string `yaml:"format" env:"PORTCULLIS_LOG_FORMAT"`
}

// DebugConfig configures what an operator diagnosing the process needs.
type DebugConfig struct {
	// PprofListen serves Go's runtime profiles (net/http/pprof: CPU, heap, goroutines, execution trace) under /debug/pprof/ on this loopback address, e.g. 127.0.0.1:6060. Default "": off. Env PORTCULLIS_DEBUG_PPROF_LISTEN.
	PprofListen string `yaml:"pprof_listen" env:"PORTCULLIS_DEBUG_PPROF_LISTEN"`
}

// defaultConfig has every documented default.
func defaultConfig() Config {
	return Config{
		Listen:                "127.0.0.1:9200",
		Upstream:              []string{"http://127.0.0.1:9201"},
		DataDir:               "./data",
		TokenTTL:              24 * time.Hour,
		BasicCacheTTL:         20 * time.Minute,
		UpstreamTimeout:       120 * time.Second,
		APIKeyRetentionPeriod: projector.DefaultAPIKeyRetention,
		NATS:                  NATSConfig{Listen: "127.0.0.1:4222", User: "portcullis", Replicas: 1, AuthMaxAge: 7 * 24 * time.Hour, AuthMaxBytes: 1 << 30},
		Spool:                 SpoolConfig{MaxBytes: 1 << 30},
		Snapshot:              SnapshotConfig{Every: projector.DefaultSnapshotEvery, Interval: projector.DefaultSnapshotInterval},
		Authc: AuthcConfig{Anonymous: AnonymousConfig{Username: "_anonymous", AuthzException: true},
			Lockout: LockoutConfig{Window: lockout.DefaultWindow, Duration: lockout.DefaultDuration, MaxTracked: lockout.DefaultMaxTracked}},
		Log:    LogConfig{Level: "info", Format: "text"},
		Policy: PolicyConfig{WatchInterval: 2 * time.Second},
	}
}

// loadConfig builds the configuration of `serve` from defaults, the YAML
// file, the environment and the flags, in that order, and validates it.
func loadConfig(args []string, getenv func(string) string) (Config, error) {
	return loadConfigFor("serve", args, getenv, nil)
}

// loadConfigFor is loadConfig for the subcommand name (serve, auditor,
// reset-password); extra adds the subcommand's own flags.
func loadConfigFor(name string, args []string, getenv func(string) string, extra func(*flag.FlagSet)) (Config, error) {
	cfg := defaultConfig()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if extra != nil {
		extra(fs)
	}
	file := fs.String("config", getenv("PORTCULLIS_CONFIG"), "YAML configuration `file` (env PORTCULLIS_CONFIG)")
	dataDir := fs.String("data-dir", "", "embedded JetStream store `dir` (default "+cfg.DataDir+")")
	natsURL := fs.String("nats-url", "", "external NATS `URL`; empty runs the embedded server")
	// The gateway's own flags, for the commands that run one; a tool
	// (reset-password, events tail) reads them only from the file or the
	// environment, and its -h lists what it uses.
	var listen, upstream, policyDir, auditURL *string
	var tokenTTL *time.Duration
	if name == "serve" || name == "auditor" {
		listen = fs.String("listen", "", "gateway listen `address` (default "+cfg.Listen+")")
		upstream = fs.String("upstream", "", "Elasticsearch node `URL[,URL...]` (default "+cfg.Upstream[0]+")")
		tokenTTL = fs.Duration("token-ttl", 0, "login token lifetime (default 24h)")
		policyDir = fs.String("policy-dir", "", "`dir` of .rego files replacing the built-in policy")
		auditURL = fs.String("audit-url", "", "Elasticsearch `URL` of the audit indices (default: the first upstream)")
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if *file != "" {
		b, err := os.ReadFile(*file)
		if err != nil {
			return Config{}, fmt.Errorf("read config: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return Config{}, fmt.Errorf("config %s: %w", *file, err)
		}
	}
	if err := applyEnv(&cfg, getenv); err != nil {
		return Config{}, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["listen"] {
		cfg.Listen = *listen
	}
	if set["upstream"] {
		cfg.Upstream = splitList(*upstream)
	}
	if set["data-dir"] {
		cfg.DataDir = *dataDir
	}
	if set["nats-url"] {
		cfg.NATS.URL = *natsURL
	}
	if set["token-ttl"] {
		cfg.TokenTTL = *tokenTTL
	}
	if set["policy-dir"] {
		cfg.Policy.Dir = *policyDir
	}
	if set["audit-url"] {
		cfg.Audit.URL = *auditURL
	}
	if cfg.Audit.URL == "" && len(cfg.Upstream) > 0 {
		cfg.Audit.URL = cfg.Upstream[0]
	}
	if strings.EqualFold(cfg.NATS.Listen, "off") {
		cfg.NATS.Listen = ""
	}
	return cfg, cfg.validate()
}

// applyEnv sets every field whose env tag names a set variable.
func applyEnv(cfg *Config, getenv func(string) string) error {
	var errs []error
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f, fv := t.Field(i), v.Field(i)
			if f.Type.Kind() == reflect.Struct {
				walk(fv)
				continue
			}
			name := f.Tag.Get("env")
			val := getenv(name)
			if name == "" || val == "" {
				continue
			}
			switch {
			case f.Type == reflect.TypeOf(time.Duration(0)):
				d, err := time.ParseDuration(val)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", name, err))
					continue
				}
				fv.SetInt(int64(d))
			case f.Type.Kind() == reflect.String:
				fv.SetString(val)
			case f.Type.Kind() == reflect.Bool:
				b, err := strconv.ParseBool(val)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", name, err))
					continue
				}
				fv.SetBool(b)
			case f.Type.Kind() == reflect.Int:
				n, err := strconv.Atoi(val)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", name, err))
					continue
				}
				fv.SetInt(int64(n))
			case f.Type.Kind() == reflect.Slice:
				fv.Set(reflect.ValueOf(splitList(val)).Convert(f.Type))
			}
		}
	}
	walk(reflect.ValueOf(cfg).Elem())
	return errors.Join(errs...)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// validate reports every problem at once, naming the key.
func (c Config) validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("listen: must not be empty"))
	}
	if len(c.Upstream) == 0 {
		errs = append(errs, errors.New("upstream: at least one Elasticsearch URL is required"))
	}
	if c.APIKeyClockSkew < 0 {
		errs = append(errs, fmt.Errorf("api_key_clock_skew: %s is negative", c.APIKeyClockSkew))
	}
	if l := c.Authc.Lockout; l.Threshold < 0 {
		errs = append(errs, fmt.Errorf("authc.lockout.threshold: %d is negative (0 turns lockouts off)", l.Threshold))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"authc.lockout.window", c.Authc.Lockout.Window}, {"authc.lockout.duration", c.Authc.Lockout.Duration}} {
		if d.v < time.Second {
			errs = append(errs, fmt.Errorf("%s: %s is shorter than 1s", d.key, d.v))
		}
	}
	if c.Authc.Lockout.MaxTracked < 1 {
		errs = append(errs, fmt.Errorf("authc.lockout.max_tracked: %d is less than 1", c.Authc.Lockout.MaxTracked))
	}
	if c.APIKeyRetentionPeriod < time.Second {
		errs = append(errs, fmt.Errorf("api_key_retention_period: %s is shorter than 1s", c.APIKeyRetentionPeriod))
	}
	if c.TokenClockSkew < 0 || c.TokenClockSkew > time.Hour {
		// The TOKENS stream keeps a token's events token_ttl + 1h: a token
		// honoured longer would be forgotten by a replica that restarts.
		errs = append(errs, fmt.Errorf("token_clock_skew: %s is not in 0..1h", c.TokenClockSkew))
	}
	if c.TokenTTL < time.Second {
		errs = append(errs, fmt.Errorf("token_ttl: %s is shorter than 1s", c.TokenTTL))
	}
	if c.NATS.URL == "" && c.DataDir == "" {
		errs = append(errs, errors.New("data_dir: required with the embedded NATS server"))
	}
	if c.Spool.Dir == "" && c.DataDir == "" {
		errs = append(errs, errors.New("spool.dir: required when data_dir is empty"))
	}
	if c.Spool.MaxBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("spool.max_bytes: %d is less than 1 MiB (1048576)", c.Spool.MaxBytes))
	}
	if c.Snapshot.Every < 1 {
		errs = append(errs, fmt.Errorf("snapshot.every: %d is not positive", c.Snapshot.Every))
	}
	if c.Snapshot.Interval < 0 {
		errs = append(errs, fmt.Errorf("snapshot.interval: %s is negative", c.Snapshot.Interval))
	}
	if c.Policy.WatchInterval < 0 {
		errs = append(errs, fmt.Errorf("policy.watch_interval: %s is negative (0 turns the watch off)", c.Policy.WatchInterval))
	}
	if c.NATS.AuthMaxBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("nats.auth_max_bytes: %d is less than 1 MiB (1048576)", c.NATS.AuthMaxBytes))
	}
	if c.NATS.User == internalNATSUser || c.NATS.User == "" {
		errs = append(errs, fmt.Errorf("nats.user: %q is not a user name this server can give", c.NATS.User))
	}
	if c.NATS.Replicas < 1 || c.NATS.Replicas > 5 {
		errs = append(errs, fmt.Errorf("nats.replicas: %d is not in 1..5", c.NATS.Replicas))
	}
	if c.Audit.URL != "" && !strings.HasPrefix(c.Audit.URL, "http://") && !strings.HasPrefix(c.Audit.URL, "https://") {
		errs = append(errs, fmt.Errorf("audit.url: %q is not an http:// or https:// URL", c.Audit.URL))
	}
	for _, r := range c.Authc.Order {
		if r == gateway.RealmLDAP && c.Authc.LDAP.URL == "" {
			errs = append(errs, errors.New("authc.ldap.url: required when authc.order names ldap"))
		}
	}
	if c.Debug.PprofListen != "" {
		if err := loopbackAddr(c.Debug.PprofListen); err != nil {
			errs = append(errs, fmt.Errorf("debug.pprof_listen: %w", err))
		}
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		errs = append(errs, fmt.Errorf("log.level: %w", err))
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		errs = append(errs, fmt.Errorf("log.format: %q is not text or json", c.Log.Format))
	}
	return errors.Join(errs...)
}

// loopbackAddr checks that addr is host:port with a loopback IP address
// (or localhost): the profiles show the process's code paths and
// workings and have no authentication of their own.
func loopbackAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address (127.0.0.1, ::1 or localhost)", addr)
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}
