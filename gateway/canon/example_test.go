package canon_test

import (
	"errors"
	"fmt"

	"github.com/portcullis/portcullis/gateway/canon"
)

func ExamplePath() {
	for _, raw := range []string{
		"/logs-*/_search",
		"//aaa/%2e%2e/bbb/",
		"/idx/_doc/a%2fb",
		"/idx/_doc/a+b",
		"/../etc",
	} {
		p, err := canon.Path([]byte(raw))
		if err != nil {
			fmt.Printf("%s -> 400 %v (bad path: %v)\n", raw, err, errors.Is(err, canon.ErrBadPath))
			continue
		}
		fmt.Printf("%s -> %s %q\n", raw, p, canon.Segments(p))
	}
	// Output:
	// /logs-*/_search -> /logs-*/_search ["logs-*" "_search"]
	// //aaa/%2e%2e/bbb/ -> /bbb ["bbb"]
	// /idx/_doc/a%2fb -> /idx/_doc/a%2Fb ["idx" "_doc" "a/b"]
	// /idx/_doc/a+b -> /idx/_doc/a%2Bb ["idx" "_doc" "a+b"]
	// /../etc -> 400 path escapes the root (bad path: true)
}

func ExampleTakeParam() {
	rest, token, found, err := canon.TakeParam([]byte("pretty;token=abc&size=10"), "token")
	fmt.Printf("%s %q %v %v\n", rest, token, found, err)
	// Output:
	// pretty&size=10 "abc" true <nil>
}

func ExampleParseAuthorization() {
	scheme, cred, _ := canon.ParseAuthorization([]byte("basic ZWxhc3RpYzpjaGFuZ2U6bWU="))
	user, password, _ := canon.ParseBasic(cred)
	fmt.Println(scheme, user, len(password))
	// Output:
	// Basic elastic 9
}
