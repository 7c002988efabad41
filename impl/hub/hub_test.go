package hub_test

import (
	"strings"
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/hub"
	"github.com/xmppfsm/xmppfsm/impl/routetest"
)

// world is a hub with two accounts and a record of what each connection
// received since the last look: routetest's World.
type world struct {
	h    *hub.Hub
	got  map[string][]string
	logs []string
}

func newWorld(t *testing.T) *world {
	p := fsm.DefaultPolicy
	p.Mechanisms = []fsm.Mechanism{{Name: "PLAIN"}}
	w := &world{h: hub.New(&p), got: map[string][]string{}}
	w.h.Store.AddAccount("alice", "a")
	w.h.Store.AddAccount("bob", "b")
	w.h.Output = func(o hub.Output) {
		if o.Effect.Kind == fsm.EffSend {
			w.got[o.Conn] = append(w.got[o.Conn], o.Effect.String())
		}
	}
	w.h.Trace = func(machine, ev string, effects []string) {
		w.logs = append(w.logs, machine+": "+ev)
		for _, e := range effects {
			w.logs = append(w.logs, "    "+e)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log("trace:\n" + strings.Join(w.logs, "\n"))
		}
	})
	return w
}

// Login implements routetest.World.
func (w *world) Login(t *testing.T, conn, user, password, resource string) {
	t.Helper()
	if _, err := w.h.Login(conn, "localhost", user, password, resource); err != nil {
		t.Fatal(err)
	}
	w.got[conn] = nil
}

// Send implements routetest.World.
func (w *world) Send(t *testing.T, conn, xml string) {
	t.Helper()
	if err := w.h.SendXML(conn, xml); err != nil {
		t.Fatal(err)
	}
}

// Lose implements routetest.World.
func (w *world) Lose(t *testing.T, conn, text string) {
	w.h.Send(conn, fsm.Event{Kind: fsm.EvConnLost, Text: text})
}

// Received implements routetest.World.
func (w *world) Received(conn string) []string {
	got := w.got[conn]
	w.got[conn] = nil
	return got
}

// Offline implements routetest.World.
func (w *world) Offline(t *testing.T, bare string) int { return len(w.h.Store.Offline(bare)) }

// TestSubscriptionHandshake: routetest's scenario through the hub.
func TestSubscriptionHandshake(t *testing.T) {
	routetest.SubscriptionHandshake(t, newWorld(t))
}

// TestNoAccount: routetest's scenario through the hub.
func TestNoAccount(t *testing.T) {
	routetest.NoAccount(t, newWorld(t))
}
