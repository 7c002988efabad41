package hub_test

import (
	"strings"
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/hub"
)

// world is a hub with two accounts and a record of what each connection
// received since the last look.
type world struct {
	t    *testing.T
	h    *hub.Hub
	got  map[string][]string
	logs []string
}

func newWorld(t *testing.T) *world {
	p := fsm.DefaultPolicy
	p.Mechanisms = []fsm.Mechanism{{Name: "PLAIN"}}
	w := &world{t: t, h: hub.New(&p), got: map[string][]string{}}
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

func (w *world) login(conn, user, password, resource string) string {
	w.t.Helper()
	full, err := w.h.Login(conn, "localhost", user, password, resource)
	if err != nil {
		w.t.Fatal(err)
	}
	w.got[conn] = nil
	return full
}

func (w *world) send(conn, xml string) {
	w.t.Helper()
	if err := w.h.SendXML(conn, xml); err != nil {
		w.t.Fatal(err)
	}
}

// expect checks that conn received, since the last look, stanzas containing
// each of the fragments, in order, and nothing else.
func (w *world) expect(conn string, fragments ...string) {
	w.t.Helper()
	got := w.got[conn]
	w.got[conn] = nil
	if len(got) != len(fragments) {
		w.t.Fatalf("%s received %d stanzas, want %d:\n  %s", conn, len(got), len(fragments), strings.Join(got, "\n  "))
	}
	for i, f := range fragments {
		if !strings.Contains(got[i], f) {
			w.t.Errorf("%s stanza %d:\n  %s\nwant it to contain %q", conn, i, got[i], f)
		}
	}
}

// TestSubscriptionHandshake walks two users through RFC 6121's subscription
// handshake and checks every stanza each client sees.
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

	// Alice asks; Bob sees the request; Alice's roster shows ask.
	w.send("a", `<presence to='bob@localhost' type='subscribe'/>`)
	w.expect("a", `<item jid='bob@localhost' subscription='none' ask='subscribe'/>`)
	w.expect("b", `from=alice@localhost to=bob@localhost <presence to='bob@localhost' type='subscribe'/>`)

	// Bob approves: Alice sees subscribed, her push, then Bob's presence.
	w.send("b", `<presence to='alice@localhost' type='subscribed'/>`)
	w.expect("b", `<item jid='alice@localhost' subscription='from'/>`)
	w.expect("a",
		`from=bob@localhost to=alice@localhost <presence to='alice@localhost' type='subscribed'/>`,
		`<item jid='bob@localhost' subscription='to'/>`,
		`from=bob@localhost/work to=alice@localhost`)

	// Bob's presence now reaches Alice, Alice's does not reach Bob.
	w.send("b", `<presence><show>away</show></presence>`)
	w.expect("b", `<show>away</show>`)
	w.expect("a", `from=bob@localhost/work to=alice@localhost <presence><show>away</show></presence>`)
	w.send("a", `<presence><show>dnd</show></presence>`)
	w.expect("a", `<show>dnd</show>`)
	w.expect("b")

	// A chat message to the bare JID reaches Bob's resource.
	w.send("a", `<message to='bob@localhost' type='chat' id='m1'><body>hi</body></message>`)
	w.expect("b", `from=alice@localhost/home to=bob@localhost <message to='bob@localhost' type='chat' id='m1'><body>hi</body></message>`)

	// Bob leaves without a word: Alice sees him go, once.
	w.h.Send("b", fsm.Event{Kind: fsm.EvConnLost, Text: "closed"})
	w.expect("a", `from=bob@localhost/work to=alice@localhost <presence type='unavailable'><status>Disconnected: closed</status></presence>`)

	// A message for Bob is kept, and delivered with a delay at his next
	// initial presence.
	w.send("a", `<message to='bob@localhost' type='chat' id='m2'><body>later</body></message>`)
	w.expect("a")
	w.login("b2", "bob", "b", "phone")
	w.send("b2", `<presence/>`)
	// Bob has no subscription to Alice: no presence of hers, just the
	// stored message.
	w.expect("b2",
		`<presence/>`,
		`from=alice@localhost/home to=bob@localhost <message type='chat' id='m2' from='alice@localhost/home' to='bob@localhost'><body>later</body><delay xmlns='urn:xmpp:delay' from='localhost' stamp='2026-01-01T00:00:00Z'/></message>`)
}

// TestNoAccount checks the answers for an address with no account.
func TestNoAccount(t *testing.T) {
	w := newWorld(t)
	w.login("a", "alice", "a", "home")
	w.send("a", `<message to='nobody@localhost' type='chat' id='m1'><body>hi</body></message>`)
	w.expect("a", `from=nobody@localhost to=alice@localhost/home <message id='m1' type='error'><error type='cancel'><service-unavailable`)
	w.send("a", `<iq to='localhost' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`)
	w.expect("a", `from=localhost to=alice@localhost/home <iq type='result' id='p1'/>`)
}
