package policy

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The generated module. Its documents are the only constraint data the
// policy reads, and rego/authz.rego reads them by key:
//
//	index[prefix][method][role] = ["constraint:<id>", ...]
//	globs[prefix][method][role] = {"any": regexp, "entries": [{"rule": "constraint:<id>", "pattern": regexp}, ...]}
//	roles[name] = {"cluster": [privilege, ...], "indices": [{"names", "privileges", "allow_restricted_indices"}, ...]}
//
// prefix is a normalised constraint path ("/" for the all-paths wildcards) in
// index, and in globs the literal part of a path before its first glob
// segment. A request looks up every prefix of its path ("/", "/a", "/a/b",
// ...), so a literal path covers exactly the paths at or below it. method is
// upper-case; a constraint allowing "*" is filed under every method (the
// policy denies requests with any other method). role is a role name or "*".
// Lists are sorted, so the first rule of a list names its smallest id; rules
// are precomputed strings because building one costs a builtin call per
// request. A glob pattern is a regular expression over the whole
// request path, anchored, "*" matching within one segment; "any" is the
// alternation of the patterns of its entries, so that a request no glob
// grants costs one match whatever their number.
//
// roles holds the roles created through the API (cluster privileges
// sorted and deduplicated, indices as given); rego/authz.rego reads
// roles[name].cluster as it reads data.portcullis.roles[name].cluster for
// the built-in ones. Role names never collide with a document of package
// portcullis.roles (prepare checks).
//
// The format of these documents is shared with rego/authz.rego (and the
// property test checks the pair against a plain reference policy); change
// both together.

// generatedName is the module name of the generated module.
const generatedName = "(generated)/constraints.rego"

// globEntry is one element of a globs list.
type globEntry struct {
	Rule    string `json:"rule"`
	Pattern string `json:"pattern"`
}

// roleMap maps a role to the constraints of one prefix and method.
type roleMap[T any] map[string][]T

// tree maps prefix → method → role → list.
type tree[T any] map[string]map[string]roleMap[T]

func (t tree[T]) add(prefix, method, role string, v T) {
	byMethod := t[prefix]
	if byMethod == nil {
		byMethod = map[string]roleMap[T]{}
		t[prefix] = byMethod
	}
	byRole := byMethod[method]
	if byRole == nil {
		byRole = roleMap[T]{}
		byMethod[method] = byRole
	}
	byRole[role] = append(byRole[role], v)
}

// normalize replaces every list of t by f(list).
func (t tree[T]) normalize(f func([]T) []T) {
	for _, byMethod := range t {
		for _, byRole := range byMethod {
			for role, list := range byRole {
				byRole[role] = f(list)
			}
		}
	}
}

// generated is a generated module: its source; the module, built directly
// rather than parsed from the source (parsing ten thousand constraints costs
// as much as compiling them; TestGeneratedModuleIsSource checks both agree);
// and the compiled regular expressions of its glob patterns, which
// evaluations get from a cache (patternCache) rather than compiling them.
type generated struct {
	source   string
	module   *ast.Module
	patterns map[string]*regexp.Regexp
	roles    []string // names of the generated roles, sorted

	// rolesModule is module without index and globs: what fold compiles
	// the policy with; rolesText is the source of its roles document.
	rolesModule *ast.Module
	rolesText   string
}

// generatedSkeleton is parsed, and its rules given the generated values.
const generatedSkeleton = "package portcullis.constraints\n\nindex := {}\n\nglobs := {}\n\nroles := {}\n"

// generate returns the generated module for cs and rs, which must be valid
// (checkConstraints, checkRoles). The output depends only on the sets of
// constraints and roles, not on their order.
func generate(cs []Constraint, rs []Role) (generated, error) {
	rs = slices.SortedFunc(slices.Values(rs), func(a, b Role) int { return cmp.Compare(a.Name, b.Name) })
	cs = slices.SortedFunc(slices.Values(cs), func(a, b Constraint) int { return cmp.Compare(a.ID, b.ID) })

	index := tree[string]{}
	globs := tree[globEntry]{}
	patterns := map[string]*regexp.Regexp{}
	for _, c := range cs {
		ms := constraintMethods(c.Methods)
		roles := dedupe(c.Roles)
		rule := "constraint:" + c.ID
		for _, p := range dedupe(c.Paths) {
			p = normPath(p)
			literal, re, err := splitGlob(p)
			if err != nil {
				return generated{}, fmt.Errorf("constraint %q: path %q: %w", c.ID, p, err)
			}
			var pattern string
			if re != nil {
				pattern = re.String()
				patterns[pattern] = re
			}
			for _, m := range ms {
				for _, r := range roles {
					if pattern == "" {
						index.add(literal, m, r, rule)
					} else {
						globs.add(literal, m, r, globEntry{Rule: rule, Pattern: pattern})
					}
				}
			}
		}
	}

	index.normalize(func(rules []string) []string {
		return slices.Compact(rules) // sorted already: cs is sorted by id
	})
	var err error
	anyOf := map[string]string{} // interned: one string per pattern, see patternCache
	globs.normalize(func(es []globEntry) []globEntry {
		slices.SortFunc(es, func(a, b globEntry) int {
			return cmp.Or(cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Pattern, b.Pattern))
		})
		es = slices.Compact(es)
		if p := anyPattern(es); anyOf[p] == "" && err == nil {
			anyOf[p] = p
			if patterns[p] == nil {
				patterns[p], err = regexp.Compile(p)
			}
		}
		return es
	})
	if err != nil {
		return generated{}, fmt.Errorf("glob patterns: %w", err)
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, "# Code generated by Portcullis from %d constraint(s) and %d role(s). DO NOT EDIT.\n", len(cs), len(rs))
	b.WriteString(generatedHeader)
	if len(cs) > 0 {
		b.WriteString("#\n# Constraints, by id:\n#\n")
	}
	for _, c := range cs {
		fmt.Fprintf(&b, "#   %s: paths %s, methods %s, roles %s\n", quote(c.ID), quoteList(c.Paths), quoteList(c.Methods), quoteList(c.Roles))
	}
	b.WriteString("package portcullis.constraints\n\nindex := ")
	writeTree(&b, index, quoteList)
	b.WriteString("\n\nglobs := ")
	writeTree(&b, globs, func(es []globEntry) string {
		elems := make([]string, len(es))
		for i, e := range es {
			elems[i] = globElement(e)
		}
		return fmt.Sprintf(`{"any": %s, "entries": [%s]}`, quote(anyPattern(es)), strings.Join(elems, ", "))
	})
	b.WriteString("\n\nroles := ")
	rolesStart := b.Len()
	writeRoles(&b, rs)
	rolesText := b.String()[rolesStart:]
	b.WriteString("\n")

	module, err := ast.ParseModuleWithOpts(generatedName, generatedSkeleton, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return generated{}, err
	}
	module.Rules[0].Head.Value = treeTerm(index, stringsTerm)
	module.Rules[1].Head.Value = treeTerm(globs, func(es []globEntry) *ast.Term {
		elems := make([]*ast.Term, len(es))
		for i, e := range es {
			elems[i] = ast.ObjectTerm(
				ast.Item(ast.StringTerm("rule"), ast.StringTerm(e.Rule)),
				ast.Item(ast.StringTerm("pattern"), ast.StringTerm(e.Pattern)),
			)
		}
		return ast.ObjectTerm(
			ast.Item(ast.StringTerm("any"), ast.StringTerm(anyOf[anyPattern(es)])),
			ast.Item(ast.StringTerm("entries"), ast.ArrayTerm(elems...)),
		)
	})
	module.Rules[2].Head.Value = rolesTerm(rs)
	rolesModule, err := ast.ParseModuleWithOpts(generatedName, generatedSkeleton, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return generated{}, err
	}
	rolesModule.Rules = rolesModule.Rules[2:]
	rolesModule.Rules[0].Head.Value = module.Rules[2].Head.Value
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.Name
	}
	return generated{source: b.String(), module: module, patterns: patterns, roles: names, rolesModule: rolesModule, rolesText: rolesText}, nil
}

// writeRoles writes the roles document, one line per role, rs sorted by
// name.
func writeRoles(b *bytes.Buffer, rs []Role) {
	if len(rs) == 0 {
		b.WriteString("{}")
		return
	}
	b.WriteString("{\n")
	for _, r := range rs {
		fmt.Fprintf(b, "\t%s: {\"cluster\": %s, \"indices\": [", quote(r.Name), quoteList(dedupe(r.Cluster)))
		for i, ip := range r.Indices {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(b, "{\"names\": %s, \"privileges\": %s, \"allow_restricted_indices\": %t}",
				quoteList(ip.Names), quoteList(ip.Privileges), ip.AllowRestrictedIndices)
		}
		b.WriteString("]},\n")
	}
	b.WriteString("}")
}

// rolesTerm returns the value writeRoles writes.
func rolesTerm(rs []Role) *ast.Term {
	items := make([][2]*ast.Term, len(rs))
	for i, r := range rs {
		indices := make([]*ast.Term, len(r.Indices))
		for j, ip := range r.Indices {
			indices[j] = ast.ObjectTerm(
				ast.Item(ast.StringTerm("names"), stringsTerm(ip.Names)),
				ast.Item(ast.StringTerm("privileges"), stringsTerm(ip.Privileges)),
				ast.Item(ast.StringTerm("allow_restricted_indices"), ast.BooleanTerm(ip.AllowRestrictedIndices)),
			)
		}
		items[i] = ast.Item(ast.StringTerm(r.Name), ast.ObjectTerm(
			ast.Item(ast.StringTerm("cluster"), stringsTerm(dedupe(r.Cluster))),
			ast.Item(ast.StringTerm("indices"), ast.ArrayTerm(indices...)),
		))
	}
	return ast.ObjectTerm(items...)
}

func stringsTerm(ss []string) *ast.Term {
	elems := make([]*ast.Term, len(ss))
	for i, s := range ss {
		elems[i] = ast.StringTerm(s)
	}
	return ast.ArrayTerm(elems...)
}

// treeTerm returns t as a Rego object, the value writeTree writes; list
// returns the value of one list.
func treeTerm[T any](t tree[T], list func([]T) *ast.Term) *ast.Term {
	prefixes := make([][2]*ast.Term, 0, len(t))
	for prefix, byMethod := range t {
		methods := make([][2]*ast.Term, 0, len(byMethod))
		for m, byRole := range byMethod {
			roles := make([][2]*ast.Term, 0, len(byRole))
			for r, l := range byRole {
				roles = append(roles, ast.Item(ast.StringTerm(r), list(l)))
			}
			methods = append(methods, ast.Item(ast.StringTerm(m), ast.ObjectTerm(roles...)))
		}
		prefixes = append(prefixes, ast.Item(ast.StringTerm(prefix), ast.ObjectTerm(methods...)))
	}
	return ast.ObjectTerm(prefixes...)
}

const generatedHeader = `#
# index[prefix][method][role] lists, sorted, the rules ("constraint:<id>") of
# the constraints granting method to role on prefix and every path below it.
# globs has the same keys, prefix being the literal part of a path before its
# first glob segment, and holds {"any", "entries"}: entries lists {"rule",
# "pattern"}, pattern being a regular expression the whole request path must
# match, and any matches what one of them matches. A constraint allowing every
# method ("*") is filed under each method; role "*" stands for every user.
# roles[name] is a role created through the API: its cluster privileges and
# its index privileges ({"names", "privileges", "allow_restricted_indices"}).
# rego/authz.rego looks these documents up by key (see docs/policy.md).
`

// writeTree writes t as a Rego object, one line per prefix and method, keys
// sorted; list writes the value of one list.
func writeTree[T any](b *bytes.Buffer, t tree[T], list func([]T) string) {
	if len(t) == 0 {
		b.WriteString("{}")
		return
	}
	b.WriteString("{\n")
	for _, prefix := range slices.Sorted(maps.Keys(t)) {
		fmt.Fprintf(b, "\t%s: {\n", quote(prefix))
		byMethod := t[prefix]
		for _, m := range slices.Sorted(maps.Keys(byMethod)) {
			fmt.Fprintf(b, "\t\t%s: {", quote(m))
			byRole := byMethod[m]
			for i, r := range slices.Sorted(maps.Keys(byRole)) {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(b, "%s: %s", quote(r), list(byRole[r]))
			}
			b.WriteString("},\n")
		}
		b.WriteString("\t},\n")
	}
	b.WriteString("}")
}

// anyPattern is the regular expression matching what one of the patterns of
// es matches: their alternation, in order, or the one pattern.
func anyPattern(es []globEntry) string {
	var alts []string
	for _, e := range es {
		alt := strings.TrimSuffix(strings.TrimPrefix(e.Pattern, "^"), "$")
		if !slices.Contains(alts, alt) {
			alts = append(alts, alt)
		}
	}
	if len(alts) == 1 {
		return es[0].Pattern
	}
	return "^(?:" + strings.Join(alts, "|") + ")$"
}

// globElement writes an entry of a globs list.
func globElement(e globEntry) string {
	return fmt.Sprintf(`{"rule": %s, "pattern": %s}`, quote(e.Rule), quote(e.Pattern))
}

// constraintMethods returns the method keys a constraint is filed under:
// every method for "*" (the policy denies any other method).
func constraintMethods(ms []string) []string {
	var out []string
	for _, m := range ms {
		if m == "*" {
			return methods
		}
		out = append(out, strings.ToUpper(m))
	}
	return dedupe(out)
}

// splitGlob splits normalised path p into the literal prefix before its
// first glob segment and, when p has a glob segment, the anchored regular
// expression a request path must match: each glob segment's "*" matches
// within one segment, and paths below the matched ones are covered too.
func splitGlob(p string) (literal string, pattern *regexp.Regexp, err error) {
	if p == "/" || !strings.Contains(p, "*") {
		return p, nil, nil
	}
	segs := strings.Split(p[1:], "/")
	first := slices.IndexFunc(segs, func(s string) bool { return strings.Contains(s, "*") })
	literal = "/" + strings.Join(segs[:first], "/")

	var re strings.Builder
	re.WriteString("^")
	for _, seg := range segs {
		re.WriteString("/")
		for i, part := range strings.Split(seg, "*") {
			if i > 0 {
				re.WriteString("[^/]*")
			}
			re.WriteString(regexp.QuoteMeta(part))
		}
	}
	re.WriteString("(?:/.*)?$")
	pattern, err = regexp.Compile(re.String())
	if err != nil {
		return "", nil, err
	}
	return literal, pattern, nil
}

// dedupe returns the distinct elements of ss, sorted.
func dedupe(ss []string) []string {
	return slices.Compact(slices.Sorted(slices.Values(ss)))
}

// quoteList returns ss as a Rego array, one space after each comma.
func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// quote returns s as a JSON string, which is a valid Rego string, without
// HTML escaping.
func quote(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == '"' || r == '\\' || r == utf8.RuneError }) {
		return `"` + s + `"` // the common case, ten times faster
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}
