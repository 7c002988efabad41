// Package routetest holds the scenarios that every carrier of the session
// and user machines runs from its tests: impl/hub (one goroutine, the
// simulator's) and impl/router (concurrent, the server's). The same client
// stanzas must give the same stanzas, in the same order, at each
// connection, whichever carries them.
package routetest

import (
	"strings"
	"testing"
)

// World is a server on localhost with the accounts alice (password "a")
// and bob (password "b"), as a scenario drives it. Its methods report
// their own failures on t.
type World interface {
	// Login attaches conn, negotiates a stream, authenticates user and
	// binds resource; it then forgets what conn received so far.
	Login(t *testing.T, conn, user, password, resource string)
	// Send hands conn's session one stanza from its client.
	Send(t *testing.T, conn, xml string)
	// Lose tells conn's session that its connection was lost with text.
	Lose(t *testing.T, conn, text string)
	// Received returns the stanzas sent to conn since the last call, each
	// as fsm.Effect's String renders it.
	Received(conn string) []string
	// Offline returns how many messages are stored for the bare JID.
	Offline(t *testing.T, bare string) int
}

// Expect checks that conn received, since the last look, one stanza
// containing each of the fragments, in order, and nothing else.
func Expect(t *testing.T, w World, conn string, fragments ...string) {
	t.Helper()
	got := w.Received(conn)
	if len(got) != len(fragments) {
		t.Fatalf("%s received %d stanzas, want %d:\n  %s", conn, len(got), len(fragments), strings.Join(got, "\n  "))
	}
	for i, f := range fragments {
		if !strings.Contains(got[i], f) {
			t.Errorf("%s stanza %d:\n  %s\nwant it to contain %q", conn, i, got[i], f)
		}
	}
}

// delayed is the stored message m2 as bob's next resource receives it,
// stamped with the fixed clock both carriers' tests use.
const delayed = `from=alice@localhost/home to=bob@localhost <message type='chat' id='m2' from='alice@localhost/home' to='bob@localhost'><body>later</body><delay xmlns='urn:xmpp:delay' from='localhost' stamp='2026-01-01T00:00:00Z'/></message>`

// SubscriptionHandshake walks alice (connection a) and bob (b, then b2)
// through RFC 6121's subscription handshake, presence after it, a chat
// message, a lost connection, and a message kept offline and delivered at
// bob's next initial presence; it checks every stanza each connection
// sees. It leaves a and b2 logged in and available.
func SubscriptionHandshake(t *testing.T, w World) {
	t.Helper()
	expect := func(conn string, fragments ...string) {
		t.Helper()
		Expect(t, w, conn, fragments...)
	}
	w.Login(t, "a", "alice", "a", "home")
	w.Login(t, "b", "bob", "b", "work")
	w.Send(t, "a", `<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>`)
	expect("a", `<query xmlns='jabber:iq:roster' ver='0'/>`)
	w.Send(t, "b", `<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>`)
	expect("b", `ver='0'`)
	w.Send(t, "a", `<presence/>`)
	expect("a", `send from=alice@localhost/home to=alice@localhost/home <presence/>`)
	w.Send(t, "b", `<presence/>`)
	expect("b", `<presence/>`)

	// Alice asks; Bob sees the request; Alice's roster shows ask.
	w.Send(t, "a", `<presence to='bob@localhost' type='subscribe'/>`)
	expect("a", `<item jid='bob@localhost' subscription='none' ask='subscribe'/>`)
	expect("b", `from=alice@localhost to=bob@localhost <presence to='bob@localhost' type='subscribe'/>`)

	// Bob approves: Alice sees subscribed, her push, then Bob's presence.
	w.Send(t, "b", `<presence to='alice@localhost' type='subscribed'/>`)
	expect("b", `<item jid='alice@localhost' subscription='from'/>`)
	expect("a",
		`from=bob@localhost to=alice@localhost <presence to='alice@localhost' type='subscribed'/>`,
		`<item jid='bob@localhost' subscription='to'/>`,
		`from=bob@localhost/work to=alice@localhost`)

	// Bob's presence now reaches Alice, Alice's does not reach Bob.
	w.Send(t, "b", `<presence><show>away</show></presence>`)
	expect("b", `<show>away</show>`)
	expect("a", `from=bob@localhost/work to=alice@localhost <presence><show>away</show></presence>`)
	w.Send(t, "a", `<presence><show>dnd</show></presence>`)
	expect("a", `<show>dnd</show>`)
	expect("b")

	// A chat message to the bare JID reaches Bob's resource.
	w.Send(t, "a", `<message to='bob@localhost' type='chat' id='m1'><body>hi</body></message>`)
	expect("b", `from=alice@localhost/home to=bob@localhost <message to='bob@localhost' type='chat' id='m1'><body>hi</body></message>`)

	// Bob leaves without a word: Alice sees him go, once.
	w.Lose(t, "b", "closed")
	expect("a", `from=bob@localhost/work to=alice@localhost <presence type='unavailable'><status>Disconnected: closed</status></presence>`)

	// A message for Bob is kept, and delivered with a delay at his next
	// initial presence, after which nothing is kept. Bob has no
	// subscription to Alice: no presence of hers, just the message.
	w.Send(t, "a", `<message to='bob@localhost' type='chat' id='m2'><body>later</body></message>`)
	expect("a")
	if n := w.Offline(t, "bob@localhost"); n != 1 {
		t.Fatalf("bob has %d offline messages, want 1", n)
	}
	w.Login(t, "b2", "bob", "b", "phone")
	w.Send(t, "b2", `<presence/>`)
	expect("b2", `<presence/>`, delayed)
	if n := w.Offline(t, "bob@localhost"); n != 0 {
		t.Fatalf("bob has %d offline messages after the flush, want 0", n)
	}
}

// NoAccount checks the answers for an address with no account (a bounce
// from it) and the server's own answer to a ping. It leaves alice's
// connection a logged in.
func NoAccount(t *testing.T, w World) {
	t.Helper()
	w.Login(t, "a", "alice", "a", "home")
	w.Send(t, "a", `<message to='nobody@localhost' type='chat' id='m1'><body>hi</body></message>`)
	Expect(t, w, "a", `from=nobody@localhost to=alice@localhost/home <message id='m1' type='error'><error type='cancel'><service-unavailable`)
	w.Send(t, "a", `<iq to='localhost' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`)
	Expect(t, w, "a", `from=localhost to=alice@localhost/home <iq type='result' id='p1'/>`)
}
