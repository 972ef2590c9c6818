// Package filerealm is Elasticsearch's file realm: users and their bcrypt
// password hashes in a `users` file (`name:hash`, one a line), role
// membership in a `users_roles` file (`role:user1,user2`), both in the
// formats of Elasticsearch's config/users and config/users_roles, re-read
// when they change.
//
// It never logs a hash or a password, and a file that does not parse leaves
// the previous table in force.
package filerealm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Errors of Authenticate.
var (
	// ErrUnknownUser: the user is not in the users file ("not mine": the
	// next realm of the chain may know it).
	ErrUnknownUser = errors.New("unknown user")
	// ErrMismatch: the password is wrong.
	ErrMismatch = errors.New("invalid password")
	// ErrParse wraps every parse error.
	ErrParse = errors.New("file realm")
)

// Table is one parsed pair of files.
type Table struct {
	hashes map[string][]byte
	roles  map[string][]string
}

// Parse parses the contents of a users and a users_roles file. Blank lines
// and lines starting with '#' are skipped. Only bcrypt hashes ($2a$, $2b$,
// $2y$) are accepted.
func Parse(users, usersRoles []byte) (*Table, error) {
	t := &Table{hashes: map[string][]byte{}, roles: map[string][]string{}}
	err := lines(users, func(n int, line string) error {
		name, hash, ok := strings.Cut(line, ":")
		if !ok || !validName(name) {
			return fmt.Errorf("%w: users line %d: want name:hash", ErrParse, n)
		}
		if !strings.HasPrefix(hash, "$2a$") && !strings.HasPrefix(hash, "$2b$") && !strings.HasPrefix(hash, "$2y$") {
			return fmt.Errorf("%w: users line %d: user [%s]: only bcrypt hashes are supported", ErrParse, n, name)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return fmt.Errorf("%w: users line %d: user [%s]: malformed bcrypt hash", ErrParse, n, name)
		}
		if _, dup := t.hashes[name]; dup {
			return fmt.Errorf("%w: users line %d: user [%s] listed twice", ErrParse, n, name)
		}
		t.hashes[name] = []byte(hash)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = lines(usersRoles, func(n int, line string) error {
		role, list, ok := strings.Cut(line, ":")
		role = strings.TrimSpace(role)
		if !ok || !validName(role) {
			return fmt.Errorf("%w: users_roles line %d: want role:user1,user2", ErrParse, n)
		}
		for _, u := range strings.Split(list, ",") {
			u = strings.TrimSpace(u)
			if u == "" {
				continue
			}
			if !validName(u) {
				return fmt.Errorf("%w: users_roles line %d: invalid user name", ErrParse, n)
			}
			if !slices.Contains(t.roles[u], role) {
				t.roles[u] = append(t.roles[u], role)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, rs := range t.roles {
		slices.Sort(rs)
	}
	return t, nil
}

func lines(b []byte, f func(n int, line string) error) error {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := f(n, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrParse, err)
	}
	return nil
}

// validName: 1 to 507 printable ASCII characters without ':' or ',', as
// Elasticsearch's file realm tools accept.
func validName(s string) bool {
	if s == "" || len(s) > 507 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == ':' || c == ',' {
			return false
		}
	}
	return true
}

// Realm serves a Table reloaded from its files.
type Realm struct {
	usersPath, rolesPath string
	log                  *slog.Logger
	cur                  atomic.Pointer[Table]
	version              atomic.Uint64
	stamp                string
}

// New loads the two files. A missing users_roles file means no roles.
func New(usersPath, rolesPath string, log *slog.Logger) (*Realm, error) {
	if log == nil {
		log = slog.Default()
	}
	r := &Realm{usersPath: usersPath, rolesPath: rolesPath, log: log}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Realm) load() error {
	// The stamp is taken before the files are read: a change made while
	// they are read shows as a new stamp and is loaded on the next check.
	stamp := r.fileStamp()
	users, err := os.ReadFile(r.usersPath)
	if err != nil {
		return fmt.Errorf("file realm: %w", err)
	}
	var roles []byte
	if r.rolesPath != "" {
		roles, err = os.ReadFile(r.rolesPath)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("file realm: %w", err)
		}
	}
	t, err := Parse(users, roles)
	if err != nil {
		return err
	}
	r.cur.Store(t)
	r.version.Add(1)
	r.stamp = stamp
	return nil
}

// fileStamp identifies the files' current contents cheaply.
func (r *Realm) fileStamp() string {
	var b strings.Builder
	for _, p := range []string{r.usersPath, r.rolesPath} {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil {
			fmt.Fprintf(&b, "%d/%d/%s;", fi.Size(), fi.ModTime().UnixNano(), fi.Mode())
		} else {
			b.WriteString("missing;")
		}
	}
	return b.String()
}

// Version changes on every reload: cached verifications of an older
// version are stale.
func (r *Realm) Version() uint64 { return r.version.Load() }

// Roles returns the roles of user, and whether the user is in the file.
func (r *Realm) Roles(user string) ([]string, bool) {
	t := r.cur.Load()
	_, ok := t.hashes[user]
	return t.roles[user], ok
}

// Authenticate checks user's password with bcrypt (slow, constant-time).
func (r *Realm) Authenticate(user, pass string) ([]string, error) {
	t := r.cur.Load()
	hash, ok := t.hashes[user]
	if !ok {
		return nil, ErrUnknownUser
	}
	if err := bcrypt.CompareHashAndPassword(hash, []byte(pass)); err != nil {
		return nil, ErrMismatch
	}
	return t.roles[user], nil
}

// Run re-reads the files when they change (checked every interval, default
// 2s) until ctx ends. A change that does not parse is logged and the
// previous table stays.
func (r *Realm) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if r.fileStamp() == r.stamp {
			continue
		}
		stamp := r.fileStamp()
		if err := r.load(); err != nil {
			r.stamp = stamp // don't retry the same broken content
			r.log.ErrorContext(ctx, "file_realm_reload_failed", "error", err)
			continue
		}
		r.log.InfoContext(ctx, "file_realm_reloaded", "users", len(r.cur.Load().hashes))
	}
}
