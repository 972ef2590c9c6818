package policy_test

import (
	"context"
	"fmt"

	"github.com/portcullis/portcullis/policy"
)

func Example() {
	ctx := context.Background()
	engine, err := policy.New(policy.Config{}) // the embedded policy of package rego
	if err != nil {
		panic(err)
	}
	err = engine.SetConstraints(ctx, []policy.Constraint{
		{ID: "logs-read", Paths: []string{"/logs-*"}, Methods: []string{"get"}, Roles: []string{"analyst"}},
	})
	if err != nil {
		panic(err)
	}

	analyst := policy.User{Name: "ann", Roles: []string{"analyst"}, Realm: "native", AuthType: "realm"}
	for _, r := range []policy.Request{
		{Method: "GET", Path: "/logs-2024/_search", Kind: policy.KindContent},
		{Method: "POST", Path: "/logs-2024/_doc", Kind: policy.KindContent},
		{Method: "GET", Path: "/logs/_search", Kind: policy.KindContent},
		{Method: "PUT", Path: "/_security/user/bob", Kind: policy.KindManagement, Privilege: "manage_security"},
	} {
		d, err := engine.Decide(ctx, &policy.Input{User: analyst, Request: r})
		if err != nil || !d.Allow {
			fmt.Println("deny:", d.Reason)
			continue
		}
		fmt.Println("allow:", d.Rule)
	}
	// Output:
	// allow: constraint:logs-read
	// deny: no constraint grants [POST /logs-2024/_doc] to roles [analyst]
	// deny: no constraint grants [GET /logs/_search] to roles [analyst]
	// deny: no role of [analyst] holds cluster privilege [manage_security]
}

func ExampleValidateConstraint() {
	err := policy.ValidateConstraint(policy.Constraint{
		ID:      "c1",
		Paths:   []string{"logs"},
		Methods: []string{"GET", "FETCH"},
		Roles:   []string{"analyst"},
	})
	fmt.Println(err)
	// Output:
	// invalid constraint "c1": path "logs" must start with "/" or be "*"; method "FETCH" is not one of GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS or *
}
