package fsm_test

import (
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/spec"
)

// TestExploredStatesAgreeWithModel runs the exhaustive explorer over the
// machine under every policy: every reachable abstract state, every input,
// checked against the invariants and the model (the checks are listed in
// spec.Checks).
func TestExploredStatesAgreeWithModel(t *testing.T) {
	for name, p := range spec.Policies() {
		x := spec.Explore(p, fsm.Step)
		if x.States < 30 {
			t.Errorf("%s: only %d states explored", name, x.States)
		}
		for _, v := range x.Violations {
			t.Errorf("%s: %v", name, v)
		}
	}
}
