package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/portcullis/portcullis/lockout"
)

// Config configures a Gateway. Every duration and size documents its
// default, applied by New when the field is zero.
type Config struct {
	// Listen is the address the gateway serves on. Default "127.0.0.1:9200".
	Listen string
	// Upstreams are the Elasticsearch nodes, as http:// or https:// URLs.
	// Required.
	Upstreams []string
	// NodeID names this replica in events. Required.
	NodeID string
	// TokenTTL is the lifetime of a login token. Default 24h.
	TokenTTL time.Duration
	// BasicCacheTTL bounds how long a verified Basic credential is served
	// from the cache before the slow hash runs again. Account events
	// invalidate entries at once regardless. Default 20m (as Elasticsearch's
	// cache.ttl).
	BasicCacheTTL time.Duration
	// APIKeyClockSkew is how long past its expiration an API key still
	// authenticates, for replicas whose clocks drift (Elasticsearch checks
	// expiration > now, no allowance). Default 0; negative is invalid.
	APIKeyClockSkew time.Duration
	// TokenClockSkew is how long past its expiration a login token still
	// authenticates, for replicas whose clocks drift (the projector keeps
	// tokens as long: projector.Config.ClockSkew). Default 0; negative is
	// invalid.
	TokenClockSkew time.Duration
	// UpstreamTimeout bounds one proxied exchange: writing the request and
	// reading the whole answer, streamed bodies included. Default 60s.
	UpstreamTimeout time.Duration
	// MaxConnsPerUpstream bounds the keep-alive pool of each node. Default 512.
	MaxConnsPerUpstream int
	// MaxManagementBody bounds the body of a management request (accounts,
	// constraints, login). Proxied bodies are streamed, not bounded. Default 1 MiB.
	MaxManagementBody int
	// ReadTimeout bounds reading a request's headers. Default 60s.
	ReadTimeout time.Duration
	// BodyReadTimeout bounds reading a request's body, streamed to
	// Elasticsearch (a large _bulk). Default 10m.
	BodyReadTimeout time.Duration
	// IdleTimeout closes idle keep-alive client connections. Default 90s.
	IdleTimeout time.Duration

	// Anonymous, when set, authenticates a request without credentials as
	// this user (Elasticsearch's xpack.security.authc.anonymous). Default
	// nil: such a request is a 401.
	Anonymous *Anonymous

	// RealmOrder is the order in which the password realms are tried for
	// Basic credentials (Elasticsearch's realm order). Default
	// [native, file] (add "ldap" to use LDAPRealm).
	RealmOrder []string
	// FileRealm, when set, is the file realm (filerealm.Realm).
	FileRealm FileRealm
	// LDAPRealm, when set, is the LDAP realm (ldaprealm.Realm). Default nil:
	// "ldap" in RealmOrder is skipped.
	LDAPRealm LDAPRealm
	// Lockouts, when set, refuses password authentication of a user that
	// repeated wrong passwords locked (lockout.Tracker), in every realm and
	// for /login. Default nil: no lockout.
	Lockouts Lockouts

	// Projection is the read model (projector.Projector). Required.
	Projection Projection
	// Policy decides requests (policy.Engine). Required.
	Policy Authorizer
	// Log appends state and token events (events.Log). Required.
	Log Appender
	// Outcomes records auth outcomes (events.Emitter). Required.
	Outcomes Recorder
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Metrics, when set, appends the rest of the process's metrics to
	// GET /_portcullis/metrics.
	Metrics MetricsSource
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:9200"
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = 24 * time.Hour
	}
	if c.BasicCacheTTL <= 0 {
		c.BasicCacheTTL = 20 * time.Minute
	}
	if c.UpstreamTimeout <= 0 {
		c.UpstreamTimeout = 60 * time.Second
	}
	if c.MaxConnsPerUpstream <= 0 {
		c.MaxConnsPerUpstream = 512
	}
	if c.MaxManagementBody <= 0 {
		c.MaxManagementBody = 1 << 20
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 60 * time.Second
	}
	if c.BodyReadTimeout <= 0 {
		c.BodyReadTimeout = 10 * time.Minute
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 90 * time.Second
	}
	if len(c.RealmOrder) == 0 {
		c.RealmOrder = []string{RealmNative, RealmFile}
	}
	if c.Anonymous != nil && c.Anonymous.Username == "" {
		c.Anonymous.Username = "_anonymous"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// validate reports every problem at once.
func (c *Config) validate() error {
	var errs []error
	if len(c.Upstreams) == 0 {
		errs = append(errs, errors.New("gateway.upstreams: at least one Elasticsearch URL is required"))
	}
	for _, u := range c.Upstreams {
		if _, err := parseUpstream(u); err != nil {
			errs = append(errs, fmt.Errorf("gateway.upstreams: %w", err))
		}
	}
	if c.NodeID == "" {
		errs = append(errs, errors.New("gateway: NodeID is required"))
	}
	if c.APIKeyClockSkew < 0 {
		errs = append(errs, fmt.Errorf("gateway.api_key_clock_skew: %s is negative", c.APIKeyClockSkew))
	}
	if c.TokenClockSkew < 0 {
		errs = append(errs, fmt.Errorf("gateway.token_clock_skew: %s is negative", c.TokenClockSkew))
	}
	for _, r := range c.RealmOrder {
		if r != RealmNative && r != RealmFile && r != RealmLDAP {
			errs = append(errs, fmt.Errorf("authc.order: unknown realm %q (native, file, ldap)", r))
		}
	}
	if c.Projection == nil || c.Policy == nil || c.Log == nil || c.Outcomes == nil {
		errs = append(errs, errors.New("gateway: Projection, Policy, Log and Outcomes are required"))
	}
	return errors.Join(errs...)
}

// Password realms of RealmOrder.
const (
	RealmNative = "native"
	RealmFile   = "file"
	RealmLDAP   = "ldap"
)

// FileRealm is a realm of users and roles kept in files.
type FileRealm interface {
	// Roles returns the roles of user and whether the realm knows it.
	Roles(user string) ([]string, bool)
	// Authenticate checks the password (slow); it returns the roles.
	Authenticate(user, pass string) ([]string, error)
	// Version changes whenever the files are reloaded.
	Version() uint64
}

// Lockouts tells which users are locked out by repeated wrong passwords.
type Lockouts interface {
	// Any tells whether some user may be locked; while not, Locked is
	// not asked (nor the account looked up).
	Any() bool
	// Locked returns user's lock in force at now for the account the name
	// names: its native account's incarnation and password epoch, or ""
	// and 0 for a user of another realm.
	Locked(user, uid string, epoch uint64, now time.Time) (lockout.Lock, bool)
}

// LDAPRealm is a realm of users in an LDAP directory.
type LDAPRealm interface {
	// Authenticate binds as user with pass (network I/O, bounded by the
	// realm's timeout) and returns the roles mapped from the user's groups.
	// It returns an error matching ldaprealm.ErrUnknownUser,
	// ldaprealm.ErrMismatch or, when the directory could not answer,
	// ldaprealm.ErrUnavailable.
	Authenticate(ctx context.Context, user, pass string) ([]string, error)
	// Roles returns the roles found by user's last successful Authenticate
	// within the current Version.
	Roles(user string) ([]string, bool)
	// Version changes at least every minute: cached verifications of an
	// older version are stale.
	Version() uint64
}

// Anonymous is the anonymous user, as Elasticsearch configures it.
type Anonymous struct {
	// Username; Elasticsearch's default is "_anonymous".
	Username string
	// Roles of the anonymous user; the policy grants what they grant.
	Roles []string
	// AuthzException: a denied anonymous request is a 403 (true, the
	// default in Elasticsearch) or a 401 with WWW-Authenticate (false), which
	// makes HTTP clients ask for credentials.
	AuthzException bool
}

type upstream struct {
	addr  string // host:port
	isTLS bool
	host  string // Host header
}

func parseUpstream(raw string) (upstream, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return upstream{}, fmt.Errorf("upstream %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return upstream{}, fmt.Errorf("upstream %q: scheme must be http or https", raw)
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return upstream{}, fmt.Errorf("upstream %q: want scheme://host:port with no path, query or credentials", raw)
	}
	addr := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			addr += ":443"
		} else {
			addr += ":80"
		}
	}
	return upstream{addr: addr, isTLS: u.Scheme == "https", host: u.Host}, nil
}
