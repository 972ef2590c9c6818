package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/portcullis/portcullis/rego"
)

// decisionRef is the document the gateway queries.
var decisionRef = ast.MustParseRef("data.portcullis.authz.decision")

// deniedBuiltins are left out of the capabilities the policy compiles with:
// they do I/O (http.send, net.lookup_ip_addr), read the process environment
// (opa.runtime) or make a decision irreproducible (rand.intn, uuid.rfc4122).
// A policy calling one of them fails to compile.
var deniedBuiltins = []string{"http.send", "net.lookup_ip_addr", "opa.runtime", "rand.intn", "uuid.rfc4122"}

// capabilities are OPA's, without deniedBuiltins.
var capabilities = func() *ast.Capabilities {
	c := ast.CapabilitiesForThisVersion()
	c.Builtins = slices.DeleteFunc(c.Builtins, func(b *ast.Builtin) bool {
		return slices.Contains(deniedBuiltins, b.Name)
	})
	return c
}()

// source is one Rego file.
type source struct {
	name, text string
}

// loadPolicy reads the policy files of dir, or of the embedded rego.FS when
// dir is "": every *.rego file that is not a *_test.rego, sorted by name.
func loadPolicy(dir string) ([]source, error) {
	srcs, err := load(dir, func(name string) bool { return !strings.HasSuffix(name, "_test.rego") })
	if err != nil {
		return nil, err
	}
	if len(srcs) == 0 {
		return nil, fmt.Errorf("%w: no .rego files in %q", ErrCompile, dir)
	}
	return srcs, nil
}

// load reads the *.rego files of dir (or rego.FS) that keep accepts.
func load(dir string, keep func(name string) bool) ([]source, error) {
	fsys, prefix := fs.FS(rego.FS), "rego"
	if dir != "" {
		fsys, prefix = os.DirFS(dir), dir
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCompile, err)
	}
	var srcs []source
	for _, ent := range entries {
		name := ent.Name()
		if ent.IsDir() || !strings.HasSuffix(name, ".rego") || !keep(name) {
			continue
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCompile, err)
		}
		srcs = append(srcs, source{name: filepath.Join(prefix, name), text: string(b)})
	}
	return srcs, nil
}

// foldCache keeps the last result of fold: it depends on the policy files
// and the roles, not on the constraints, so that a change of constraints
// does not fold again.
type foldCache struct {
	policy  []source
	roles   string // generated.rolesText
	modules map[string]*ast.Module
	folded  []string
}

// compile parses srcs and compiles them with the generated module gen, and
// if precompute their rules that do not depend on the request precomputed
// (fold; fc, if not nil, keeps the result for the next compilation). It
// returns the compiler, the modules (parsed, precomputed rules in place) and
// the paths of the precomputed rules.
//
// With split, what is compiled is the modules with their constant rules
// reading their values from the base data document (splitConstants), as the
// plan has them, not the values, and compile returns that document: OPA's
// compiler walks every term of a module in each of its stages, and the
// values (the generated index, globs and roles, the precomputed tables) are
// nearly all of the terms, growing with the constraints and roles. An
// evaluation with such a compiler reads the document from its store
// (dataStore). Without split, data is nil.
func compile(ctx context.Context, srcs []source, gen generated, precompute, split bool, fc *foldCache) (c *ast.Compiler, modules map[string]*ast.Module, folded []string, data ast.Object, err error) {
	if fc != nil && precompute && fc.modules != nil && fc.roles == gen.rolesText && slices.Equal(fc.policy, srcs) {
		modules, folded = maps.Clone(fc.modules), fc.folded
	} else {
		if modules, err = parse(srcs); err != nil {
			return nil, nil, nil, nil, err
		}
		if precompute {
			modules, folded = fold(ctx, modules, gen)
			if fc != nil && ctx.Err() == nil { // a cancelled fold folds less: not for keeps
				*fc = foldCache{policy: srcs, roles: gen.rolesText, modules: maps.Clone(modules), folded: folded}
			}
		}
	}
	modules[generatedName] = gen.module
	compiled := modules
	if split {
		if compiled, data, err = splitConstants(modules); err != nil {
			return nil, nil, nil, nil, fmt.Errorf("%w: %w", ErrCompile, err)
		}
	}
	c = newCompiler(false) // Compile copies the modules: they stay as parsed
	if c.Compile(compiled); c.Failed() {
		return nil, nil, nil, nil, fmt.Errorf("%w: %w", ErrCompile, c.Errors)
	}
	return c, modules, folded, data, nil
}

// newCompiler returns a compiler for Rego v1 without deniedBuiltins, with
// print statements for tests (erased otherwise).
func newCompiler(prints bool) *ast.Compiler {
	return ast.NewCompiler().
		WithCapabilities(capabilities).
		WithDefaultRegoVersion(ast.RegoV1).
		WithEnablePrintStatements(prints)
}

// parse parses srcs as Rego v1 modules, keyed by name.
func parse(srcs []source) (map[string]*ast.Module, error) {
	modules := make(map[string]*ast.Module, len(srcs))
	for _, s := range srcs {
		m, err := ast.ParseModuleWithOpts(s.name, s.text, ast.ParserOptions{
			RegoVersion:  ast.RegoV1,
			Capabilities: capabilities,
		})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCompile, err)
		}
		modules[s.name] = m
	}
	return modules, nil
}

// revision hashes srcs: the first 16 hex digits of the SHA-256 over each
// source's file name (not its directory, so the embedded policy and a copy
// of it have the same revision) and text, in name order.
func revision(srcs []source) string {
	srcs = slices.SortedFunc(slices.Values(srcs), func(a, b source) int {
		return strings.Compare(path.Base(a.name), path.Base(b.name))
	})
	h := sha256.New()
	for _, s := range srcs {
		h.Write([]byte(path.Base(s.name)))
		h.Write([]byte{0})
		h.Write([]byte(s.text))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
