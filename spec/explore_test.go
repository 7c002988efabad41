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
