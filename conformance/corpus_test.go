package conformance

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The corpus: one scansion script or more per observable rule of
// ../spec/session.md and ../spec/im.md, and bad-input scripts (bad_*.scs).
// Each script names the rules it checks at the start of its title, its
// first comment line ("# S-31 S-33: …"), and declares the policy it needs with "## policy:"
// tags (PolicyFor; default LoopbackPolicy).
const corpusDir = "testdata/corpus"

// specFiles hold the rules the corpus covers.
var specFiles = []string{"../spec/session.md", "../spec/im.md"}

// knownFailures are corpus scripts that fail in process because the
// server does something the rule text does not say, with the failure they
// stop at. The scripts keep expecting the rule. The test fails when one of
// them passes (remove it then) or fails elsewhere.
var knownFailures = map[string]struct {
	line int
	kind FailureKind
	why  string
}{}

// inProcessGaps are corpus scripts the in-process target cannot run: they
// use an extension it refuses with ErrUnsupported.
var inProcessGaps = map[string]string{}

// corpusScripts returns the corpus's scripts, parsed.
func corpusScripts(t *testing.T) []*Script {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(corpusDir, "*.scs"))
	if len(paths) == 0 {
		t.Fatalf("no scripts in %s", corpusDir)
	}
	var scripts []*Script
	for _, path := range paths {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Parse(filepath.Base(path), src)
		if err != nil {
			t.Fatal(err)
		}
		scripts = append(scripts, s)
	}
	return scripts
}

// TestCorpus runs every corpus script in process.
func TestCorpus(t *testing.T) {
	scripts := corpusScripts(t)
	for name := range knownFailures {
		if _, err := os.Stat(filepath.Join(corpusDir, name)); err != nil {
			t.Errorf("knownFailures names %s, which is not in the corpus", name)
		}
	}
	for _, s := range scripts {
		t.Run(s.Name, func(t *testing.T) {
			res, target := RunScript(s)
			known, isKnown := knownFailures[s.Name]
			gap, isGap := inProcessGaps[s.Name]
			switch {
			case isGap:
				if res.Passed() || !errors.Is(res.Failures[0].Err, ErrUnsupported) {
					t.Errorf("%s is listed in inProcessGaps (%s) but did not fail with ErrUnsupported:\n%s", s.Name, gap, res)
				} else {
					t.Logf("cannot run in process: %s", gap)
				}
			case res.Passed() && isKnown:
				t.Errorf("%s passes now: remove it from knownFailures\n%s", s.Name, res)
			case res.Passed():
				t.Log(res)
			case !isKnown:
				t.Errorf("%s\ntrace:\n%s", res, target.Trace())
			case res.Failures[0].Line != known.line || res.Failures[0].Kind != known.kind:
				t.Errorf("%s fails at line %d (%s), known failure at line %d (%s):\n%s",
					s.Name, res.Failures[0].Line, res.Failures[0].Kind, known.line, known.kind, res)
			default:
				t.Logf("known failure: %s\n%s", known.why, res)
			}
		})
	}
}

// ruleHeading matches a rule's heading: "### S-31 Unknown mechanism
// *(observable)*".
var ruleHeading = regexp.MustCompile(`^### ([SI]-[0-9]+) (.*)$`)

// specRules reads the rules of the spec files: every id, and whether it is
// observable.
func specRules(t *testing.T) map[string]bool {
	t.Helper()
	rules := map[string]bool{}
	for _, file := range specFiles {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(src))
		for sc.Scan() {
			m := ruleHeading.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			if _, dup := rules[m[1]]; dup {
				t.Errorf("%s: rule %s defined twice", file, m[1])
			}
			rules[m[1]] = strings.Contains(m[2], "*(observable)*")
		}
	}
	if len(rules) == 0 {
		t.Fatalf("no rules found in %v", specFiles)
	}
	return rules
}

// titleRules matches a script's title: the ids of the rules it checks,
// then a colon ("S-31 S-33: an unknown mechanism").
var titleRules = regexp.MustCompile(`^((?:[SI]-[0-9]+ )*[SI]-[0-9]+):\s`)

// scriptRuleIDs returns the ids of the rules a script checks: those its
// title (its first comment line) lists before the colon. Rules mentioned
// in the comments that follow are commentary, not coverage.
func scriptRuleIDs(s *Script) []string {
	m := titleRules.FindStringSubmatch(s.Title)
	if m == nil {
		return nil
	}
	return strings.Fields(m[1])
}

// TestEveryObservableRuleHasAScript fails when an observable rule of the
// spec is named by no corpus script, and when a script names a rule the
// spec does not define, or none at all.
func TestEveryObservableRuleHasAScript(t *testing.T) {
	rules := specRules(t)
	scripts := corpusScripts(t)
	covered := map[string][]string{}
	for _, s := range scripts {
		ids := scriptRuleIDs(s)
		if len(ids) == 0 {
			t.Errorf("%s: the title %q does not start with the ids of the rules it checks (\"# S-31 S-33: title\")", s.Name, s.Title)
		}
		for _, id := range ids {
			if _, ok := rules[id]; !ok {
				t.Errorf("%s names %s, which neither %s defines", s.Name, id, strings.Join(specFiles, " nor "))
				continue
			}
			covered[id] = append(covered[id], s.Name)
		}
	}
	var missing []string
	observable := 0
	for id, obs := range rules {
		if !obs {
			continue
		}
		observable++
		if len(covered[id]) == 0 {
			missing = append(missing, id)
		}
	}
	sort.Slice(missing, func(i, j int) bool { return ruleLess(missing[i], missing[j]) })
	if len(missing) > 0 {
		t.Errorf("%d observable rules have no corpus script: %s", len(missing), strings.Join(missing, " "))
	}
	t.Logf("%d scripts cover %d observable rules", len(scripts), observable-len(missing))
}

// ruleLess orders rule ids: S before I, then by number.
func ruleLess(a, b string) bool {
	if a[0] != b[0] {
		return a[0] == 'S'
	}
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}
