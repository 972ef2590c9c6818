package gateway

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/gateway/canon"
	"github.com/portcullis/portcullis/gateway/ldaprealm"
	"github.com/portcullis/portcullis/gateway/secret"
	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/projector"
)

// Realm names, as Elasticsearch names its built-in realms.
const (
	realmNative = "default_native" // accounts, verified by password
	realmFile   = "default_file"   // the users file
	realmLDAP   = "ldap1"          // the LDAP directory, as Elasticsearch's docs name an ldap realm
	realmToken  = "_token"         // login tokens
	realmAPIKey = "_es_api_key"    // API keys, as Elasticsearch names the realm
	// realmAnonymous is Elasticsearch's realm of the anonymous user.
	realmAnonymous = "__anonymous"
)

// Authentication types, as Elasticsearch's authentication.type.
const (
	authTypeRealm  = "realm"
	authTypeToken  = "token"
	authTypeAPIKey = "api_key"
	// authTypeAnonymous is Elasticsearch's authentication.type of the anonymous user.
	authTypeAnonymous = "anonymous"
)

// principal is an authenticated user.
type principal struct {
	name     string
	roles    []string
	realm    string
	authType string
	tokenSum [32]byte // the login token's digest when authenticated by token
	byToken  bool
	// anonymous: no credentials, the configured anonymous user.
	anonymous bool
	// apiKeyID is the API key that authenticated the request, if any. Its
	// privileges are its owner's current roles intersected with keyRoles,
	// the policy roles of its role descriptors (none: the owner's alone).
	apiKeyID string
	keyRoles []string
	// limitedRoles, when not nil, are the policy roles of the snapshot of
	// the key owner's roles taken at the key's creation (built-in ones by
	// name, the others as APIKeyLimitedRoleName): they stand for the
	// owner's roles in every decision.
	limitedRoles []string
}

// policyUser is p for the policy. API key descriptor roles are granted only
// through keyRoles (authorize): one held as a user role, by a file realm
// user or an account created before the name was reserved, is dropped.
func (p *principal) policyUser() policy.User {
	if p.limitedRoles != nil {
		return policy.User{Name: p.name, Roles: p.limitedRoles, Realm: p.realm, AuthType: p.authType}
	}
	return policy.User{Name: p.name, Roles: userRoles(p.roles), Realm: p.realm, AuthType: p.authType}
}

// userRoles is roles without API key descriptor roles; it allocates only
// when there is one to drop.
func userRoles(roles []string) []string {
	for i, r := range roles {
		if policy.IsAPIKeyRole(r) {
			out := slices.Clone(roles[:i])
			for _, r := range roles[i+1:] {
				if !policy.IsAPIKeyRole(r) {
					out = append(out, r)
				}
			}
			return out
		}
	}
	return roles
}

// outcome is the auth outcome skeleton of a request by p.
func (p *principal) outcome(r *request) events.AuthOutcome {
	return events.AuthOutcome{
		Principal: p.name, User: p.name, Roles: p.roles, Realm: p.realm, AuthType: p.authType, APIKeyID: p.apiKeyID,
		Method: r.method, Path: r.path, Query: string(r.query), RequestID: r.requestID, SourceIP: r.sourceIP,
	}
}

// authFailure is why the realm chain refused a request.
type authFailure struct {
	// busy: the credentials could not be checked now (too many slow
	// hashes in progress); the answer is a 503, not a 401.
	busy   bool
	reason string // the 401 reason, Elasticsearch's wording
	// additional is Elasticsearch's additional_unsuccessful_credentials
	// ("API key: <why>"), shown with the reason; empty for none.
	additional string
	principal  string // the user name claimed, if any
	realms     []events.RealmAttempt
	// accountUID and accountEpoch: the native account a wrong password
	// was tried on (tried).
	accountUID   string
	accountEpoch uint64
}

// recordFailure records a refused authentication as Elasticsearch's audit
// trail does: one realm_authentication_failed per realm that failed, then
// authentication_failed listing them all.
func (g *Gateway) recordFailure(ctx context.Context, now time.Time, r *request, f *authFailure) {
	for _, a := range f.realms {
		g.record(ctx, now, r, events.AuthOutcome{
			Action: events.ActionRealmAuthFailed, Outcome: "failure", Reason: a.Reason,
			Principal: f.principal, Realm: a.Realm, Realms: []events.RealmAttempt{a},
		})
	}
	g.record(ctx, now, r, f.outcome(r))
}

func (f *authFailure) outcome(r *request) events.AuthOutcome {
	return events.AuthOutcome{
		Action: events.ActionAuthenticationFailed, Outcome: "failure", Reason: f.reason,
		Principal: f.principal, Realms: f.realms, Status: fasthttp.StatusUnauthorized,
		AccountUID: f.accountUID, AccountEpoch: f.accountEpoch,
	}
}

// Failure reasons of one realm, recorded per realm in the outcome.
const (
	reasonUnknownUser   = "unknown user"
	reasonWrongPassword = events.RealmReasonWrongPassword
	reasonEmptyPassword = "empty password"
	reasonBadHash       = "stored password hash is unusable"
	reasonDisabled      = "user is disabled"
	reasonBusy          = "too many password verifications in progress"
	reasonUnknownToken  = "token is unknown, expired or revoked"
	reasonMalformed     = "malformed credentials"
	reasonUnsupported   = "unsupported authentication scheme"
	reasonUnavailable   = "ldap server unavailable"
)

// authenticate runs the realm chain. The Authorization header wins; then
// the token parameter; then the eaid cookie. A presented credential that
// fails is a 401, never a fall-through to the next source: a client that
// sent credentials must learn that they are wrong.
func (g *Gateway) authenticate(ctx *fasthttp.RequestCtx, now time.Time, r *request) (*principal, *authFailure) {
	if h := ctx.Request.Header.Peek("Authorization"); len(h) > 0 {
		scheme, cred, err := canon.ParseAuthorization(h)
		if err != nil {
			return nil, &authFailure{
				reason: "unable to authenticate with provided credentials and anonymous access is not allowed for this request",
				realms: []events.RealmAttempt{{Realm: "authorization_header", Reason: reasonMalformed}},
			}
		}
		switch scheme {
		case "Basic":
			user, pass, err := canon.ParseBasic(cred)
			if err != nil {
				return nil, &authFailure{
					reason: "unable to authenticate with provided credentials and anonymous access is not allowed for this request",
					realms: []events.RealmAttempt{{Realm: realmNative, Type: "native", Reason: reasonMalformed}},
				}
			}
			return g.authenticateBasic(ctx, now, r, user, pass)
		case "Bearer":
			return g.authenticateToken(ctx, now, cred)
		case canon.SchemeAPIKey:
			return g.authenticateAPIKey(ctx, now, cred)
		default:
			return nil, &authFailure{
				reason: "unable to authenticate with provided credentials and anonymous access is not allowed for this request",
				realms: []events.RealmAttempt{{Realm: scheme, Reason: reasonUnsupported}},
			}
		}
	}
	if r.token != "" {
		return g.authenticateToken(ctx, now, r.token)
	}
	if c := ctx.Request.Header.Cookie("eaid"); len(c) > 0 {
		return g.authenticateToken(ctx, now, string(c))
	}
	if a := g.cfg.Anonymous; a != nil {
		return &principal{name: a.Username, roles: a.Roles, realm: realmAnonymous, authType: authTypeAnonymous, anonymous: true}, nil
	}
	return nil, &authFailure{reason: "missing authentication credentials for REST request [" + r.uri() + "]"}
}

// authenticateBasic verifies user and password against the account, from
// the cache when this exact credential was verified before for the
// account's current incarnation and password epoch. A user locked out
// (Config.Lockouts) is refused after the realms have answered, whatever
// they answered, so that neither the answer nor its delay tells a lock from
// a wrong password; the outcome tells the operator.
func (g *Gateway) authenticateBasic(ctx context.Context, now time.Time, r *request, user, pass string) (*principal, *authFailure) {
	// A locked user's password is checked without the Basic cache, as a
	// wrong one is: a right guess, cached, would answer fast.
	attempt, locked := g.lockedOut(now, user)
	p, fail := g.realmChain(ctx, now, r, user, pass, !locked)
	if locked {
		// The check may have caught the model up: a new password made on
		// another replica lifts the lock at once.
		attempt, locked = g.lockedOut(now, user)
	}
	if locked {
		if fail == nil {
			fail = basicFailure(r, user)
		}
		fail.realms = append(fail.realms, attempt)
		return nil, fail
	}
	return p, fail
}

// realmChain tries the password realms in order: the first that
// authenticates user wins.
//
// cached: a credential verified before may be served from the Basic cache
// (and one verified now is put there).
func (g *Gateway) realmChain(ctx context.Context, now time.Time, r *request, user, pass string, cached bool) (*principal, *authFailure) {
	var attempts []events.RealmAttempt
	var wrong *projector.Account // the native account a wrong password was tried on
	var found *principal         // uncached: every realm answers, as for a wrong password
	for _, realm := range g.cfg.RealmOrder {
		switch realm {
		case RealmNative:
			acc, reason := g.verifyPassword(ctx, now, user, pass, cached)
			if reason == "" {
				r.basic = principal{name: acc.Username, roles: acc.Roles, realm: realmNative, authType: authTypeRealm}
				if cached {
					return &r.basic, nil
				}
				found = cmp.Or(found, &r.basic)
				continue
			}
			if reason == reasonWrongPassword {
				wrong = acc
			}
			attempts = append(attempts, events.RealmAttempt{Realm: realmNative, Type: "native", Reason: reason})
		case RealmFile:
			if g.cfg.FileRealm == nil {
				continue
			}
			roles, reason := g.checkFile(ctx, now, user, pass, cached)
			if reason == "" {
				p := &principal{name: user, roles: roles, realm: realmFile, authType: authTypeRealm}
				if cached {
					return p, nil
				}
				found = cmp.Or(found, p)
				continue
			}
			attempts = append(attempts, events.RealmAttempt{Realm: realmFile, Type: "file", Reason: reason})
		case RealmLDAP:
			if g.cfg.LDAPRealm == nil {
				continue
			}
			roles, reason := g.checkLDAP(ctx, now, user, pass, cached)
			if reason == "" {
				p := &principal{name: user, roles: roles, realm: realmLDAP, authType: authTypeRealm}
				if cached {
					return p, nil
				}
				found = cmp.Or(found, p)
				continue
			}
			attempts = append(attempts, events.RealmAttempt{Realm: realmLDAP, Type: "ldap", Reason: reason})
		}
	}
	busy := false
	for _, a := range attempts {
		busy = busy || a.Reason == reasonBusy
	}
	// Uncached (a locked user), a realm that could not check the password
	// now answers as it would for a wrong one: a 503, whatever another
	// realm found.
	if found != nil && !busy {
		return found, nil
	}
	fail := basicFailure(r, user)
	fail.realms, fail.busy = attempts, busy
	fail.tried(wrong)
	return nil, fail
}

// tried records the native account a wrong password was tried on (nil:
// none), which the outcome names: what a lockout locks.
func (f *authFailure) tried(acc *projector.Account) {
	if acc != nil {
		f.accountUID, f.accountEpoch = acc.UID, acc.Epoch
	}
}

// basicFailure is the refusal of user's password.
func basicFailure(r *request, user string) *authFailure {
	return &authFailure{reason: "unable to authenticate user [" + user + "] for REST request [" + r.uri() + "]", principal: user}
}

// lockedOut tells whether user is locked out by repeated wrong passwords
// (Config.Lockouts), and then the attempt the outcome records. A lock
// holds for the account incarnation and password epoch it was set for (a
// user of another realm has none): a new password, or a new account of the
// name, is not locked by the old one's failures.
func (g *Gateway) lockedOut(now time.Time, user string) (events.RealmAttempt, bool) {
	if g.cfg.Lockouts == nil || !g.cfg.Lockouts.Any() {
		return events.RealmAttempt{}, false
	}
	var uid string
	var epoch uint64
	if acc, known := g.cfg.Projection.Model().Account(user); known {
		uid, epoch = acc.UID, acc.Epoch
	}
	l, ok := g.cfg.Lockouts.Locked(user, uid, epoch, now)
	if !ok {
		return events.RealmAttempt{}, false
	}
	return events.RealmAttempt{Realm: events.RealmLockout, Type: events.RealmLockout,
		Reason: "account locked until " + l.Until.UTC().Format(time.RFC3339)}, true
}

// checkFile verifies user and pass against the file realm, from the Basic
// cache when this credential was verified against the file's current
// version. It returns the user's roles, or the realm's failure reason.
func (g *Gateway) checkFile(ctx context.Context, now time.Time, user, pass string, cached bool) ([]string, string) {
	fr := g.cfg.FileRealm
	roles, known := fr.Roles(user)
	if !known {
		return nil, reasonUnknownUser
	}
	key := g.keyed.Sum("\x00file\x00"+user, pass)
	uid, version := "file:"+user, fr.Version()
	if cached && g.basic.valid(key, uid, version, now) {
		return roles, ""
	}
	var err error
	if g.slow(ctx, func() { roles, err = fr.Authenticate(user, pass) }) != nil {
		return nil, reasonBusy
	}
	if err != nil {
		return nil, reasonWrongPassword
	}
	if cached {
		g.basic.put(key, uid, version, now.Add(g.cfg.BasicCacheTTL))
	}
	return roles, ""
}

// checkLDAP verifies user and pass by binding to the directory, from the
// Basic cache when this credential was verified in the realm's current
// version (at most a minute ago, so that a change in the directory applies
// within a minute). It returns the user's roles, or the realm's failure
// reason. The bind is network I/O, not a hash: it does not take a slow-hash
// slot (a slow directory must not starve the native realm); the realm
// bounds its own concurrency and time.
func (g *Gateway) checkLDAP(ctx context.Context, now time.Time, user, pass string, cached bool) ([]string, string) {
	lr := g.cfg.LDAPRealm
	key := g.keyed.Sum("\x00ldap\x00"+user, pass)
	uid, version := "ldap:"+user, lr.Version()
	if roles, ok := lr.Roles(user); ok && cached && g.basic.valid(key, uid, version, now) {
		return roles, ""
	}
	if pass == "" {
		// Refused without asking the directory (an empty password is an
		// unauthenticated bind): it tells nothing of the user, so it is not
		// a wrong password a lockout counts.
		return nil, reasonEmptyPassword
	}
	roles, err := lr.Authenticate(ctx, user, pass)
	switch {
	case err == nil:
		if cached {
			g.basic.put(key, uid, version, now.Add(g.cfg.BasicCacheTTL))
		}
		return roles, ""
	case errors.Is(err, ldaprealm.ErrUnknownUser):
		return nil, reasonUnknownUser
	case errors.Is(err, ldaprealm.ErrMismatch):
		return nil, reasonWrongPassword
	default:
		g.cfg.Logger.WarnContext(ctx, "ldap_realm_unavailable", "error", err)
		return nil, reasonUnavailable
	}
}

// verifyPassword checks pass against user's account: reason is empty when
// it is the account's password, else the realm's reason. acc is the
// account checked, for a right password and for a wrong one (whose
// incarnation and epoch the outcome names); nil when there is none, or for
// a disabled account's right password. An account unknown here, or a
// password that does not match, may be a change made on another replica a
// moment ago: the projection catches up to the stream (bounded) and the
// check runs once more. cached is as for realmChain.
func (g *Gateway) verifyPassword(ctx context.Context, now time.Time, user, pass string, cached bool) (acc *projector.Account, reason string) {
	model := g.cfg.Projection.Model()
	before, _ := model.Account(user)
	acc, reason = g.checkPassword(ctx, now, user, pass, cached)
	if reason == "" && cached || reason == reasonBadHash || reason == reasonBusy {
		return acc, reason
	}
	// Uncached (a locked user), a right password goes on as a wrong one
	// does, so that neither tells the other by its time.
	if err := g.cfg.Projection.WaitForLatest(ctx, events.StreamState); err != nil {
		return acc, reason
	}
	// Verify again only if catching up changed the account: a wrong
	// password costs one slow hash, not two.
	if after, _ := model.Account(user); after == before {
		return acc, reason
	}
	return g.checkPassword(ctx, now, user, pass, cached)
}

// slow runs a password verification (argon2id: 19 MiB and tens of ms;
// bcrypt: tens of ms) under a bound on how many run at once, so that a flood
// of guesses cannot exhaust memory or CPU. A caller that waits longer than
// slowHashWait gets errBusy and f does not run.
func (g *Gateway) slow(ctx context.Context, f func()) error {
	t := time.NewTimer(slowHashWait)
	defer t.Stop()
	select {
	case g.hashSlots <- struct{}{}:
	case <-t.C:
		return errBusy
	case <-ctx.Done():
		return errBusy
	}
	defer func() { <-g.hashSlots }()
	f()
	return nil
}

// slowHash is slow for an argon2id verification.
func (g *Gateway) slowHash(ctx context.Context, hash, pass string) error {
	var err error
	if busy := g.slow(ctx, func() { err = secret.VerifyPassword(hash, pass) }); busy != nil {
		return busy
	}
	return err
}

const slowHashWait = 2 * time.Second

var errBusy = errors.New("too many password verifications in progress")

func (g *Gateway) checkPassword(ctx context.Context, now time.Time, user, pass string, cached bool) (*projector.Account, string) {
	acc, ok := g.cfg.Projection.Model().Account(user)
	if !ok {
		// Spend the time of a verification anyway, so that response time does
		// not tell which user names exist.
		if errors.Is(g.slowHash(ctx, dummyHash, pass), errBusy) {
			return nil, reasonBusy
		}
		return nil, reasonUnknownUser
	}
	key := g.keyed.Sum(user, pass)
	if cached && g.basic.valid(key, acc.UID, acc.Epoch, now) {
		if acc.Disabled {
			return nil, reasonDisabled
		}
		return acc, ""
	}
	switch err := g.slowHash(ctx, acc.PasswordHash, pass); {
	case errors.Is(err, errBusy):
		return nil, reasonBusy
	case err == nil:
		if cached {
			g.basic.put(key, acc.UID, acc.Epoch, now.Add(g.cfg.BasicCacheTTL))
		}
		if acc.Disabled {
			return nil, reasonDisabled
		}
		return acc, ""
	case errors.Is(err, secret.ErrMismatch):
		return acc, reasonWrongPassword
	default:
		return nil, reasonBadHash
	}
}

var dummyHash = func() string {
	h, err := secret.HashPassword("portcullis-timing-equaliser")
	if err != nil {
		panic(err)
	}
	return h
}()

// authenticateToken resolves a login token to its account. A token unknown
// here may have been issued on another replica a moment ago: the projection
// catches up to the stream (bounded) before the token is refused.
func (g *Gateway) authenticateToken(ctx context.Context, now time.Time, tok string) (*principal, *authFailure) {
	fail := &authFailure{
		reason: "unable to authenticate with provided credentials and anonymous access is not allowed for this request",
		realms: []events.RealmAttempt{{Realm: realmToken, Type: "token", Reason: reasonUnknownToken}},
	}
	if !canon.ValidToken(tok) {
		fail.realms[0].Reason = reasonMalformed
		return nil, fail
	}
	sum := secret.TokenDigest(tok)
	model := g.cfg.Projection.Model()
	at := now.Add(-g.cfg.TokenClockSkew) // expired only past the allowed skew
	acc, _, ok := model.ResolveToken(sum, at)
	if !ok {
		if err := g.cfg.Projection.WaitForLatest(ctx, events.StreamTokens); err == nil {
			acc, _, ok = model.ResolveToken(sum, at)
		}
	}
	if !ok {
		return nil, fail
	}
	return &principal{name: acc.Username, roles: acc.Roles, realm: realmToken, authType: authTypeToken, tokenSum: sum, byToken: true}, nil
}

// reasonCredentials is Elasticsearch's 401 reason when a token or API key
// did not authenticate.
const reasonCredentials = "unable to authenticate with provided credentials and anonymous access is not allowed for this request"

// authenticateAPIKey resolves an ApiKey credential (base64 "id:api_key") to
// the key's owner. A key unknown here may have been created on another
// replica a moment ago: the projection catches up to the stream (bounded)
// once before the key is refused. The secret is checked before the key's
// state is told, so that only its holder learns that it expired or was
// invalidated. The failure texts are Elasticsearch's.
func (g *Gateway) authenticateAPIKey(ctx context.Context, now time.Time, cred string) (*principal, *authFailure) {
	fail := func(principal, why string) (*principal, *authFailure) {
		return nil, &authFailure{reason: reasonCredentials, additional: "API key: " + why, principal: principal,
			realms: []events.RealmAttempt{{Realm: realmAPIKey, Type: realmAPIKey, Reason: why}}}
	}
	id, key, err := canon.ParseAPIKey(cred)
	if err != nil {
		return nil, &authFailure{reason: reasonCredentials,
			realms: []events.RealmAttempt{{Realm: realmAPIKey, Type: realmAPIKey, Reason: reasonMalformed}}}
	}
	model := g.cfg.Projection.Model()
	k, ok := model.APIKey(id)
	if !ok {
		if err := g.cfg.Projection.WaitForLatest(ctx, events.StreamState); err == nil {
			k, ok = model.APIKey(id)
		}
	}
	switch {
	case !ok:
		return fail("", "unable to find apikey with id "+id)
	case !secret.VerifyAPIKey(k.SecretHash, key):
		return fail(k.Username, "invalid credentials for API key ["+id+"]")
	case k.Invalidated:
		return fail(k.Username, "api key has been invalidated")
	case k.Expired(now, g.cfg.APIKeyClockSkew):
		return fail(k.Username, "api key is expired")
	}
	roles, active := g.ownerRoles(k)
	if !active {
		return fail(k.Username, "owner ["+k.Username+"] of api key ["+id+"] is deleted or disabled")
	}
	p := &principal{name: k.Username, roles: roles, realm: realmAPIKey, authType: authTypeAPIKey, apiKeyID: id}
	if k.Snapshot {
		// Elasticsearch's limited_by: the owner's roles as they were when
		// the key was created, not as they are now.
		p.roles = slices.Clone(k.LimitedByBuiltin)
		p.limitedRoles = make([]string, 0, len(k.LimitedByBuiltin)+len(k.LimitedBy))
		p.limitedRoles = append(p.limitedRoles, k.LimitedByBuiltin...)
		for _, r := range k.LimitedBy {
			p.roles = append(p.roles, r.Name)
			p.limitedRoles = append(p.limitedRoles, policy.APIKeyLimitedRoleName(id, r.Name))
		}
	}
	if len(k.Roles) > 0 {
		p.keyRoles = make([]string, len(k.Roles))
		for i, r := range k.Roles {
			p.keyRoles[i] = policy.APIKeyRoleName(id, r.Name)
		}
	}
	return p, nil
}

// ownerRoles returns the current roles of an API key's owner, and false
// when the owner no longer exists or is disabled: a key never outlives its
// owner's right to authenticate.
func (g *Gateway) ownerRoles(k *projector.APIKey) ([]string, bool) {
	if k.Realm == realmLDAP && k.Snapshot {
		// The directory cannot be asked without the user's password; the
		// snapshot taken when the user created the key limits it.
		return nil, true
	}
	if k.Realm == realmLDAP {
		// The directory is asked only with the user's password: an LDAP
		// user's key has no owner roles to resolve, and fails closed.
		return nil, false
	}
	if k.Realm == realmFile {
		if g.cfg.FileRealm == nil {
			return nil, false
		}
		return g.cfg.FileRealm.Roles(k.Username)
	}
	acc, ok := g.cfg.Projection.Model().Account(k.Username)
	if !ok || acc.Disabled {
		return nil, false
	}
	return acc.Roles, true
}

// basicCache maps the keyed digest of a verified credential to the account
// incarnation and password epoch it was verified for. An entry is valid only
// while the account still has that UID and epoch, so an account event
// (password change, deletion) invalidates it without any explicit purge.
// Sharded: no lock is shared by all requests.
type basicCache struct {
	shards [64]basicShard
}

type basicShard struct {
	mu sync.RWMutex
	m  map[[32]byte]basicEntry
}

type basicEntry struct {
	uid     string
	epoch   uint64
	expires time.Time
}

// maxBasicEntriesPerShard bounds the cache (64 × 4096 credentials).
const maxBasicEntriesPerShard = 4096

func newBasicCache() *basicCache {
	c := &basicCache{}
	for i := range c.shards {
		c.shards[i].m = make(map[[32]byte]basicEntry)
	}
	return c
}

func (c *basicCache) valid(key [32]byte, uid string, epoch uint64, now time.Time) bool {
	s := &c.shards[key[0]&63]
	s.mu.RLock()
	e, ok := s.m[key]
	s.mu.RUnlock()
	return ok && e.uid == uid && e.epoch == epoch && now.Before(e.expires)
}

func (c *basicCache) put(key [32]byte, uid string, epoch uint64, expires time.Time) {
	s := &c.shards[key[0]&63]
	s.mu.Lock()
	if len(s.m) >= maxBasicEntriesPerShard {
		for k := range s.m { // evict an arbitrary entry
			delete(s.m, k)
			break
		}
	}
	s.m[key] = basicEntry{uid: uid, epoch: epoch, expires: expires}
	s.mu.Unlock()
}

func joinRoles(roles []string) string { return strings.Join(roles, ",") }
