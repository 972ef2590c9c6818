package ldaprealm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
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
	// "uid={0},ou=people,dc=example,dc=com". Tried in order. Required.
	UserDNTemplates []string
	// GroupSearchBaseDN is where the user's groups are searched (subtree),
	// bound as the user. Default "": no group search, hence no roles.
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
	if len(c.UserDNTemplates) == 0 {
		errs = append(errs, errors.New("authc.ldap.user_dn_templates: at least one template is required"))
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

// Option sets an optional part of a Realm.
type Option func(*Realm)

// WithClock sets the clock of Version; default time.Now.
func WithClock(now func() time.Time) Option { return func(r *Realm) { r.now = now } }

// Realm authenticates against one directory.
type Realm struct {
	cfg     Config
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

	conn, err := ldap.DialURL(r.cfg.URL, ldap.DialWithDialer(&net.Dialer{Timeout: r.cfg.Timeout}))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer conn.Close()
	conn.SetTimeout(r.cfg.Timeout)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

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
