package projector

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/portcullis/portcullis/events"
)

func TestFoldAccount(t *testing.T) {
	alice := &Account{UID: "u1", Username: "alice", PasswordHash: "h1", Roles: []string{"reader"}, Epoch: 1}
	alice3 := &Account{UID: "u1", Username: "alice", PasswordHash: "h1", Roles: []string{"reader"}, Epoch: 3}
	bad := newEvent(t, events.TypeAccountCreated, "alice", nil)
	bad.Data = json.RawMessage(`{"uid": 7}`)
	notJSON := newEvent(t, events.TypeAccountUpdated, "alice", nil)
	notJSON.Data = json.RawMessage(`{"uid":`)

	tests := []struct {
		name    string
		cur     *Account
		ev      events.Event
		want    *Account
		wantErr error
	}{
		{
			name: "created",
			ev:   accountCreated(t, "alice", "u1", "h1", "reader"),
			want: alice,
		},
		{
			name: "created with user API fields",
			ev: newEvent(t, events.TypeAccountCreated, "alice", events.AccountCreated{UID: "u1", Username: "alice", PasswordHash: "h1",
				Roles: []string{"reader"}, FullName: "Alice A.", Email: "a@example.com", Metadata: json.RawMessage(`{"k":1}`), Disabled: true}),
			want: &Account{UID: "u1", Username: "alice", PasswordHash: "h1", Roles: []string{"reader"}, Epoch: 1,
				FullName: "Alice A.", Email: "a@example.com", Metadata: []byte(`{"k":1}`), Disabled: true},
		},
		{
			name: "enabled, renamed, metadata replaced; password and roles kept",
			cur:  &Account{UID: "u1", Username: "alice", PasswordHash: "h1", Roles: []string{"reader"}, Epoch: 1, FullName: "A", Disabled: true},
			ev: newEvent(t, events.TypeAccountUpdated, "alice", events.AccountUpdated{UID: "u1", Username: "alice",
				FullName: ptr("Alice B."), Metadata: json.RawMessage(`{"k":2}`), Enabled: ptr(true)}),
			want: &Account{UID: "u1", Username: "alice", PasswordHash: "h1", Roles: []string{"reader"}, Epoch: 1,
				FullName: "Alice B.", Metadata: []byte(`{"k":2}`)},
		},
		{
			name:    "created over existing",
			cur:     alice,
			ev:      accountCreated(t, "alice", "u2", "h2"),
			want:    alice,
			wantErr: ErrInconsistent,
		},
		{
			name:    "created without uid",
			ev:      accountCreated(t, "alice", "", "h1"),
			wantErr: ErrMalformed,
		},
		{
			name: "password change moves the epoch",
			cur:  alice,
			ev:   accountUpdated(t, "alice", "u1", ptr("h2"), nil),
			want: &Account{UID: "u1", Username: "alice", PasswordHash: "h2", Roles: []string{"reader"}, Epoch: 2},
		},
		{
			name: "role change keeps the epoch",
			cur:  alice3,
			ev:   accountUpdated(t, "alice", "u1", nil, &[]string{"admin", "reader"}),
			want: &Account{UID: "u1", Username: "alice", PasswordHash: "h1", Roles: []string{"admin", "reader"}, Epoch: 3},
		},
		{
			name: "roles set to none",
			cur:  alice,
			ev:   accountUpdated(t, "alice", "u1", nil, &[]string{}),
			want: &Account{UID: "u1", Username: "alice", PasswordHash: "h1", Roles: []string{}, Epoch: 1},
		},
		{
			name:    "updated while missing",
			ev:      accountUpdated(t, "alice", "u1", ptr("h2"), nil),
			wantErr: ErrInconsistent,
		},
		{
			name:    "updated with another uid",
			cur:     alice,
			ev:      accountUpdated(t, "alice", "u9", ptr("h2"), nil),
			want:    alice,
			wantErr: ErrInconsistent,
		},
		{
			name:    "updated with another username",
			cur:     alice,
			ev:      accountUpdated(t, "bob", "u1", ptr("h2"), nil),
			want:    alice,
			wantErr: ErrInconsistent,
		},
		{
			name: "deleted",
			cur:  alice,
			ev:   accountDeleted(t, "alice", "u1"),
		},
		{
			name:    "deleted while missing",
			ev:      accountDeleted(t, "alice", "u1"),
			wantErr: ErrInconsistent,
		},
		{
			name:    "deleted with another uid",
			cur:     alice,
			ev:      accountDeleted(t, "alice", "u2"),
			want:    alice,
			wantErr: ErrInconsistent,
		},
		{
			name: "unknown type skipped",
			cur:  alice,
			ev:   newEvent(t, "portcullis.account.renamed.v9", "alice", map[string]string{"x": "y"}),
			want: alice,
		},
		{
			name: "event of another aggregate skipped",
			cur:  alice,
			ev:   constraintDeleted(t, "c1"),
			want: alice,
		},
		{
			name:    "wrong field type",
			ev:      bad,
			wantErr: ErrMalformed,
		},
		{
			name:    "payload not JSON",
			cur:     alice,
			ev:      notJSON,
			want:    alice,
			wantErr: ErrMalformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before Account
			if tt.cur != nil {
				before = *tt.cur
			}
			got, err := FoldAccount(tt.cur, tt.ev)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if tt.cur != nil && !reflect.DeepEqual(*tt.cur, before) {
				t.Errorf("cur modified: %+v, was %+v", *tt.cur, before)
			}
		})
	}
}

func TestFoldConstraint(t *testing.T) {
	c1 := &Constraint{ID: "c1", Paths: []string{"/logs"}, Methods: []string{"GET"}, Roles: []string{"reader"}}
	tests := []struct {
		name    string
		cur     *Constraint
		ev      events.Event
		want    *Constraint
		wantErr error
	}{
		{
			name: "created",
			ev:   constraintCreated(t, "c1", []string{"/logs"}, []string{"GET"}, []string{"reader"}),
			want: c1,
		},
		{
			name:    "created twice",
			cur:     c1,
			ev:      constraintCreated(t, "c1", []string{"/x"}, nil, nil),
			want:    c1,
			wantErr: ErrInconsistent,
		},
		{
			name:    "created without id",
			ev:      constraintCreated(t, "", []string{"/x"}, nil, nil),
			wantErr: ErrMalformed,
		},
		{
			name: "deleted",
			cur:  c1,
			ev:   constraintDeleted(t, "c1"),
		},
		{
			name:    "deleted while missing",
			ev:      constraintDeleted(t, "c1"),
			wantErr: ErrInconsistent,
		},
		{
			name:    "deleted with another id",
			cur:     c1,
			ev:      constraintDeleted(t, "c2"),
			want:    c1,
			wantErr: ErrInconsistent,
		},
		{
			name: "unknown type skipped",
			cur:  c1,
			ev:   newEvent(t, "portcullis.constraint.created.v2", "c1", map[string]int{"id": 1}),
			want: c1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FoldConstraint(tt.cur, tt.ev)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFoldRole(t *testing.T) {
	idx := events.IndexPrivileges{Names: []string{"logs-*"}, Privileges: []string{"read"}}
	r1 := &Role{Name: "r1", Cluster: []string{"monitor"}, Indices: []events.IndexPrivileges{idx}}
	r1b := &Role{Name: "r1", Cluster: []string{"manage_security"}}
	tests := []struct {
		name    string
		cur     *Role
		ev      events.Event
		want    *Role
		wantErr error
	}{
		{name: "put creates", ev: rolePut(t, "r1", []string{"monitor"}, idx), want: r1},
		{name: "put replaces", cur: r1, ev: rolePut(t, "r1", []string{"manage_security"}), want: r1b},
		{name: "put without name", ev: rolePut(t, "", nil), wantErr: ErrMalformed},
		{name: "put with another name", cur: r1, ev: rolePut(t, "r2", nil), want: r1, wantErr: ErrInconsistent},
		{name: "deleted", cur: r1, ev: roleDeleted(t, "r1")},
		{name: "deleted while missing", ev: roleDeleted(t, "r1"), wantErr: ErrInconsistent},
		{name: "deleted with another name", cur: r1, ev: roleDeleted(t, "r2"), want: r1, wantErr: ErrInconsistent},
		{name: "other type skipped", cur: r1, ev: constraintDeleted(t, "c1"), want: r1},
		{name: "unknown version skipped", cur: r1, ev: newEvent(t, "portcullis.role.put.v2", "r1", map[string]int{"name": 1}), want: r1},
		{
			name: "metadata kept",
			ev:   newEvent(t, events.TypeRolePut, "r1", events.RolePut{Name: "r1", Metadata: []byte(`{"a":1}`)}),
			want: &Role{Name: "r1", Metadata: []byte(`{"a":1}`)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FoldRole(tt.cur, tt.ev)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFoldToken(t *testing.T) {
	exp := t0.Add(time.Hour)
	tok := &Token{Hash: tokenHash("secret-1"), Username: "alice", AccountUID: "u1", Epoch: 2, ExpiresAt: exp}
	shortHash := newEvent(t, events.TypeTokenIssued, "x", events.TokenIssued{
		TokenHash: "abcd", Username: "alice", AccountUID: "u1", Epoch: 1, ExpiresAt: exp})
	notHex := newEvent(t, events.TypeTokenRevoked, "x", events.TokenRevoked{
		TokenHash: "zz" + tokenHex("a")[2:]})
	badTime := newEvent(t, events.TypeTokenIssued, "x", nil)
	badTime.Data = json.RawMessage(`{"token_hash":"` + tokenHex("a") + `","username":"alice","account_uid":"u1","epoch":1,"expires_at":"tomorrow"}`)
	negEpoch := newEvent(t, events.TypeTokenIssued, "x", nil)
	negEpoch.Data = json.RawMessage(`{"token_hash":"` + tokenHex("a") + `","username":"alice","account_uid":"u1","epoch":-1,"expires_at":"2026-03-01T13:00:00Z"}`)

	tests := []struct {
		name    string
		cur     *Token
		ev      events.Event
		want    *Token
		wantErr error
	}{
		{
			name: "issued",
			ev:   tokenIssuedEv(t, "secret-1", "alice", "u1", 2, exp),
			want: tok,
		},
		{
			name:    "issued twice",
			cur:     tok,
			ev:      tokenIssuedEv(t, "secret-1", "alice", "u1", 2, exp),
			want:    tok,
			wantErr: ErrInconsistent,
		},
		{
			name:    "issued without expiry",
			ev:      tokenIssuedEv(t, "secret-1", "alice", "u1", 2, time.Time{}),
			wantErr: ErrMalformed,
		},
		{
			name:    "issued without account uid",
			ev:      tokenIssuedEv(t, "secret-1", "alice", "", 2, exp),
			wantErr: ErrMalformed,
		},
		{
			name:    "hash not 32 bytes",
			ev:      shortHash,
			wantErr: ErrMalformed,
		},
		{
			name:    "hash not hex",
			cur:     tok,
			ev:      notHex,
			want:    tok,
			wantErr: ErrMalformed,
		},
		{
			name:    "expiry not a time",
			ev:      badTime,
			wantErr: ErrMalformed,
		},
		{
			name:    "negative epoch",
			ev:      negEpoch,
			wantErr: ErrMalformed,
		},
		{
			name: "revoked",
			cur:  tok,
			ev:   tokenRevokedEv(t, "secret-1"),
		},
		{
			name: "revoked while missing is a no-op",
			ev:   tokenRevokedEv(t, "secret-1"),
		},
		{
			name:    "revoked with another hash",
			cur:     tok,
			ev:      tokenRevokedEv(t, "secret-2"),
			want:    tok,
			wantErr: ErrInconsistent,
		},
		{
			name: "unknown type skipped",
			cur:  tok,
			ev:   newEvent(t, "portcullis.token.refreshed.v1", "x", map[string]string{}),
			want: tok,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FoldToken(tt.cur, tt.ev)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestChangeString(t *testing.T) {
	tests := []struct {
		c    Change
		want string
	}{
		{ChangeNone, "none"},
		{ChangeAccount, "account"},
		{ChangeAccount | ChangeToken, "account|token"},
		{ChangeAccount | ChangeConstraint | ChangeToken, "account|constraint|token"},
		{ChangeRole | ChangeConstraint, "constraint|role"},
		{ChangeAPIKey | ChangeRole, "role|apikey"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.c.String(); got != tt.want {
				t.Errorf("got %q", got)
			}
		})
	}
}
