package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/events"
)

// TestConcurrentRequestsKeepTheirOwnState: the request state is pooled
// (requestPool), so requests of different users, allowed, denied and
// failed, interleaved on many connections, must each be answered and
// recorded as their own: the status their user gets, the path and query
// they sent upstream, and an outcome with their user, path and id.
func TestConcurrentRequestsKeepTheirOwnState(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.RequestURI(), r.Header.Get("X-Opaque-Id"))
	}))
	defer up.Close()
	tg := newTestGateway(t, up.URL)
	resp := do(t, http.MethodPost, tg.url+"/login", strings.NewReader(`{"username":"admin","password":"admin-pw"}`), "")
	var login struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&login); err != nil || login.Token == "" {
		t.Fatalf("login: %d, %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	tg.out.reset() // the login's

	type kind struct {
		user, path string
		token      bool // admin's login token in the token parameter
		status     int
		action     string
	}
	// The last kind is sent only now and then.
	kinds := []kind{
		{user: "admin:admin-pw", path: "/secret/_search", status: http.StatusOK, action: events.ActionAccessGranted},
		{user: "reader:reader-pw", path: "/secret/_search", status: http.StatusForbidden, action: events.ActionAccessDenied},
		{user: "reader:reader-pw", path: "/data/_search", status: http.StatusOK, action: events.ActionAccessGranted},
		// A token left behind by the previous request would let this one in.
		{user: "admin:", path: "/secret/_search", token: true, status: http.StatusOK, action: events.ActionAccessGranted},
		{user: "", path: "/secret/_search", status: http.StatusUnauthorized, action: events.ActionAuthenticationFailed},
		{user: "reader:wrong", path: "/data/_search", status: http.StatusUnauthorized, action: events.ActionAuthenticationFailed},
	}
	const workers, perWorker = 8, 120
	type sent struct {
		k     kind
		query string
	}
	var (
		mu   sync.Mutex
		byID = map[string]sent{}
		wg   sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				k := kinds[(w+i)%(len(kinds)-1)]
				if i%30 == 29 {
					// A wrong password costs a hash verification: a few.
					k = kinds[len(kinds)-1]
				}
				id := fmt.Sprintf("w%d-%d", w, i)
				query := "q=" + id
				url, userpass := tg.url+k.path+"?"+query, k.user
				if k.token {
					url, userpass = url+"&token="+login.Token, ""
				}
				resp := do(t, http.MethodGet, url, nil, userpass, "X-Opaque-Id", id)
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Error(err)
					return
				}
				if resp.StatusCode != k.status {
					t.Errorf("%s %s as %s: status %d, want %d: %s", id, k.path, k.user, resp.StatusCode, k.status, body)
				}
				if k.status == http.StatusOK {
					if want := "GET " + k.path + "?" + query + " " + id; string(body) != want {
						t.Errorf("%s: upstream saw %q, want %q", id, body, want)
					}
				}
				mu.Lock()
				byID[id] = sent{k, query}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	tg.out.mu.Lock()
	defer tg.out.mu.Unlock()
	seen := map[string]bool{}
	for _, o := range tg.out.list {
		s, ok := byID[o.RequestID]
		if !ok {
			t.Errorf("an outcome of a request never sent: %+v", o)
			continue
		}
		if o.Action == events.ActionRealmAuthFailed && s.k.action == events.ActionAuthenticationFailed {
			// A failure is recorded twice: the realm's, then the request's.
			continue
		}
		if seen[o.RequestID] {
			t.Errorf("two outcomes for %s", o.RequestID)
		}
		seen[o.RequestID] = true
		user, _, _ := strings.Cut(s.k.user, ":")
		if o.Action != s.k.action || o.Path != s.k.path || o.Query != s.query {
			t.Errorf("%s: outcome %s %s?%s, want %s %s?%s", o.RequestID, o.Action, o.Path, o.Query, s.k.action, s.k.path, s.query)
		}
		if o.User != "" && o.User != user || o.Principal != user {
			t.Errorf("%s: outcome of user %q (principal %q), want %q", o.RequestID, o.User, o.Principal, user)
		}
	}
	if len(seen) != workers*perWorker {
		t.Errorf("%d requests recorded, want %d", len(seen), workers*perWorker)
	}
}
