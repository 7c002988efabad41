package spec_test

import (
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/spec"
)

func TestExploreFindsNoViolation(t *testing.T) {
	for name, p := range spec.Policies() {
		x := spec.Explore(p, fsm.Step)
		t.Logf("%s: %d states, %d transitions", name, x.States, x.Transitions)
		for _, v := range x.Violations {
			t.Errorf("%s: %v", name, v)
		}
	}
}

// stateSpace is the size of the explored state space per policy today
// (cmd/simulate's TestExploreReportsEveryPolicy asserts the same numbers).
// A change must be deliberate: a silent shrink means states are no longer
// reached, a growth means the model or the alphabet changed. Update both
// tests together.
var stateSpace = map[string]struct{ states, transitions int }{
	"rfc":         {96, 4224},
	"require-tls": {51, 2244},
	"variants":    {33, 1452},
}

// TestExploreStateSpace asserts the exact number of abstract states and
// transitions spec.Explore reaches under each policy, that every state is
// stepped with every input, and that the per-phase counts add up.
func TestExploreStateSpace(t *testing.T) {
	policies := spec.Policies()
	if len(policies) != len(stateSpace) {
		t.Errorf("spec.Policies() has %d policies, the test knows %d", len(policies), len(stateSpace))
	}
	for name, p := range policies {
		want, ok := stateSpace[name]
		if !ok {
			t.Errorf("policy %s: no expected state space", name)
			continue
		}
		x := spec.Explore(p, fsm.Step)
		if x.States != want.states || x.Transitions != want.transitions {
			t.Errorf("%s: %d states, %d transitions; want exactly %d and %d", name, x.States, x.Transitions, want.states, want.transitions)
		}
		if x.Transitions != x.States*len(spec.Inputs) {
			t.Errorf("%s: %d transitions for %d states × %d inputs", name, x.Transitions, x.States, len(spec.Inputs))
		}
		sum := 0
		for _, n := range x.Phases {
			sum += n
		}
		if sum != x.States || x.Phases[fsm.Unconnected] != 1 || x.Phases[fsm.Closed] != 1 || x.Phases[fsm.Established] == 0 {
			t.Errorf("%s: states per phase %v", name, x.Phases)
		}
	}
}

// BenchmarkExplore explores every policy of spec.Policies() with fsm.Step,
// as `simulate explore` does.
func BenchmarkExplore(b *testing.B) {
	policies := spec.Policies()
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range policies {
			if x := spec.Explore(p, fsm.Step); len(x.Violations) > 0 {
				b.Fatalf("violation: %v", x.Violations[0])
			}
		}
	}
}
