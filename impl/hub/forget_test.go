package hub_test

import (
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/hub"
)

// TestForget checks that the hub forgets a session only once it is closed,
// and that an event sent to a forgotten connection reaches nothing.
func TestForget(t *testing.T) {
	h := hub.New(&fsm.DefaultPolicy)
	var written []string
	h.Output = func(o hub.Output) { written = append(written, o.Conn) }
	h.Connect("c1")
	if h.Forget("c1") {
		t.Fatal("forgot a session that is not closed")
	}
	if h.Forget("c9") {
		t.Fatal("forgot a connection that never was")
	}
	h.Send("c1", fsm.Event{Kind: fsm.EvConnLost})
	if s, ok := h.Session("c1"); !ok || s.Phase != fsm.Closed {
		t.Fatalf("after the connection was lost: %v %v, want a closed session", s.Phase, ok)
	}
	if !h.Forget("c1") {
		t.Fatal("did not forget a closed session")
	}
	if _, ok := h.Session("c1"); ok {
		t.Fatal("a forgotten session is still in the registry")
	}
	if len(h.Conns()) != 0 {
		t.Fatalf("conns %v after forgetting the only one", h.Conns())
	}
	written = nil
	h.Send("c1", fsm.Event{Kind: fsm.EvStreamEnd})
	if len(written) != 0 {
		t.Fatalf("an event to a forgotten connection wrote to %v", written)
	}
	if _, ok := h.Session("c1"); ok {
		t.Fatal("an event to a forgotten connection brought its session back")
	}
}
