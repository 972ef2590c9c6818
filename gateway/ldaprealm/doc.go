// Package ldaprealm is Elasticsearch's LDAP realm in its user_dn_templates
// mode: a user authenticates by binding to the directory as the DN built
// from a template and the user name, with the password given; the roles come
// from the groups found with that same connection, mapped by RoleMapping.
//
// It must never bind without a password (an unauthenticated bind succeeds on
// most servers and proves nothing), never log a password, and never treat a
// directory it cannot reach as a verdict on the credentials: that is
// ErrUnavailable, and the realm chain moves on.
package ldaprealm
