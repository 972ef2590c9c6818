package ldaprealm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Config configures a Realm. Every field documents its default.
type Config struct {
	// URL of the directory, ldap://host:port or ldaps://host:port. Required.
	URL string
	// UserDNTemplates build the DN a user binds as: {0} is replaced by the
	// user name, escaped as a DN value (RFC 4514), e.g.
	// "uid={0},ou=people,dc=example,dc=com". Tried in order. Either this
	// (user_dn_templates mode) or UserSearchBaseDN (user search mode) is
	// required, not both, as in Elasticsearch.
	UserDNTemplates []string
	// UserSearchBaseDN turns on Elasticsearch's user search mode: the
	// realm binds as BindDN (anonymously without one), searches
	// UserSearchFilter under it, then binds as the one entry found with
	// the user's password. Default "".
	UserSearchBaseDN string
	// UserSearchFilter finds the user's entry: {0} is replaced by the user
	// name, escaped as a filter value (RFC 4515). Default "(uid={0})".
	UserSearchFilter string
	// UserSearchScope is "sub_tree", "one_level" or "base". Default
	// "sub_tree".
	UserSearchScope string
	// BindDN and BindPassword are the realm's own credentials for user and
	// group searches in user search mode. Default "": anonymous. The
	// password is a secret: never logged.
	BindDN       string
	BindPassword string
	// CertificateAuthorities are PEM files of the CAs an ldaps:// server's
	// certificate must chain to. Default: the system's.
	CertificateAuthorities []string
	// VerificationMode of an ldaps:// server's certificate: "full" (chain
	// and host name), "certificate" (chain only) or "none" (nothing: tests
	// only). Default "full".
	VerificationMode string
	// GroupSearchBaseDN is where the user's groups are searched (subtree),
	// bound as the user (user_dn_templates mode) or as BindDN (user search
	// mode). Default "": no group search, hence no roles.
	GroupSearchBaseDN string
	// GroupSearchFilter finds the user's groups: {0} is replaced by the
	// user's DN, escaped as a filter value (RFC 4515). Default "(member={0})".
	GroupSearchFilter string
	// RoleMapping maps a group DN (compared as a DN, case-insensitively) to
	// the roles its members get. Default none.
	RoleMapping map[string][]string
	// Timeout bounds connecting and each LDAP operation. Default 5s.
	Timeout time.Duration
	// MaxConcurrent bounds the authentications in progress (one connection
	// each); one that waits longer than Timeout for a slot is ErrUnavailable.
	// Default 16.
	MaxConcurrent int
}

// Defaults of Config.
const (
	DefaultGroupSearchFilter = "(member={0})"
	DefaultUserSearchFilter  = "(uid={0})"
	DefaultTimeout           = 5 * time.Second
	DefaultMaxConcurrent     = 16
	// CacheBucket is the lifetime of a version (Version): the gateway's
	// Basic cache serves an LDAP verification for at most this long, so a
	// password changed or a group membership removed in the directory takes
	// effect within a minute.
	CacheBucket = time.Minute
)

func (c *Config) setDefaults() {
	if c.GroupSearchFilter == "" {
		c.GroupSearchFilter = DefaultGroupSearchFilter
	}
	if c.UserSearchFilter == "" {
		c.UserSearchFilter = DefaultUserSearchFilter
	}
	if c.UserSearchScope == "" {
		c.UserSearchScope = "sub_tree"
	}
	if c.VerificationMode == "" {
		c.VerificationMode = "full"
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = DefaultMaxConcurrent
	}
}

// validate reports every problem at once, naming the key.
func (c *Config) validate() error {
	var errs []error
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" {
		errs = append(errs, fmt.Errorf("authc.ldap.url: %q is not an ldap:// or ldaps:// URL", c.URL))
	}
	switch {
	case len(c.UserDNTemplates) == 0 && c.UserSearchBaseDN == "":
		errs = append(errs, errors.New("authc.ldap.user_dn_templates: at least one template is required (or authc.ldap.user_search.base_dn)"))
	case len(c.UserDNTemplates) > 0 && c.UserSearchBaseDN != "":
		errs = append(errs, errors.New("authc.ldap.user_search.base_dn: cannot be set together with authc.ldap.user_dn_templates"))
	}
	if c.UserSearchBaseDN != "" {
		if _, err := ldap.ParseDN(c.UserSearchBaseDN); err != nil {
			errs = append(errs, fmt.Errorf("authc.ldap.user_search.base_dn: %w", err))
		}
	}
	if !strings.Contains(c.UserSearchFilter, "{0}") {
		errs = append(errs, fmt.Errorf("authc.ldap.user_search.filter: %q has no {0}", c.UserSearchFilter))
	} else if _, err := ldap.CompileFilter(strings.ReplaceAll(c.UserSearchFilter, "{0}", "x")); err != nil {
		errs = append(errs, fmt.Errorf("authc.ldap.user_search.filter: %w", err))
	}
	if _, ok := scopes[c.UserSearchScope]; !ok {
		errs = append(errs, fmt.Errorf("authc.ldap.user_search.scope: %q is not sub_tree, one_level or base", c.UserSearchScope))
	}
	if c.BindDN != "" {
		if _, err := ldap.ParseDN(c.BindDN); err != nil {
			errs = append(errs, fmt.Errorf("authc.ldap.bind_dn: %w", err))
		}
	} else if c.BindPassword != "" {
		errs = append(errs, errors.New("authc.ldap.bind_password: set without authc.ldap.bind_dn"))
	}
	switch c.VerificationMode {
	case "full", "certificate", "none":
	default:
		errs = append(errs, fmt.Errorf("authc.ldap.ssl.verification_mode: %q is not full, certificate or none", c.VerificationMode))
	}
	for _, t := range c.UserDNTemplates {
		if !strings.Contains(t, "{0}") {
			errs = append(errs, fmt.Errorf("authc.ldap.user_dn_templates: %q has no {0}", t))
		} else if _, err := ldap.ParseDN(strings.ReplaceAll(t, "{0}", "x")); err != nil {
			errs = append(errs, fmt.Errorf("authc.ldap.user_dn_templates: %q: %w", t, err))
		}
	}
	if c.GroupSearchBaseDN != "" {
		if _, err := ldap.ParseDN(c.GroupSearchBaseDN); err != nil {
			errs = append(errs, fmt.Errorf("authc.ldap.group_search.base_dn: %w", err))
		}
	}
	if !strings.Contains(c.GroupSearchFilter, "{0}") {
		errs = append(errs, fmt.Errorf("authc.ldap.group_search.filter: %q has no {0}", c.GroupSearchFilter))
	} else if _, err := ldap.CompileFilter(strings.ReplaceAll(c.GroupSearchFilter, "{0}", "x")); err != nil {
		errs = append(errs, fmt.Errorf("authc.ldap.group_search.filter: %w", err))
	}
	for g := range c.RoleMapping {
		if _, err := ldap.ParseDN(g); err != nil {
			errs = append(errs, fmt.Errorf("authc.ldap.role_mapping: group %q: %w", g, err))
		}
	}
	return errors.Join(errs...)
}

// scopes are Elasticsearch's user_search.scope values.
var scopes = map[string]int{"sub_tree": ldap.ScopeWholeSubtree, "one_level": ldap.ScopeSingleLevel, "base": ldap.ScopeBaseObject}

// tlsConfig is the TLS configuration of an ldaps:// URL.
func (c *Config) tlsConfig() (*tls.Config, error) {
	u, _ := url.Parse(c.URL) // validated
	tc := &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	if len(c.CertificateAuthorities) > 0 {
		pool := x509.NewCertPool()
		for _, f := range c.CertificateAuthorities {
			pem, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("authc.ldap.ssl.certificate_authorities: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("authc.ldap.ssl.certificate_authorities: %s holds no PEM certificate", f)
			}
		}
		tc.RootCAs = pool
	}
	switch c.VerificationMode {
	case "none":
		tc.InsecureSkipVerify = true
	case "certificate":
		// The chain is verified, the host name is not.
		tc.InsecureSkipVerify = true
		roots := tc.RootCAs
		tc.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifyChain(raw, roots)
		}
	}
	return tc, nil
}

// verifyChain verifies a peer's certificate chain against roots (the
// system's when nil), whatever names it holds.
func verifyChain(raw [][]byte, roots *x509.CertPool) error {
	if len(raw) == 0 {
		return errors.New("ldap: the server sent no certificate")
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, b := range raw {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return fmt.Errorf("ldap: server certificate: %w", err)
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
		return fmt.Errorf("ldap: server certificate: %w", err)
	}
	return nil
}

// Option sets an optional part of a Realm.
type Option func(*Realm)

// WithClock sets the clock of Version; default time.Now.
func WithClock(now func() time.Time) Option { return func(r *Realm) { r.now = now } }

// Realm authenticates against one directory.
type Realm struct {
	cfg     Config
	tls     *tls.Config // for ldaps://
	now     func() time.Time
	mapping []mapped
	slots   chan struct{}

	mu     sync.Mutex // guards bucket and roles
	bucket uint64
	roles  map[string][]string // user → roles, verified in bucket
}

type mapped struct {
	group *ldap.DN
	roles []string
}

// maxRolesEntries bounds the roles remembered in one bucket.
const maxRolesEntries = 1 << 16

// New validates cfg.
func New(cfg Config, opts ...Option) (*Realm, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &Realm{cfg: cfg, now: time.Now, slots: make(chan struct{}, cfg.MaxConcurrent), roles: map[string][]string{}}
	if strings.HasPrefix(cfg.URL, "ldaps://") {
		tc, err := cfg.tlsConfig()
		if err != nil {
			return nil, err
		}
		r.tls = tc
	}
	for _, o := range opts {
		o(r)
	}
	for g, roles := range cfg.RoleMapping {
		dn, _ := ldap.ParseDN(g) // validated
		r.mapping = append(r.mapping, mapped{group: dn, roles: slices.Clone(roles)})
	}
	return r, nil
}

// Version is the current time bucket (CacheBucket): cached verifications of
// an older version are stale.
func (r *Realm) Version() uint64 { return uint64(r.now().UnixNano() / int64(CacheBucket)) }

// Roles returns the roles of user found by its last successful
// Authenticate, and whether there was one in the current Version.
func (r *Realm) Roles(user string) ([]string, bool) {
	v := r.Version()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bucket != v {
		return nil, false
	}
	roles, ok := r.roles[user]
	return roles, ok
}

func (r *Realm) remember(user string, roles []string) {
	v := r.Version()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bucket != v || len(r.roles) >= maxRolesEntries {
		r.bucket, r.roles = v, map[string][]string{}
	}
	r.roles[user] = roles
}

// Authenticate binds as user with pass and returns the roles mapped from the
// user's groups. Errors: ErrMismatch (wrong or empty password),
// ErrUnknownUser (no template names an existing entry), or ErrUnavailable
// wrapping why the directory could not answer.
func (r *Realm) Authenticate(ctx context.Context, user, pass string) ([]string, error) {
	if user == "" {
		return nil, ErrUnknownUser
	}
	if pass == "" {
		// An empty password is an unauthenticated bind (RFC 4513 5.1.2),
		// which servers accept for any DN: it must never authenticate.
		return nil, ErrMismatch
	}
	wait := time.NewTimer(r.cfg.Timeout)
	defer wait.Stop()
	select {
	case r.slots <- struct{}{}:
	case <-wait.C:
		return nil, fmt.Errorf("%w: too many ldap authentications in progress", ErrUnavailable)
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
	defer func() { <-r.slots }()

	opts := []ldap.DialOpt{ldap.DialWithDialer(&net.Dialer{Timeout: r.cfg.Timeout})}
	if r.tls != nil {
		opts = append(opts, ldap.DialWithTLSConfig(r.tls))
	}
	conn, err := ldap.DialURL(r.cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer conn.Close()
	conn.SetTimeout(r.cfg.Timeout)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	if r.cfg.UserSearchBaseDN != "" {
		return r.searchAndBind(conn, user, pass)
	}
	known := false
	for _, t := range r.cfg.UserDNTemplates {
		dn := strings.ReplaceAll(t, "{0}", ldap.EscapeDN(user))
		err := conn.Bind(dn, pass)
		switch {
		case err == nil:
			roles, err := r.groups(conn, dn)
			if err != nil {
				return nil, err
			}
			r.remember(user, roles)
			return roles, nil
		case ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials):
			// Servers answer a bind to a missing entry as to a wrong
			// password; look (anonymously) whether the entry exists.
			exists, err := entryExists(conn, dn)
			if err != nil {
				return nil, err
			}
			known = known || exists
		case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject), ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidDNSyntax):
		default:
			return nil, fmt.Errorf("%w: bind: %w", ErrUnavailable, err)
		}
	}
	if known {
		return nil, ErrMismatch
	}
	return nil, ErrUnknownUser
}

// searchAndBind is the user search mode: find the user's entry as the
// realm's bind DN, bind as it with pass, then search the groups as the
// realm again.
func (r *Realm) searchAndBind(conn *ldap.Conn, user, pass string) ([]string, error) {
	if err := r.bindRealm(conn); err != nil {
		return nil, err
	}
	filter := strings.ReplaceAll(r.cfg.UserSearchFilter, "{0}", ldap.EscapeFilter(user))
	res, err := conn.Search(ldap.NewSearchRequest(r.cfg.UserSearchBaseDN, scopes[r.cfg.UserSearchScope], ldap.NeverDerefAliases,
		2, int(r.cfg.Timeout/time.Second), false, filter, []string{"1.1"}, nil))
	switch {
	case err != nil && ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		// More than one entry: Elasticsearch refuses an ambiguous user.
		return nil, ErrUnknownUser
	case err != nil && ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return nil, ErrUnknownUser
	case err != nil:
		return nil, fmt.Errorf("%w: user search: %w", ErrUnavailable, err)
	case len(res.Entries) != 1:
		return nil, ErrUnknownUser
	}
	dn := res.Entries[0].DN
	if err := conn.Bind(dn, pass); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return nil, ErrMismatch
		}
		return nil, fmt.Errorf("%w: bind: %w", ErrUnavailable, err)
	}
	if err := r.bindRealm(conn); err != nil {
		return nil, err
	}
	roles, err := r.groups(conn, dn)
	if err != nil {
		return nil, err
	}
	r.remember(user, roles)
	return roles, nil
}

// bindRealm binds conn as the realm's bind DN, or anonymously without one.
func (r *Realm) bindRealm(conn *ldap.Conn) error {
	var err error
	if r.cfg.BindDN == "" {
		err = conn.UnauthenticatedBind("")
	} else {
		err = conn.Bind(r.cfg.BindDN, r.cfg.BindPassword)
	}
	if err != nil {
		// The realm's own credentials are wrong or the directory refuses
		// them: no user can be verified, which is not the user's fault.
		return fmt.Errorf("%w: bind as the realm's bind_dn: %w", ErrUnavailable, err)
	}
	return nil
}

// entryExists tells whether dn names an entry, searched on conn as it is
// bound (anonymous after a failed bind). A directory that hides entries from
// anonymous searches makes every failed bind an unknown user: both are
// failures, only the recorded reason differs.
func entryExists(conn *ldap.Conn, dn string) (bool, error) {
	res, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"1.1"}, nil))
	switch {
	case err == nil:
		return len(res.Entries) > 0, nil
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject), ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights):
		return false, nil
	default:
		return false, fmt.Errorf("%w: search: %w", ErrUnavailable, err)
	}
}

// groups searches the groups of userDN, bound as the user, and maps them
// to roles (sorted, without duplicates).
func (r *Realm) groups(conn *ldap.Conn, userDN string) ([]string, error) {
	if r.cfg.GroupSearchBaseDN == "" {
		return nil, nil
	}
	filter := strings.ReplaceAll(r.cfg.GroupSearchFilter, "{0}", ldap.EscapeFilter(userDN))
	res, err := conn.Search(ldap.NewSearchRequest(r.cfg.GroupSearchBaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, int(r.cfg.Timeout/time.Second), false, filter, []string{"1.1"}, nil))
	if err != nil {
		return nil, fmt.Errorf("%w: group search: %w", ErrUnavailable, err)
	}
	var roles []string
	for _, e := range res.Entries {
		dn, err := ldap.ParseDN(e.DN)
		if err != nil {
			continue
		}
		for _, m := range r.mapping {
			if m.group.EqualFold(dn) {
				roles = append(roles, m.roles...)
			}
		}
	}
	slices.Sort(roles)
	return slices.Compact(roles), nil
}
