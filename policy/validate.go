package policy

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// methods are the HTTP methods a constraint may name, besides "*".
var methods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}

// ValidateConstraint reports whether c can be compiled: at least one path,
// each equal to "*" or starting with "/", without empty, "." or ".."
// segments; at least one method, each "*" or one of GET, HEAD, POST, PUT,
// DELETE, PATCH, OPTIONS in any case; at least one non-empty role; no control
// characters or invalid UTF-8 anywhere, the ID included. The ID may be empty
// (the gateway validates a constraint before naming it); SetConstraints
// requires it.
//
// The error wraps ErrInvalidConstraint and lists every problem on one line,
// in words fit for a 400 answer.
func ValidateConstraint(c Constraint) error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if !clean(c.ID) {
		add("id %q contains control characters or invalid UTF-8", c.ID)
	}

	if len(c.Paths) == 0 {
		add("paths is empty")
	}
	for _, p := range c.Paths {
		if problem := pathProblem(p); problem != "" {
			add("path %q %s", p, problem)
		}
	}

	if len(c.Methods) == 0 {
		add("methods is empty")
	}
	for _, m := range c.Methods {
		if m != "*" && !slices.Contains(methods, strings.ToUpper(m)) {
			add("method %q is not one of %s or *", m, strings.Join(methods, ", "))
		}
	}

	if len(c.Roles) == 0 {
		add("roles is empty")
	}
	for _, r := range c.Roles {
		switch {
		case r == "":
			add("a role is empty")
		case !clean(r):
			add("role %q contains control characters or invalid UTF-8", r)
		}
	}

	if len(problems) == 0 {
		return nil
	}
	if c.ID != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidConstraint, c.ID, strings.Join(problems, "; "))
	}
	return fmt.Errorf("%w: %s", ErrInvalidConstraint, strings.Join(problems, "; "))
}

// pathProblem returns what is wrong with constraint path p, or "".
func pathProblem(p string) string {
	switch {
	case p == "":
		return "is empty"
	case !clean(p):
		return "contains control characters or invalid UTF-8"
	case p != "*" && !strings.HasPrefix(p, "/"):
		return `must start with "/" or be "*"`
	}
	n := normPath(p)
	if n == "/" {
		return ""
	}
	for seg := range strings.SplitSeq(n[1:], "/") {
		switch seg {
		case "":
			return "has an empty segment"
		case ".", "..":
			return "has a dot segment"
		}
	}
	return ""
}

// normPath returns the form of a valid constraint path that the generated
// module uses: "/" for "*", "/*" and "/", no trailing slash otherwise.
func normPath(p string) string {
	p = strings.TrimRight(p, "/")
	if p == "" || p == "*" || p == "/*" {
		return "/"
	}
	return p
}

// clean reports whether s is valid UTF-8 without control characters.
func clean(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
