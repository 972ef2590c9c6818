package gateway

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/gateway/secret"
)

type loginRequest struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
}

// login is the codelibs POST /login: {"username","password"} →
// {"status":200,"token":"..."}. The token is answered once; only its digest
// is published.
func (g *Gateway) login(ctx *fasthttp.RequestCtx, now time.Time, r *request) {
	var req loginRequest
	body, err := readBodyLimit(ctx, maxLoginBody)
	if err == nil {
		err = decodeStrict(body, &req)
	}
	if err == nil && (req.Username == nil || *req.Username == "" || req.Password == nil) {
		err = badRequest("fields [username] and [password] are required")
	}
	if err != nil {
		writeError(ctx, err)
		return
	}
	user := *req.Username
	// As for Basic credentials (authenticateBasic): a locked user's
	// password is checked, uncached, and then refused.
	lock, locked := g.lockedOut(now, user)
	acc, reason := g.verifyPassword(ctx, now, user, *req.Password, !locked)
	if locked {
		lock, locked = g.lockedOut(now, user) // caught up meanwhile?
	}
	if reason == reasonBusy {
		writeError(ctx, errOverloaded)
		return
	}
	if reason != "" || locked {
		fail := basicFailure(r, user)
		if reason != "" {
			fail.realms = []events.RealmAttempt{{Realm: realmNative, Type: "native", Reason: reason}}
		}
		if reason == reasonWrongPassword {
			fail.tried(acc)
		}
		if locked {
			fail.realms = append(fail.realms, lock)
		}
		g.recordFailure(ctx, now, r, fail)
		writeUnauthorized(ctx, fail.reason)
		return
	}
	tok, sum, err := secret.NewToken()
	if err != nil {
		writeError(ctx, err)
		return
	}
	hexSum := secret.HexDigest(sum)
	ev, err := events.New(g.cfg.NodeID, events.TypeTokenIssued, acc.Username, now, events.TokenIssued{
		TokenHash: hexSum, Username: acc.Username, AccountUID: acc.UID, Epoch: acc.Epoch,
		IssuedAt: now.UTC(), ExpiresAt: now.Add(g.cfg.TokenTTL).UTC(),
	})
	if err == nil {
		err = g.appendAndWait(ctx, events.StreamTokens, events.TokensSubject(ev.Type), ev, nil)
	}
	if err != nil {
		g.cfg.Logger.ErrorContext(ctx, "login_token_not_issued", "request_id", r.requestID, "error", err)
		writeError(ctx, err)
		return
	}
	p := &principal{name: acc.Username, roles: acc.Roles, realm: realmNative, authType: authTypeRealm}
	o := p.outcome(r)
	o.Action, o.Outcome = events.ActionAuthenticationSuccess, "success"
	g.record(ctx, now, r, o)
	o.Action = events.ActionLogin
	g.record(ctx, now, r, o)
	_ = writeOK(ctx, map[string]any{"status": 200, "token": tok})
}

// logout is the codelibs POST /logout: the token that authenticated the
// request (parameter, eaid cookie or Bearer) is revoked on every replica.
func (g *Gateway) logout(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal) {
	if !p.byToken {
		writeError(ctx, badRequest("logout needs the login token (token parameter, eaid cookie or Bearer header)"))
		return
	}
	hexSum := secret.HexDigest(p.tokenSum)
	ev, err := events.New(g.cfg.NodeID, events.TypeTokenRevoked, p.name, now, events.TokenRevoked{
		TokenHash: hexSum, Username: p.name, Reason: "logout",
	})
	if err == nil {
		err = g.appendAndWait(ctx, events.StreamTokens, events.TokensSubject(ev.Type), ev, nil)
	}
	if err != nil {
		g.cfg.Logger.ErrorContext(ctx, "logout_not_recorded", "request_id", r.requestID, "error", err)
		writeError(ctx, err)
		return
	}
	o := p.outcome(r)
	o.Action, o.Outcome = events.ActionLogout, "success"
	g.record(ctx, now, r, o)
	// Clear the cookie in case the client keeps it in a browser.
	ctx.Response.Header.Add("Set-Cookie", "eaid=; Path=/; Max-Age=0; HttpOnly")
	_ = writeOK(ctx, map[string]any{"status": 200})
}
