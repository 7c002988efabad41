package router_test

import (
	"sync"
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/router"
	"github.com/xmppfsm/xmppfsm/impl/routetest"
	"github.com/xmppfsm/xmppfsm/impl/store/memstore"
)

// world is a router with two accounts and a record of what each
// connection received since the last look: routetest's World, through
// the router.
type world struct {
	t       *testing.T
	r       *router.Router
	st      *memstore.Store
	mu      sync.Mutex
	got     map[string][]string
	clients map[string]*client
	conns   []*router.Conn
}

func newWorld(t *testing.T) *world {
	r, st := newRouter(t, 0, map[string]string{"alice": "a", "bob": "b"})
	return &world{t: t, r: r, st: st, got: map[string][]string{}, clients: map[string]*client{}}
}

func (w *world) attach(id string) *client {
	c := w.r.Attach(id, func(e fsm.Effect) bool {
		if e.Kind == fsm.EffSend {
			w.mu.Lock()
			w.got[id] = append(w.got[id], e.String())
			w.mu.Unlock()
		}
		return true
	})
	cl := &client{c: c, st: w.st}
	w.clients[id] = cl
	w.conns = append(w.conns, c)
	return cl
}

// Login implements routetest.World.
func (w *world) Login(t *testing.T, conn, user, password, resource string) {
	t.Helper()
	w.attach(conn).login(t, user, password, resource)
	w.mu.Lock()
	w.got[conn] = nil
	w.mu.Unlock()
}

// Send implements routetest.World.
func (w *world) Send(t *testing.T, conn, xml string) {
	t.Helper()
	w.clients[conn].send(t, xml)
}

// Lose implements routetest.World; the lost connection must be detached.
func (w *world) Lose(t *testing.T, conn, text string) {
	t.Helper()
	w.clients[conn].step(fsm.Event{Kind: fsm.EvConnLost, Text: text})
	if _, ok := w.r.Session(conn); ok {
		t.Errorf("%s is still attached after its connection was lost", conn)
	}
}

// Received implements routetest.World.
func (w *world) Received(conn string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	got := w.got[conn]
	w.got[conn] = nil
	return got
}

// Offline implements routetest.World.
func (w *world) Offline(t *testing.T, bare string) int {
	t.Helper()
	msgs, err := w.st.Offline(bare)
	if err != nil {
		t.Fatal(err)
	}
	return len(msgs)
}

// expect is routetest.Expect on w.
func (w *world) expect(conn string, fragments ...string) {
	w.t.Helper()
	routetest.Expect(w.t, w, conn, fragments...)
}

// TestSubscriptionHandshake: routetest's scenario through the router,
// then what it left in the store, and the connections' ends.
func TestSubscriptionHandshake(t *testing.T) {
	w := newWorld(t)
	routetest.SubscriptionHandshake(t, w)

	// The roster survived in the store.
	if ro, _ := w.st.Roster("alice@localhost"); len(ro.Items) != 1 || ro.Items[0].Sub != fsm.SubTo {
		t.Errorf("alice's stored roster: %+v", ro)
	}

	w.Send(t, "a", `<presence type='unavailable'/>`)
	w.clients["a"].step(fsm.Event{Kind: fsm.EvStreamEnd})
	w.clients["b2"].step(fsm.Event{Kind: fsm.EvStreamEnd})
	checkAll(t, w.r, w.conns)
}

// TestNoAccount: routetest's scenario through the router.
func TestNoAccount(t *testing.T) {
	w := newWorld(t)
	routetest.NoAccount(t, w)
	w.clients["a"].step(fsm.Event{Kind: fsm.EvConnLost})
	checkAll(t, w.r, w.conns)
}

// TestReplace binds a resource that another connection holds: the holder
// gets a conflict stream error, the user machine ends with the new
// session's resource only, and stanzas reach the new session.
func TestReplace(t *testing.T) {
	w := newWorld(t)
	w.Login(t, "a1", "alice", "a", "home")
	w.Send(t, "a1", `<presence/>`)
	w.expect("a1", `<presence/>`)
	w.Login(t, "a2", "alice", "a", "home")
	if s := w.clients["a1"].c.Session(); s.Phase != fsm.Closed {
		t.Fatalf("a1 is %v after being replaced", s.Phase)
	}
	w.expect("a1", `<conflict`)
	u, _ := w.r.User("alice@localhost")
	if len(u.Resources) != 1 || u.Resources[0].FullJID != "alice@localhost/home" || u.Resources[0].Available() {
		t.Fatalf("alice's resources after the replace: %+v", u.Resources)
	}
	w.Login(t, "b", "bob", "b", "work")
	w.Send(t, "b", `<message to='alice@localhost/home' type='chat' id='m1'><body>hi</body></message>`)
	w.expect("a2", `id='m1'`)
	w.expect("a1")
	if st := w.r.Stats(); st.Resources != 2 || st.Conns != 2 {
		t.Fatalf("stats: %+v", st)
	}
	w.r.Shutdown()
	w.expect("a2", `<system-shutdown`)
	w.expect("b", `<system-shutdown`)
	checkAll(t, w.r, w.conns)
}

// TestOfflineQuota: a message over the offline limit is counted and
// bounced to its sender with service-unavailable (I-27).
func TestOfflineQuota(t *testing.T) {
	r, st := newRouter(t, 1, map[string]string{"alice": "a", "bob": "b"})
	var got []string
	a := &client{c: r.Attach("a", func(e fsm.Effect) bool {
		if e.Kind == fsm.EffSend {
			got = append(got, e.String())
		}
		return true
	}), st: st}
	a.login(t, "alice", "a", "home")
	got = nil
	a.send(t, `<message to='bob@localhost' type='chat' id='m1'><body>1</body></message>`)
	a.send(t, `<message to='bob@localhost' type='chat' id='m2'><body>2</body></message>`)
	if msgs, _ := st.Offline("bob@localhost"); len(msgs) != 1 {
		t.Fatalf("bob has %d offline messages, want 1", len(msgs))
	}
	if s := r.Stats(); s.OfflineDropped != 1 {
		t.Fatalf("OfflineDropped = %d, want 1", s.OfflineDropped)
	}
	want := "send from=bob@localhost to=alice@localhost/home <message id='m2' type='error'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
	if len(got) != 1 || got[0] != want {
		t.Fatalf("alice received %v, want the bounce of m2", got)
	}
}
