package fsm_test

import (
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
)

// TestUserEffectKinds: the writes a hub commits at once (I-56) are exactly
// the roster and pending-request effects, and every kind has its name.
func TestUserEffectKinds(t *testing.T) {
	writes := map[fsm.UserEffectKind]bool{
		fsm.UEffSaveItem: true, fsm.UEffRemoveItem: true,
		fsm.UEffSavePending: true, fsm.UEffDeletePending: true,
	}
	names := map[string]bool{}
	k := fsm.UserEffectKind(0)
	for ; k.String() != "user-effect(?)"; k++ {
		if k.IsWrite() != writes[k] {
			t.Errorf("%v: IsWrite() = %v", k, k.IsWrite())
		}
		if names[k.String()] {
			t.Errorf("two kinds are named %q", k)
		}
		names[k.String()] = true
	}
	if k != fsm.UEffDeleteOffline+1 {
		t.Errorf("the kinds' names end at %d, want after delete-offline (%d)", k, fsm.UEffDeleteOffline)
	}
	if k.IsWrite() {
		t.Errorf("an unknown kind is a write")
	}
}
