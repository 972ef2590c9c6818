package main

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/portcullis/portcullis/gateway/ldaprealm/ldaptest"
)

// TestLDAPRealm: users of a real OpenLDAP slapd (scripts/ldap-test-server)
// authenticate with Basic after the native and file realms and get the
// roles mapped from their groups; when the directory goes away the chain
// records why and moves on: native users still work, an LDAP user not
// verified within the last minute gets a 401 naming ldap1's reason.
func TestLDAPRealm(t *testing.T) {
	srv := ldaptest.Start(t)
	up := newUpstream(t)
	n := startNode(t, up, func(c *Config) {
		c.Authc.LDAP = LDAPRealmConfig{
			URL:             srv.URL,
			UserDNTemplates: []string{ldaptest.UserDNTemplate},
			GroupSearch:     LDAPGroupSearchConfig{BaseDN: ldaptest.GroupBaseDN},
			RoleMapping:     map[string][]string{ldaptest.OpsGroup: {"logs_reader"}},
			Timeout:         2 * time.Second,
		}
	})
	mustStatus(t, call(t, "POST", n.url+"/security/constraint/", `{"paths":["/logs"],"methods":["get"],"roles":["logs_reader"]}`, basic(elasticAuth)...), 200, "constraint")

	alice := "alice:" + ldaptest.AlicePassword
	mustStatus(t, call(t, "GET", n.url+"/logs/_search", "", basic(alice)...), 200, "ldap user with a mapped role")
	mustStatus(t, call(t, "GET", n.url+"/other", "", basic(alice)...), 403, "ldap user outside the role")
	r := call(t, "GET", n.url+"/_security/_authenticate", "", basic(alice)...)
	mustStatus(t, r, 200, "_authenticate")
	if !strings.Contains(string(r.Body), `"authentication_realm":{"name":"ldap1","type":"ldap"}`) || !strings.Contains(string(r.Body), `"roles":["logs_reader"]`) {
		t.Fatalf("_authenticate: %s", r.Body)
	}
	mustStatus(t, call(t, "GET", n.url+"/logs/_search", "", basic("alice:wrong")...), 401, "ldap user, wrong password")
	mustStatus(t, call(t, "GET", n.url+"/logs/_search", "", basic("alice:")...), 401, "ldap user, empty password")
	mustStatus(t, call(t, "GET", n.url+"/logs/_search", "", basic("mallory:x")...), 401, "unknown everywhere")

	// The directory goes away.
	srv.Stop()
	sub, err := n.app.nats.nc.SubscribeSync("portcullis.auth.>")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	mustStatus(t, call(t, "GET", n.url+"/x", "", basic(elasticAuth)...), 200, "native user, directory down")
	r = call(t, "GET", n.url+"/logs/_search", "", basic("bob:"+ldaptest.BobPassword)...)
	mustStatus(t, r, 401, "ldap user, directory down")
	if !strings.Contains(string(r.Body), "unable to authenticate user [bob]") {
		t.Fatalf("401 body: %s", r.Body)
	}
	// A verification of the last minute is served from the cache.
	mustStatus(t, call(t, "GET", n.url+"/logs/_search", "", basic(alice)...), 200, "cached ldap user, directory down")

	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := sub.NextMsg(time.Until(deadline))
		if err == nats.ErrTimeout || time.Now().After(deadline) {
			t.Fatal("no authentication_failed outcome for bob naming ldap1 within 10s")
		}
		if err != nil {
			t.Fatal(err)
		}
		d := string(m.Data)
		if strings.Contains(d, `"authentication_failed"`) && strings.Contains(d, `"bob"`) {
			if !strings.Contains(d, `{"realm":"ldap1","type":"ldap","reason":"ldap server unavailable"}`) ||
				!strings.Contains(d, `"realm":"default_native"`) {
				t.Fatalf("realms of the failure: %s", d)
			}
			break
		}
	}
}

// TestLDAPUserSearchTLS: the LDAP realm in user search mode over ldaps://
// with the directory's certificate verified against the configured CA; an
// LDAP user's API key works, limited by the roles the user had when
// creating it.
func TestLDAPUserSearchTLS(t *testing.T) {
	srv := ldaptest.StartTLS(t)
	up := newUpstream(t)
	n := startNode(t, up, func(c *Config) {
		c.Authc.LDAP = LDAPRealmConfig{
			URL:          srv.LDAPSURL,
			UserSearch:   LDAPUserSearchConfig{BaseDN: ldaptest.BaseDN},
			BindDN:       ldaptest.AdminDN,
			BindPassword: ldaptest.AdminPassword,
			SSL:          LDAPSSLConfig{CertificateAuthorities: []string{srv.CAFile}},
			GroupSearch:  LDAPGroupSearchConfig{BaseDN: ldaptest.GroupBaseDN},
			RoleMapping:  map[string][]string{ldaptest.OpsGroup: {"ldap_logs"}},
			Timeout:      2 * time.Second,
		}
	})
	su := basic(elasticAuth)
	mustStatus(t, call(t, "PUT", n.url+"/_security/role/ldap_logs", `{"cluster":["manage_own_api_key"],"indices":[{"names":["logs-*"],"privileges":["read"]}]}`, su...), 200, "role")
	alice := basic("alice:" + ldaptest.AlicePassword)
	mustStatus(t, call(t, "GET", n.url+"/logs-1/_search", "", alice...), 200, "ldap user found by search, over ldaps")
	mustStatus(t, call(t, "GET", n.url+"/other/_search", "", alice...), 403, "outside the role")
	mustStatus(t, call(t, "GET", n.url+"/logs-1/_search", "", basic("bob:"+ldaptest.BobPassword)...), 403, "bob: no mapped role")
	mustStatus(t, call(t, "GET", n.url+"/logs-1/_search", "", basic("alice:wrong")...), 401, "wrong password")

	r := call(t, "POST", n.url+"/_security/api_key", `{"name":"alice-key"}`, append(alice, "Content-Type", "application/json")...)
	mustStatus(t, r, 200, "ldap user creates a key")
	key := []string{"Authorization", "ApiKey " + r.json(t)["encoded"].(string)}
	mustStatus(t, call(t, "GET", n.url+"/logs-1/_search", "", key...), 200, "ldap user's key")
	mustStatus(t, call(t, "GET", n.url+"/other/_search", "", key...), 403, "ldap user's key outside the snapshot")
}
