package fsm_test

import (
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
)

// TestBroadcastOnlyPresence: a broadcast is presence without a to and
// with no type or type unavailable (S-65, S-70); the user machine drops
// anything else and changes nothing (I-2), where keeping it as the
// resource's presence would break UI-3. <presence/> is the control: it is
// kept and sent.
func TestBroadcastOnlyPresence(t *testing.T) {
	const full = "alice@localhost/r1"
	for _, tc := range []struct {
		xml  string
		kept bool
	}{
		{`<presence/>`, true},
		{`<message/>`, false},
		{`<presence type=''/>`, false},
		{`<presence to='alice@localhost'/>`, false},
		{`<presence to='bob@localhost'/>`, false},
		{`<presence type='subscribe'/>`, false},
		{`<presence type='probe'/>`, false},
	} {
		el, err := parseXML(tc.xml)
		if err != nil {
			t.Fatal(err)
		}
		u := fsm.NewUser(nil, "alice@localhost", true, fsm.Roster{}, nil)
		u, _ = fsm.StepUser(u, fsm.UserEvent{Kind: fsm.UEvBound, From: full})
		after, effects := fsm.StepUser(u, fsm.UserEvent{Kind: fsm.UEvBroadcast, From: full, Elem: el})
		if err := after.Check(); err != nil {
			t.Errorf("broadcast %s: %v", tc.xml, err)
		}
		if kept := after.Resources[0].Available(); kept != tc.kept || (len(effects) > 0) != tc.kept {
			t.Errorf("broadcast %s: available %v with %d effects, want kept=%v", tc.xml, kept, len(effects), tc.kept)
		}
	}
}
