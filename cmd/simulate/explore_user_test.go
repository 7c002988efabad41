package main

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
)

// wantUserSpace is the size of the user machine's world today (two users,
// two resources each, 34 inputs). As with wantSpace, a change is not wrong
// in itself but must be deliberate.
var wantUserSpace = struct{ states, transitions int }{42025, 1428850}

// realUsers explores the real machine once for every test that needs it.
var realUsers = sync.OnceValue(exploreUsers)

func withRealUsers(t *testing.T) {
	t.Helper()
	saved := exploreUsersFunc
	exploreUsersFunc = realUsers
	t.Cleanup(func() { exploreUsersFunc = saved })
}

// withStepUser makes the explorer check step instead of fsm.StepUser.
func withStepUser(t *testing.T, step func(fsm.User, fsm.UserEvent) (fsm.User, []fsm.UserEffect)) {
	t.Helper()
	saved := stepUserFunc
	stepUserFunc = step
	t.Cleanup(func() { stepUserFunc = saved })
}

var userHeadRE = regexp.MustCompile(`(?m)^machine user: (\d+) states, (\d+) transitions, explored in \S+$`)

// TestExploreUserReport: `simulate explore --machine user` reports exactly
// today's state and transition counts, every input in every state, the
// states by Appendix A state pair adding up to the total, the checks, and
// the fixpoint.
func TestExploreUserReport(t *testing.T) {
	withRealUsers(t)
	code, out, errOut := runCmd(t, "explore", "--machine", "user")
	if code != 0 && code != 1 {
		t.Fatalf("exit %d\n%s\nstderr:\n%s", code, out, errOut)
	}
	m := userHeadRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary line in:\n%s", out)
	}
	states, _ := strconv.Atoi(m[1])
	transitions, _ := strconv.Atoi(m[2])
	if states != wantUserSpace.states || transitions != wantUserSpace.transitions {
		t.Errorf("%d states, %d transitions; want exactly %d and %d", states, transitions, wantUserSpace.states, wantUserSpace.transitions)
	}
	if len(uxAlphabet) != 34 || transitions != states*len(uxAlphabet) {
		t.Errorf("%d transitions for %d states and %d inputs", transitions, states, len(uxAlphabet))
	}
	if regexp.MustCompile(`(?m)^policy `).MatchString(out) {
		t.Errorf("--machine user explored the session machine too:\n%s", out)
	}
	for _, in := range uxAlphabet {
		if !strings.Contains(out, in.String()) {
			t.Errorf("input %q not listed", in)
		}
	}
	for _, c := range uxChecks {
		if !strings.Contains(out, "    "+c+"\n") {
			t.Errorf("check %q not listed", c)
		}
	}
	sum := 0
	for _, row := range regexp.MustCompile(`(?m)^  ((?:None|To|From|Both)[^\n]*?)  +(\d+)$`).FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(row[2])
		sum += n
	}
	if sum != states {
		t.Errorf("the Appendix A rows add up to %d, not %d", sum, states)
	}
	if !regexp.MustCompile(`(?m)^  Both +Both +\d+$`).MatchString(out) {
		t.Errorf("subscriptions never reach Both / Both:\n%s", out)
	}
	if !strings.Contains(out, "  fixpoint reached: ") {
		t.Errorf("no fixpoint line")
	}
	if code == 0 != strings.HasSuffix(out, "explored the user machine: no violation\n") {
		t.Errorf("exit %d but the summary says otherwise:\n%s", code, out)
	}
}

// TestExploreUserIsClean: the user machine's world reaches its fixpoint
// with no violation. (The explorer once found, with the shortest path
// alice bound r1 → alice subscribe bob → alice probe bob, that a probe from
// a user whose request was pending was answered with unsubscribed, which
// cancelled the request on the user's side only, breaking WI-4; I-14 now
// leaves such a probe unanswered.)
func TestExploreUserIsClean(t *testing.T) {
	withRealUsers(t)
	code, out, _ := runCmd(t, "explore", "--machine", "user", "--json")
	var rep report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if rep.User == nil || rep.Policies != nil {
		t.Fatalf("user %v, policies %v", rep.User, rep.Policies)
	}
	if rep.User.States != wantUserSpace.states || rep.User.Transitions != wantUserSpace.transitions || !rep.User.Fixpoint {
		t.Errorf("%+v", rep.User)
	}
	if code != 0 || !rep.Clean || len(rep.User.Violations) != 0 {
		t.Fatalf("exit %d, clean %v, violations %+v", code, rep.Clean, rep.User.Violations)
	}
}

// TestExploreMachineAll: --machine all explores the session machine under
// every policy, as `simulate explore` does, and then the user machine,
// and sums both up.
func TestExploreMachineAll(t *testing.T) {
	withRealUsers(t)
	code, out, _ := runCmd(t, "explore", "--machine", "all")
	_, session, _ := runCmd(t, "explore")
	if code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	start, end := strings.Index(out, "\nmachine user: "), strings.Index(out, "\n\nexplored 3 policies: ")
	if start < 0 || end < start {
		t.Fatalf("no user machine between the policies and the summary in:\n%s", out)
	}
	clean := regexp.MustCompile(`explored in \S+`)
	withoutUser := out[:start] + out[end+1:]
	withoutUser = strings.TrimSuffix(withoutUser, "explored the user machine: no violation\n")
	if clean.ReplaceAllString(withoutUser, "") != clean.ReplaceAllString(session, "") {
		t.Errorf("without the user machine the report is not `simulate explore`'s:\n%s\n---\n%s", withoutUser, session)
	}
	if !userHeadRE.MatchString(out[start:end]) {
		t.Errorf("user block:\n%s", out[start:end])
	}
	if !strings.HasSuffix(out, "\nexplored 3 policies: no violation\nexplored the user machine: no violation\n") {
		t.Errorf("summary:\n%s", out[end:])
	}
}

// TestExploreMachineBadUsage: an unknown machine exits 2.
func TestExploreMachineBadUsage(t *testing.T) {
	code, out, errOut := runCmd(t, "explore", "--machine", "nope")
	if code != 2 || out != "" || !strings.Contains(errOut, `unknown machine "nope" (want session, user or all)`) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestExploreUserFindsABrokenMachine: a user machine that lists a resource
// twice is reported with the shortest path that shows it.
func TestExploreUserFindsABrokenMachine(t *testing.T) {
	withStepUser(t, func(u fsm.User, ev fsm.UserEvent) (fsm.User, []fsm.UserEffect) {
		next, effects := fsm.StepUser(u, ev)
		if ev.Kind == fsm.UEvBound && len(next.Resources) > 0 && len(next.Resources) == len(u.Resources) {
			next.Resources = append(append([]fsm.Resource(nil), next.Resources...), fsm.Resource{FullJID: ev.From})
		}
		return next, effects
	})
	code, out, _ := runCmd(t, "explore", "--machine", "user", "--json")
	var rep report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if code != 1 || rep.User == nil || len(rep.User.Violations) == 0 {
		t.Fatalf("exit %d, report %+v", code, rep.User)
	}
	if got := strings.Join(rep.User.Violations[0].Path, " → "); got != "alice bound r1 → alice bound r1" {
		t.Errorf("shortest path %q, want alice bound r1 → alice bound r1", got)
	}
}
