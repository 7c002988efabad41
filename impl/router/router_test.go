package router_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/router"
	"github.com/xmppfsm/xmppfsm/impl/store/memstore"
)

// world is a router with two accounts and a record of what each
// connection received since the last look: hub_test.go's world, through
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

func (w *world) login(conn, user, password, resource string) string {
	w.t.Helper()
	full := w.attach(conn).login(w.t, user, password, resource)
	w.mu.Lock()
	w.got[conn] = nil
	w.mu.Unlock()
	return full
}

func (w *world) send(conn, xml string) {
	w.t.Helper()
	w.clients[conn].send(w.t, xml)
}

// expect checks that conn received, since the last look, stanzas containing
// each of the fragments, in order, and nothing else.
func (w *world) expect(conn string, fragments ...string) {
	w.t.Helper()
	w.mu.Lock()
	got := w.got[conn]
	w.got[conn] = nil
	w.mu.Unlock()
	if len(got) != len(fragments) {
		w.t.Fatalf("%s received %d stanzas, want %d:\n  %s", conn, len(got), len(fragments), strings.Join(got, "\n  "))
	}
	for i, f := range fragments {
		if !strings.Contains(got[i], f) {
			w.t.Errorf("%s stanza %d:\n  %s\nwant it to contain %q", conn, i, got[i], f)
		}
	}
}

// TestSubscriptionHandshake is hub's TestSubscriptionHandshake through the
// router: the same stanzas, in the same order, at each connection.
func TestSubscriptionHandshake(t *testing.T) {
	w := newWorld(t)
	w.login("a", "alice", "a", "home")
	w.login("b", "bob", "b", "work")
	w.send("a", `<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>`)
	w.expect("a", `<query xmlns='jabber:iq:roster' ver='0'/>`)
	w.send("b", `<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>`)
	w.expect("b", `ver='0'`)
	w.send("a", `<presence/>`)
	w.expect("a", `send from=alice@localhost/home to=alice@localhost/home <presence/>`)
	w.send("b", `<presence/>`)
	w.expect("b", `<presence/>`)

	w.send("a", `<presence to='bob@localhost' type='subscribe'/>`)
	w.expect("a", `<item jid='bob@localhost' subscription='none' ask='subscribe'/>`)
	w.expect("b", `from=alice@localhost to=bob@localhost <presence to='bob@localhost' type='subscribe'/>`)

	w.send("b", `<presence to='alice@localhost' type='subscribed'/>`)
	w.expect("b", `<item jid='alice@localhost' subscription='from'/>`)
	w.expect("a",
		`from=bob@localhost to=alice@localhost <presence to='alice@localhost' type='subscribed'/>`,
		`<item jid='bob@localhost' subscription='to'/>`,
		`from=bob@localhost/work to=alice@localhost`)

	w.send("b", `<presence><show>away</show></presence>`)
	w.expect("b", `<show>away</show>`)
	w.expect("a", `from=bob@localhost/work to=alice@localhost <presence><show>away</show></presence>`)
	w.send("a", `<presence><show>dnd</show></presence>`)
	w.expect("a", `<show>dnd</show>`)
	w.expect("b")

	w.send("a", `<message to='bob@localhost' type='chat' id='m1'><body>hi</body></message>`)
	w.expect("b", `from=alice@localhost/home to=bob@localhost <message to='bob@localhost' type='chat' id='m1'><body>hi</body></message>`)

	w.clients["b"].step(fsm.Event{Kind: fsm.EvConnLost, Text: "closed"})
	w.expect("a", `from=bob@localhost/work to=alice@localhost <presence type='unavailable'><status>Disconnected: closed</status></presence>`)
	if _, ok := w.r.Session("b"); ok {
		t.Error("b is still attached after its connection was lost")
	}

	// Offline storage and the flush at the next initial presence.
	w.send("a", `<message to='bob@localhost' type='chat' id='m2'><body>later</body></message>`)
	w.expect("a")
	if msgs, _ := w.st.Offline("bob@localhost"); len(msgs) != 1 {
		t.Fatalf("bob has %d offline messages, want 1", len(msgs))
	}
	w.login("b2", "bob", "b", "phone")
	w.send("b2", `<presence/>`)
	w.expect("b2",
		`<presence/>`,
		`from=alice@localhost/home to=bob@localhost <message type='chat' id='m2' from='alice@localhost/home' to='bob@localhost'><body>later</body><delay xmlns='urn:xmpp:delay' from='localhost' stamp='2026-01-01T00:00:00Z'/></message>`)
	if msgs, _ := w.st.Offline("bob@localhost"); len(msgs) != 0 {
		t.Fatalf("bob has %d offline messages after the flush, want 0", len(msgs))
	}

	// The roster survived in the store.
	if ro, _ := w.st.Roster("alice@localhost"); len(ro.Items) != 1 || ro.Items[0].Sub != fsm.SubTo {
		t.Errorf("alice's stored roster: %+v", ro)
	}

	w.send("a", `<presence type='unavailable'/>`)
	w.clients["a"].step(fsm.Event{Kind: fsm.EvStreamEnd})
	w.clients["b2"].step(fsm.Event{Kind: fsm.EvStreamEnd})
	checkAll(t, w.r, w.conns)
}

// TestNoAccount is hub's TestNoAccount: the answers for an address with no
// account, and the server's own answers.
func TestNoAccount(t *testing.T) {
	w := newWorld(t)
	w.login("a", "alice", "a", "home")
	w.send("a", `<message to='nobody@localhost' type='chat' id='m1'><body>hi</body></message>`)
	w.expect("a", `from=nobody@localhost to=alice@localhost/home <message id='m1' type='error'><error type='cancel'><service-unavailable`)
	w.send("a", `<iq to='localhost' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`)
	w.expect("a", `from=localhost to=alice@localhost/home <iq type='result' id='p1'/>`)
	w.clients["a"].step(fsm.Event{Kind: fsm.EvConnLost})
	checkAll(t, w.r, w.conns)
}

// TestReplace binds a resource that another connection holds: the holder
// gets a conflict stream error, the user machine ends with the new
// session's resource only, and stanzas reach the new session.
func TestReplace(t *testing.T) {
	w := newWorld(t)
	w.login("a1", "alice", "a", "home")
	w.send("a1", `<presence/>`)
	w.expect("a1", `<presence/>`)
	w.login("a2", "alice", "a", "home")
	if s := w.clients["a1"].c.Session(); s.Phase != fsm.Closed {
		t.Fatalf("a1 is %v after being replaced", s.Phase)
	}
	w.expect("a1", `<conflict`)
	u, _ := w.r.User("alice@localhost")
	if len(u.Resources) != 1 || u.Resources[0].FullJID != "alice@localhost/home" || u.Resources[0].Available() {
		t.Fatalf("alice's resources after the replace: %+v", u.Resources)
	}
	w.login("b", "bob", "b", "work")
	w.send("b", `<message to='alice@localhost/home' type='chat' id='m1'><body>hi</body></message>`)
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
