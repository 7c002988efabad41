package main

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/spec"
)

// wantSpace is the size of the state space per policy today. A change is
// not wrong in itself, but it must be deliberate: a silent shrink means the
// explorer (or the alphabet, or the model) stopped reaching states. Update
// these numbers, and spec's TestExploreStateSpace, together when the model
// grows or shrinks on purpose.
var wantSpace = map[string]struct{ states, transitions int }{
	"rfc":         {96, 4224},
	"require-tls": {51, 2244},
	"variants":    {33, 1452},
}

// runCmd runs the command and returns its exit code and outputs.
func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// withStep makes explore check step instead of fsm.Step for the test.
func withStep(t *testing.T, step spec.StepFunc) {
	t.Helper()
	saved := stepFunc
	stepFunc = step
	t.Cleanup(func() { stepFunc = saved })
}

// policyBlock returns the text of one policy's report.
func policyBlock(t *testing.T, out, policy string) string {
	t.Helper()
	start := strings.Index(out, "policy "+policy+":")
	if start < 0 {
		t.Fatalf("no report for policy %s in:\n%s", policy, out)
	}
	block := out[start:]
	if end := strings.Index(block, "\n\n"); end >= 0 {
		block = block[:end+1]
	}
	return block
}

var headRE = regexp.MustCompile(`^policy ([\w-]+): (\d+) states, (\d+) transitions, explored in \S+\n`)

// TestExploreReportsEveryPolicy: `simulate explore` explores every policy,
// exits 0, and reports exactly today's state and transition counts, the
// states per phase adding up to the total, the checks, the invariants note
// and the fixpoint.
func TestExploreReportsEveryPolicy(t *testing.T) {
	code, out, errOut := runCmd(t, "explore")
	if code != 0 {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if len(spec.Policies()) != len(wantSpace) {
		t.Errorf("spec.Policies() has %d policies, the test knows %d: add the new one to wantSpace", len(spec.Policies()), len(wantSpace))
	}
	for name := range spec.Policies() {
		block := policyBlock(t, out, name)
		m := headRE.FindStringSubmatch(block)
		if m == nil {
			t.Errorf("%s: no summary line in:\n%s", name, block)
			continue
		}
		states, _ := strconv.Atoi(m[2])
		transitions, _ := strconv.Atoi(m[3])
		want := wantSpace[name]
		if states != want.states || transitions != want.transitions {
			t.Errorf("%s: %d states, %d transitions; want exactly %d and %d", name, states, transitions, want.states, want.transitions)
		}
		if transitions != states*len(spec.Inputs) {
			t.Errorf("%s: %d transitions for %d states and %d inputs", name, transitions, states, len(spec.Inputs))
		}
		// The per-phase table: every phase, aligned, summing to the total.
		sum := 0
		for ph := fsm.Phase(0); int(ph) < fsm.NumPhases; ph++ {
			re := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(ph.String()) + ` +(\d+)$`)
			row := re.FindStringSubmatch(block)
			if row == nil {
				t.Errorf("%s: no row for phase %v in:\n%s", name, ph, block)
				continue
			}
			n, _ := strconv.Atoi(row[1])
			sum += n
		}
		if sum != states {
			t.Errorf("%s: the phase rows add up to %d, not %d", name, sum, states)
		}
		if !regexp.MustCompile(`(?m)^  total +` + m[2] + `$`).MatchString(block) {
			t.Errorf("%s: no total row", name)
		}
		for _, c := range spec.Checks {
			if !strings.Contains(block, "    "+c+"\n") {
				t.Errorf("%s: check %q not listed", name, c)
			}
		}
		for _, inv := range fsm.Invariants {
			if !strings.Contains(block, "    "+inv.ID+" "+inv.Text+"\n") {
				t.Errorf("%s: invariant %s not listed", name, inv.ID)
			}
		}
		for _, want := range []string{"fixpoint reached: no violation"} {
			if !strings.Contains(block, want) {
				t.Errorf("%s: no %q in:\n%s", name, want, block)
			}
		}
	}
	if !strings.HasSuffix(out, "explored 3 policies: no violation\n") {
		t.Errorf("no clean summary at the end:\n%s", out)
	}
}

// TestExploreJSON: --json prints one report with the same numbers, every
// phase, the checks, and no violation.
func TestExploreJSON(t *testing.T) {
	code, out, errOut := runCmd(t, "explore", "--json")
	if code != 0 {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, errOut)
	}
	var rep report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if !rep.Clean || len(rep.Policies) != len(wantSpace) {
		t.Fatalf("clean %v with %d policies", rep.Clean, len(rep.Policies))
	}
	for i, pr := range rep.Policies {
		if i < len(policyOrder) && pr.Policy != policyOrder[i] {
			t.Errorf("policy %d is %s, want %s", i, pr.Policy, policyOrder[i])
		}
		want := wantSpace[pr.Policy]
		if pr.States != want.states || pr.Transitions != want.transitions {
			t.Errorf("%s: %d states, %d transitions; want %d and %d", pr.Policy, pr.States, pr.Transitions, want.states, want.transitions)
		}
		sum := 0
		for _, n := range pr.Phases {
			sum += n
		}
		if len(pr.Phases) != fsm.NumPhases || sum != pr.States {
			t.Errorf("%s: phases %v", pr.Policy, pr.Phases)
		}
		if diff := cmp.Diff(spec.Checks, pr.Checks); diff != "" {
			t.Errorf("%s: checks (-want +got):\n%s", pr.Policy, diff)
		}
		if !pr.Fixpoint || pr.Violations == nil || len(pr.Violations) != 0 || pr.ElapsedMS <= 0 {
			t.Errorf("%s: fixpoint %v, violations %v, elapsed %v ms", pr.Policy, pr.Fixpoint, pr.Violations, pr.ElapsedMS)
		}
	}
}

// isRosterGet reports whether ev is the client's roster get.
func isRosterGet(ev fsm.Event) bool {
	if ev.Kind != fsm.EvElement || ev.Elem == nil || fsm.Classify(ev.Elem) != fsm.ClassIQ {
		return false
	}
	q := ev.Elem.SelectElement("query")
	return q != nil && q.SelectAttrValue("xmlns", "") == fsm.NSRoster
}

// interestedUnbound is fsm.Step with a bug: a roster get that leaves the
// session waiting for bind (Prosody's policy answers it with a stanza
// error) makes the session interested, which only a connected resource
// may be (S-67; the invariant "interested ⇒ connected").
func interestedUnbound(s fsm.Session, ev fsm.Event) (fsm.Session, []fsm.Effect) {
	next, effs := fsm.Step(s, ev)
	if s.Phase == fsm.WaitForBind && next.Phase == fsm.WaitForBind && isRosterGet(ev) {
		next.Interested = true
	}
	return next, effs
}

// stickyAvailable is fsm.Step with a bug: an unavailable presence is
// broadcast but the session stays available (S-71).
func stickyAvailable(s fsm.Session, ev fsm.Event) (fsm.Session, []fsm.Effect) {
	next, effs := fsm.Step(s, ev)
	if s.Available() && next.Phase == fsm.Established && ev.Kind == fsm.EvElement &&
		ev.Elem.Tag == "presence" && ev.Elem.SelectAttrValue("type", "") == "unavailable" {
		next.Presence, next.Priority = s.Presence, s.Priority
	}
	return next, effs
}

// TestExploreFindsBrokenMachine: with a broken machine injected, explore
// exits 1, reports the violation under the policies where the bug is
// reachable (and only there), and gives the shortest input path that shows
// it: the first violation's path is exactly the minimal sequence.
func TestExploreFindsBrokenMachine(t *testing.T) {
	tests := []struct {
		name   string
		step   spec.StepFunc
		checks []string // checks that must be among those reported
		// path is the minimal input sequence under policy: the login the
		// breadth-first search finds first (the alphabet's order picks
		// auth-plain where the policy allows PLAIN without TLS, as
		// Prosody's does; under rfc PLAIN needs TLS, so auth-scram), then
		// the input that shows the bug.
		policy string
		path   string
		clean  []string // policies where the bug cannot be reached
	}{
		{
			name: "roster get before bind makes the session interested", step: interestedUnbound,
			checks: []string{"invariant", "model"},
			policy: "variants", path: "connect → header → auth-plain → success → header → roster-get",
			// The RFC's policy closes the stream on a stanza before bind.
			clean: []string{"rfc", "require-tls"},
		},
		{
			name: "unavailable keeps the session available", step: stickyAvailable,
			checks: []string{"model"},
			policy: "rfc",
			path:   "connect → header → auth-scram → success → header → bind → granted → roster-loaded → available → unavailable",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			withStep(t, tt.step)

			code, out, errOut := runCmd(t, "explore")
			if code != 1 {
				t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			block := policyBlock(t, out, tt.policy)
			if strings.Contains(block, "no violation") || !regexp.MustCompile(`fixpoint reached: \d+ violations?`).MatchString(block) {
				t.Errorf("%s: the violation is not reported:\n%s", tt.policy, block)
			}
			for _, c := range tt.checks {
				if !strings.Contains(block, "\n  "+c+": ") {
					t.Errorf("%s: no %q violation in:\n%s", tt.policy, c, block)
				}
			}
			if !strings.Contains(block, "\n    shortest path: "+tt.path+"\n") {
				t.Errorf("%s: shortest path %q not reported:\n%s", tt.policy, tt.path, block)
			}
			for _, p := range tt.clean {
				if b := policyBlock(t, out, p); !strings.Contains(b, "fixpoint reached: no violation") {
					t.Errorf("%s: violations reported where the bug cannot be reached:\n%s", p, b)
				}
			}
			if !strings.Contains(out, "violations under "+tt.policy) {
				t.Errorf("summary does not name %s:\n%s", tt.policy, out)
			}

			// The JSON report: the first violation (breadth-first, so a
			// shortest one) has exactly the minimal path, and no
			// violation has a shorter one.
			code, out, _ = runCmd(t, "explore", "--json", "--policy", tt.policy)
			if code != 1 {
				t.Fatalf("--json: exit %d, want 1", code)
			}
			var rep report
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			if rep.Clean || len(rep.Policies) != 1 || len(rep.Policies[0].Violations) == 0 {
				t.Fatalf("--json: %+v", rep)
			}
			vs := rep.Policies[0].Violations
			want := strings.Split(tt.path, " → ")
			if diff := cmp.Diff(want, vs[0].Path); diff != "" {
				t.Errorf("first violation's path (-want +got):\n%s", diff)
			}
			for _, v := range vs {
				if len(v.Path) < len(want) {
					t.Errorf("a violation with a shorter path than the minimal one: %v", v.Path)
				}
			}
		})
	}
}

// TestExploreBadUsage: an unknown policy, an unknown flag or an argument
// exits 2 with a message on stderr and nothing on stdout.
func TestExploreBadUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"explore", "--policy", "nope"}, `unknown policy "nope" (want rfc, require-tls, variants or all)`},
		{[]string{"explore", "--policy="}, `unknown policy ""`},
		{[]string{"explore", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"explore", "--json=maybe"}, "invalid boolean value"},
		{[]string{"explore", "rfc"}, `unexpected argument "rfc"`},
	} {
		code, out, errOut := runCmd(t, tt.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tt.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", tt.args, code, out, errOut, tt.want)
		}
	}
}

// TestExploreOnePolicy: --policy limits the exploration to that policy.
func TestExploreOnePolicy(t *testing.T) {
	code, out, _ := runCmd(t, "explore", "--policy", "require-tls")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if n := len(regexp.MustCompile(`(?m)^policy `).FindAllString(out, -1)); n != 1 || !strings.HasPrefix(out, "policy require-tls: ") {
		t.Errorf("want only require-tls:\n%s", out)
	}
	if !strings.HasSuffix(out, "explored 1 policy: no violation\n") {
		t.Errorf("summary:\n%s", out)
	}
}
