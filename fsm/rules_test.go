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

// A ruleBook is the rules of one spec, tied to the code and the tests by
// their ids: in spec/session.md a heading "### S-<n> Title" defines a rule,
// a comment in the package's non-test code names the rule it carries out,
// and a transcript's comment lines or a Go test's name, comments or subtest
// names name the rules it checks. spec/im.md does the same with I-<n>
// (imRules, im_rules_test.go).
type ruleBook struct {
	prefix      string // the letter of the ids: "S" for S-1, S-2…
	spec        string // the spec that defines the rules, seen from the package directory
	transcripts string // the glob of the transcripts whose comment lines name rules
	// notInCode lists the rules that no comment in the code needs to name,
	// each with the reason. Keep it minimal: every entry is checked to be a
	// rule of the spec that the code does not name.
	notInCode map[string]string
}

// sessionRules are the rules of spec/session.md.
var sessionRules = ruleBook{
	prefix:      "S",
	spec:        "../spec/session.md",
	transcripts: "testdata/*.txt",
	// Rules about the whole machine or the adapter contract that no single
	// handler carries out would go here; there are none.
	notInCode: map[string]string{},
}

// compile compiles pattern with every %s replaced by the book's prefix.
func (b ruleBook) compile(pattern string) *regexp.Regexp {
	return regexp.MustCompile(strings.ReplaceAll(pattern, "%s", regexp.QuoteMeta(b.prefix)))
}

// headingRE matches the heading that defines a rule.
func (b ruleBook) headingRE() *regexp.Regexp { return b.compile(`^###\s+%s-([0-9]+)(?:\s|$)`) }

// refRE matches a rule id anywhere in a text. Ids of other books and longer
// words do not match: UI-n and WI-n (the invariants of spec/im.md) are not
// rule ids of the I book.
func (b ruleBook) refRE() *regexp.Regexp { return b.compile(`\b%s-([0-9]+)\b`) }

// nameRE matches a rule id in a Go identifier, which cannot hold a hyphen:
// TestS2UnknownEvent or Test_S2_unknownEvent name S-2.
func (b ruleBook) nameRE() *regexp.Regexp {
	return b.compile(`(?:^Test|^Fuzz|^Example|_)%s_?([0-9]+)(?:[A-Z_]|$)`)
}

// ruleRef is a place that names a rule.
type ruleRef struct {
	rule  string // "S-12"
	place string // "testdata/starttls.txt:3" or "fsm_test.go:40 TestFoo"
}

// refsIn returns a reference to every rule id re finds in text, at place.
func (b ruleBook) refsIn(re *regexp.Regexp, text, place string) []ruleRef {
	var refs []ruleRef
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		refs = append(refs, ruleRef{b.prefix + "-" + m[1], place})
	}
	return refs
}

// rules returns the rule ids that the spec defines, in the order of their
// headings, and the ids defined by more than one heading (with their line
// numbers).
func (b ruleBook) rules(t *testing.T) (ids []string, dups []string) {
	t.Helper()
	data, err := os.ReadFile(b.spec)
	if err != nil {
		t.Fatal(err)
	}
	heading := b.headingRE()
	first := map[string]int{}
	for i, line := range strings.Split(string(data), "\n") {
		m := heading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		id := b.prefix + "-" + m[1]
		if n, ok := first[id]; ok {
			dups = append(dups, fmt.Sprintf("%s (lines %d and %d)", id, n, i+1))
			continue
		}
		first[id] = i + 1
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		t.Fatalf("%s defines no rule (no heading \"### %s-<n> Title\")", b.spec, b.prefix)
	}
	return ids, dups
}

// transcriptRefs returns the rule ids named in the comment lines (lines
// starting with '#') of every transcript of the book.
func (b ruleBook) transcriptRefs(t *testing.T) []ruleRef {
	t.Helper()
	files, err := filepath.Glob(b.transcripts)
	if err != nil {
		t.Fatal(err)
	}
	ref := b.refRE()
	var refs []ruleRef
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "#") {
				refs = append(refs, b.refsIn(ref, line, fmt.Sprintf("%s:%d", f, i+1))...)
			}
		}
	}
	return refs
}

// goTestRefs returns the rule ids named by the Go test functions (Test,
// Fuzz and Example functions) of the package's _test.go files: in the
// function's name, its doc comment, the comments inside it, and the names
// of its subtests (string literals passed to t.Run). Package-level text,
// such as the books' own tables, does not count.
func (b ruleBook) goTestRefs(t *testing.T) []ruleRef {
	t.Helper()
	inText, inName := b.refRE(), b.nameRE()
	var refs []ruleRef
	eachGoFile(t, true, func(fset *token.FileSet, path string, f *ast.File) {
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !isTestFunc(fn.Name.Name) {
				continue
			}
			add := func(pos token.Pos, text string, re *regexp.Regexp) {
				place := fmt.Sprintf("%s:%d %s", path, fset.Position(pos).Line, fn.Name.Name)
				refs = append(refs, b.refsIn(re, text, place)...)
			}
			add(fn.Pos(), fn.Name.Name, inName)
			for _, cg := range f.Comments {
				inside := cg.Pos() >= fn.Pos() && cg.End() <= fn.End()
				if !inside && cg != fn.Doc {
					continue
				}
				for _, c := range cg.List {
					add(c.Pos(), c.Text, inText)
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
						add(lit.Pos(), name, inText)
					}
				}
				return true
			})
		}
	})
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

// codeRefs returns the rule ids named in the comments of the package's
// non-test Go files.
func (b ruleBook) codeRefs(t *testing.T) []ruleRef {
	t.Helper()
	ref := b.refRE()
	var refs []ruleRef
	eachGoFile(t, false, func(fset *token.FileSet, path string, f *ast.File) {
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				refs = append(refs, b.refsIn(ref, c.Text, fmt.Sprintf("%s:%d", path, fset.Position(c.Pos()).Line))...)
			}
		}
	})
	return refs
}

// eachGoFile parses, with their comments, the package's _test.go files
// (tests) or its other Go files, in the order of their names, and calls
// fn with each.
func eachGoFile(t *testing.T, tests bool, fn func(fset *token.FileSet, path string, f *ast.File)) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") != tests {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		fn(fset, path, f)
	}
}

// sortRules orders rule ids of one book by number.
func sortRules(ids []string) {
	number := func(id string) int {
		_, n, _ := strings.Cut(id, "-")
		i, _ := strconv.Atoi(n)
		return i
	}
	slices.SortFunc(ids, func(a, b string) int { return number(a) - number(b) })
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

// ruleSet returns the ids as a set.
func ruleSet(ids []string) map[string]bool {
	set := map[string]bool{}
	for _, id := range ids {
		set[id] = true
	}
	return set
}

// namedRules returns the set of the rules that refs name.
func namedRules(refs []ruleRef) map[string]bool {
	set := map[string]bool{}
	for _, r := range refs {
		set[r.rule] = true
	}
	return set
}

// checkTested checks that every rule of the spec is named by a
// transcript's comment lines or by a Go test, that no transcript or test
// names a rule the spec does not define, and that no rule id is defined
// twice.
func (b ruleBook) checkTested(t *testing.T) {
	ids, dups := b.rules(t)
	if len(dups) > 0 {
		t.Errorf("%s defines these rule ids more than once:\n  %s", b.spec, strings.Join(dups, "\n  "))
	}
	refs := append(b.transcriptRefs(t), b.goTestRefs(t)...)
	if stale := staleRefs(ruleSet(ids), refs); len(stale) > 0 {
		t.Errorf("tests name rules that %s does not define:\n  %s", b.spec, strings.Join(stale, "\n  "))
	}
	tested := namedRules(refs)
	var untested []string
	for _, id := range ids {
		if !tested[id] {
			untested = append(untested, id)
		}
	}
	sortRules(untested)
	if len(untested) > 0 {
		t.Errorf("rules with no test (name them in the first comment of a transcript in %s/, or in a Go test): %s",
			filepath.Dir(b.transcripts), strings.Join(untested, " "))
	}
}

// checkImplemented checks that every rule of the spec is named in a
// comment of the code that carries it out (so that grep finds it), except
// the few listed in notInCode, that notInCode lists only rules of the spec
// that the code does not name, and that the code names no rule the spec
// does not define.
func (b ruleBook) checkImplemented(t *testing.T) {
	ids, _ := b.rules(t)
	defined := ruleSet(ids)
	refs := b.codeRefs(t)
	if stale := staleRefs(defined, refs); len(stale) > 0 {
		t.Errorf("the code names rules that %s does not define:\n  %s", b.spec, strings.Join(stale, "\n  "))
	}
	named := namedRules(refs)
	var missing, needless []string
	for _, id := range ids {
		if !named[id] && b.notInCode[id] == "" {
			missing = append(missing, id)
		}
	}
	for id := range b.notInCode {
		if !defined[id] || named[id] {
			needless = append(needless, id)
		}
	}
	sortRules(missing)
	sortRules(needless)
	if len(missing) > 0 {
		t.Errorf("rules that no comment in the code names (add // %s-n where the code carries the rule out): %s",
			b.prefix, strings.Join(missing, " "))
	}
	if len(needless) > 0 {
		t.Errorf("the notInCode of the %s-n rules (%s) lists rules that the spec does not define or that the code names: %s",
			b.prefix, b.spec, strings.Join(needless, " "))
	}
}

// TestEveryRuleHasATest checks that every rule of spec/session.md is named
// by a transcript in testdata/ or by a Go test (ruleBook.checkTested).
func TestEveryRuleHasATest(t *testing.T) { sessionRules.checkTested(t) }

// TestEveryRuleIsImplemented checks that every rule of spec/session.md is
// named in a comment of the code that carries it out
// (ruleBook.checkImplemented).
func TestEveryRuleIsImplemented(t *testing.T) { sessionRules.checkImplemented(t) }

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
