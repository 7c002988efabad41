package fsm_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
)

// The rules of spec/session.md are tied to the code and the tests by their
// ids: a heading "### S-<n> Title" defines a rule, a comment in the code
// names the rule it carries out, and a transcript's comment lines or a Go
// test's name or comments name the rules it checks.

// rulesSpecPath is spec/session.md, seen from the package directory.
const rulesSpecPath = "../spec/session.md"

var (
	// rulesHeadingRE matches the heading that defines a rule.
	rulesHeadingRE = regexp.MustCompile(`^###\s+S-([0-9]+)(?:\s|$)`)
	// rulesRefRE matches a rule id anywhere in a text.
	rulesRefRE = regexp.MustCompile(`\bS-([0-9]+)\b`)
	// rulesNameRE matches a rule id in a Go identifier, which cannot hold
	// a hyphen: TestS2UnknownEvent or Test_S2_unknownEvent name S-2.
	rulesNameRE = regexp.MustCompile(`(?:^Test|^Fuzz|^Example|_)S_?([0-9]+)(?:[A-Z_]|$)`)
)

// rulesNotInCode lists the rules that no comment in the code needs to name,
// each with the reason: rules about the whole machine or the adapter
// contract that no single handler carries out. Keep it minimal: every
// entry is checked to be a rule of the spec that the code does not name.
var rulesNotInCode = map[string]string{}

// ruleRef is a place that names a rule.
type ruleRef struct {
	rule  string // "S-12"
	place string // "testdata/starttls.txt:3" or "fsm_test.go:40 TestFoo"
}

// specRules returns the rule ids that spec/session.md defines, in the
// order of their headings, and the ids defined by more than one heading
// (with their line numbers).
func specRules(t *testing.T) (ids []string, dups []string) {
	t.Helper()
	data, err := os.ReadFile(rulesSpecPath)
	if err != nil {
		t.Fatal(err)
	}
	first := map[string]int{}
	for i, line := range strings.Split(string(data), "\n") {
		m := rulesHeadingRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		id := "S-" + m[1]
		if n, ok := first[id]; ok {
			dups = append(dups, fmt.Sprintf("%s (lines %d and %d)", id, n, i+1))
			continue
		}
		first[id] = i + 1
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		t.Fatalf("%s defines no rule (no heading \"### S-<n> Title\")", rulesSpecPath)
	}
	return ids, dups
}

// transcriptRuleRefs returns the rule ids named in the comment lines (lines
// starting with '#') of every transcript in testdata.
func transcriptRuleRefs(t *testing.T) []ruleRef {
	t.Helper()
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	var refs []ruleRef
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			if !strings.HasPrefix(line, "#") {
				continue
			}
			for _, m := range rulesRefRE.FindAllStringSubmatch(line, -1) {
				refs = append(refs, ruleRef{"S-" + m[1], fmt.Sprintf("%s:%d", f, i+1)})
			}
		}
	}
	return refs
}

// goTestRuleRefs returns the rule ids named by the Go test functions (Test,
// Fuzz and Example functions) of the package's _test.go files: in the
// function's name, its doc comment, the comments inside it, and the names
// of its subtests (string literals passed to t.Run). Package-level text,
// such as this file's own tables, does not count.
func goTestRuleRefs(t *testing.T) []ruleRef {
	t.Helper()
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	var refs []ruleRef
	fset := token.NewFileSet()
	for _, path := range files {
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !isTestFunc(fn.Name.Name) {
				continue
			}
			add := func(pos token.Pos, text string, re *regexp.Regexp) {
				p := fset.Position(pos)
				for _, m := range re.FindAllStringSubmatch(text, -1) {
					refs = append(refs, ruleRef{"S-" + m[1], fmt.Sprintf("%s:%d %s", path, p.Line, fn.Name.Name)})
				}
			}
			add(fn.Pos(), fn.Name.Name, rulesNameRE)
			for _, cg := range f.Comments {
				inside := cg.Pos() >= fn.Pos() && cg.End() <= fn.End()
				if !inside && cg != fn.Doc {
					continue
				}
				for _, c := range cg.List {
					add(c.Pos(), c.Text, rulesRefRE)
				}
			}
			if fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) == 0 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "Run" {
					return true
				}
				if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if name, err := strconv.Unquote(lit.Value); err == nil {
						add(lit.Pos(), name, rulesRefRE)
					}
				}
				return true
			})
		}
	}
	return refs
}

// isTestFunc reports whether name is the name of a function go test runs.
func isTestFunc(name string) bool {
	for _, prefix := range []string{"Test", "Fuzz", "Example"} {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

// codeRuleRefs returns the rule ids named in the comments of the package's
// non-test Go files.
func codeRuleRefs(t *testing.T) []ruleRef {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var refs []ruleRef
	fset := token.NewFileSet()
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				for _, m := range rulesRefRE.FindAllStringSubmatch(c.Text, -1) {
					refs = append(refs, ruleRef{"S-" + m[1], fmt.Sprintf("%s:%d", path, fset.Position(c.Pos()).Line)})
				}
			}
		}
	}
	return refs
}

// ruleNumber orders rule ids by number.
func ruleNumber(id string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(id, "S-"))
	return n
}

func sortRules(ids []string) {
	slices.SortFunc(ids, func(a, b string) int { return ruleNumber(a) - ruleNumber(b) })
}

// staleRefs lists the references to rules the spec does not define.
func staleRefs(defined map[string]bool, refs []ruleRef) []string {
	var stale []string
	for _, r := range refs {
		if !defined[r.rule] {
			stale = append(stale, r.rule+" at "+r.place)
		}
	}
	return stale
}

// TestEveryRuleHasATest checks that every rule of spec/session.md is named
// by a transcript's comment lines or by a Go test, that no transcript or
// test names a rule the spec does not define, and that no rule id is
// defined twice.
func TestEveryRuleHasATest(t *testing.T) {
	ids, dups := specRules(t)
	if len(dups) > 0 {
		t.Errorf("%s defines these rule ids more than once:\n  %s", rulesSpecPath, strings.Join(dups, "\n  "))
	}
	defined := map[string]bool{}
	for _, id := range ids {
		defined[id] = true
	}
	refs := append(transcriptRuleRefs(t), goTestRuleRefs(t)...)
	if stale := staleRefs(defined, refs); len(stale) > 0 {
		t.Errorf("tests name rules that %s does not define:\n  %s", rulesSpecPath, strings.Join(stale, "\n  "))
	}
	tested := map[string]bool{}
	for _, r := range refs {
		tested[r.rule] = true
	}
	var untested []string
	for _, id := range ids {
		if !tested[id] {
			untested = append(untested, id)
		}
	}
	sortRules(untested)
	if len(untested) > 0 {
		t.Errorf("rules with no test (name them in the first comment of a transcript in testdata/, or in a Go test): %s",
			strings.Join(untested, " "))
	}
}

// TestEveryRuleIsImplemented checks that every rule of spec/session.md is
// named in a comment of the code that carries it out (so that grep finds
// it), except the few listed in rulesNotInCode, and that the code names no
// rule the spec does not define.
func TestEveryRuleIsImplemented(t *testing.T) {
	ids, _ := specRules(t)
	defined := map[string]bool{}
	for _, id := range ids {
		defined[id] = true
	}
	refs := codeRuleRefs(t)
	if stale := staleRefs(defined, refs); len(stale) > 0 {
		t.Errorf("the code names rules that %s does not define:\n  %s", rulesSpecPath, strings.Join(stale, "\n  "))
	}
	named := map[string]bool{}
	for _, r := range refs {
		named[r.rule] = true
	}
	var missing, needless []string
	for _, id := range ids {
		if !named[id] && rulesNotInCode[id] == "" {
			missing = append(missing, id)
		}
	}
	for id := range rulesNotInCode {
		if !defined[id] || named[id] {
			needless = append(needless, id)
		}
	}
	sortRules(missing)
	sortRules(needless)
	if len(missing) > 0 {
		t.Errorf("rules that no comment in the code names (add // S-n where the code carries the rule out): %s",
			strings.Join(missing, " "))
	}
	if len(needless) > 0 {
		t.Errorf("rulesNotInCode lists rules that the spec does not define or that the code names: %s",
			strings.Join(needless, " "))
	}
}

// rulesOpenStream returns a session that has answered the client's first
// stream header and offers its features.
func rulesOpenStream(t *testing.T) fsm.Session {
	t.Helper()
	s := fsm.New(nil)
	s, _ = fsm.Step(s, fsm.Event{Kind: fsm.EvConnect, Conn: "c1", ID: "s0"})
	s, _ = fsm.Step(s, fsm.Event{Kind: fsm.EvStreamOpen, ID: "s1", Header: &fsm.StreamHeader{
		Space: fsm.NSStreams, Local: "stream", Default: fsm.NSClient, To: "localhost", Version: "1.0",
	}})
	if s.Phase != fsm.WaitForFeature {
		t.Fatalf("session in phase %v after the stream header, want %v", s.Phase, fsm.WaitForFeature)
	}
	return s
}

// rulesCheckStep runs one step and compares its effects and phase.
func rulesCheckStep(t *testing.T, s fsm.Session, ev fsm.Event, phase fsm.Phase, want ...string) {
	t.Helper()
	next, effects := fsm.Step(s, ev)
	var got []string
	for _, e := range effects {
		got = append(got, e.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("effects:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if next.Phase != phase {
		t.Errorf("phase %v, want %v", next.Phase, phase)
	}
	if err := next.Check(); err != nil {
		t.Errorf("invariant broken: %v", err)
	}
}

// S-2 S-97: an event of a kind no adapter can produce (a transcript cannot
// even spell one) closes the stream with internal-server-error.
func TestUnknownEventKind(t *testing.T) {
	s := rulesOpenStream(t)
	rulesCheckStep(t, s, fsm.Event{Kind: fsm.EventKind(200)}, fsm.Closed,
		"send <stream:error><internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
		"close",
		"stop-timer timer=negotiation")
}

// S-15 S-16: a header event that describes no header (the framer broke its
// contract) closes the stream with internal-server-error, after a server
// header since the stream has none yet.
func TestStreamOpenWithoutHeader(t *testing.T) {
	s := fsm.New(nil)
	s, _ = fsm.Step(s, fsm.Event{Kind: fsm.EvConnect, Conn: "c1", ID: "s0"})
	rulesCheckStep(t, s, fsm.Event{Kind: fsm.EvStreamOpen, ID: "s1"}, fsm.Closed,
		"send-header id=s0 from=localhost version=1.0 lang=en",
		"send <stream:error><internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
		"close",
		"stop-timer timer=negotiation")
}
