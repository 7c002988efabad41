package router_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
)

// TestFlushCutByOverflow: a login whose offline flush is more than the
// connection's output can take loses none of it (I-27, S-98). The output
// here has room for a few messages (a cap set by the test, not the
// server's accounting): the session closes at the first it refuses, only
// the messages handed over before it are deleted, and the next login gets
// the rest, in order, each once.
func TestFlushCutByOverflow(t *testing.T) {
	const stored, room = 10, 4
	w := newWorld(t)
	storeForBob(t, w, stored)

	b, got := flushLogin(w, "b1", room)
	if s := b.c.Session(); s.Phase != fsm.Closed {
		t.Fatalf("bob's session is %v after a flush bigger than its output, want closed", s.Phase)
	}
	if n := countIDs(got, "m"); n != room {
		t.Errorf("first login got %d messages, want %d:\n  %s", n, room, strings.Join(got, "\n  "))
	}
	msgs, err := w.st.Offline("bob@localhost")
	if err != nil || len(msgs) != stored-room {
		t.Fatalf("%d messages stored after the cut flush (%v), want the %d not handed over", len(msgs), err, stored-room)
	}
	if id := msgs[0].Elem.SelectAttrValue("id", ""); id != fmt.Sprintf("m%d", room) {
		t.Errorf("oldest stored message after the cut flush is %s, want m%d", id, room)
	}

	// The next login, with room for everything, gets the rest.
	b2, got := flushLogin(w, "b2", stored)
	for i := room; i < stored; i++ {
		if countIDs(got, fmt.Sprintf("m%d'", i)) != 1 {
			t.Errorf("second login: message m%d not delivered once:\n  %s", i, strings.Join(got, "\n  "))
		}
	}
	if n := countIDs(got, "m"); n != stored-room {
		t.Errorf("second login got %d messages, want %d", n, stored-room)
	}
	if msgs, err := w.st.Offline("bob@localhost"); err != nil || len(msgs) != 0 {
		t.Errorf("%d messages still stored (%v), want none", len(msgs), err)
	}
	b2.step(fsm.Event{Kind: fsm.EvStreamEnd})
	w.clients["a"].step(fsm.Event{Kind: fsm.EvStreamEnd})
	checkAll(t, w.r, w.conns)
}

// flushLogin logs bob in on connection id, whose output has room for room
// messages, sends initial presence and returns the client and what the
// presence brought.
func flushLogin(w *world, id string, room int) (*client, []string) {
	out := &capped{room: room}
	b := &client{c: w.r.Attach(id, out.out), st: w.st}
	w.conns = append(w.conns, b.c)
	b.login(w.t, "bob", "b", "work")
	out.take()
	b.send(w.t, `<presence/>`)
	return b, out.take()
}

// countIDs counts the delayed messages among writes whose id starts with
// prefix.
func countIDs(writes []string, prefix string) int {
	n := 0
	for _, s := range writes {
		if strings.Contains(s, "<message") && strings.Contains(s, "urn:xmpp:delay") && strings.Contains(s, "id='"+prefix) {
			n++
		}
	}
	return n
}

// TestFlushToLostConnection: when the connection's writes start failing in
// the middle of an offline flush (the adapter calls Lost, and its output
// takes and drops everything after, as a dying connection's does), the
// messages given to the session from the step in which the loss is known
// on are not handed over and stay stored (I-27): that one may or may not
// have gone out, and twice is better than never.
func TestFlushToLostConnection(t *testing.T) {
	const stored, before = 10, 3
	w := newWorld(t)
	storeForBob(t, w, stored)
	var b *client
	sent := 0
	b = &client{c: w.r.Attach("b1", func(e fsm.Effect) bool {
		if e.Kind == fsm.EffSend && e.Elem != nil && e.Elem.Tag == "message" {
			if sent++; sent == before {
				b.c.Lost() // the writer failed while this one was given
			}
		}
		return true
	}), st: w.st}
	w.conns = append(w.conns, b.c)
	b.login(t, "bob", "b", "work")
	b.send(t, `<presence/>`)
	if sent != stored {
		t.Fatalf("the flush gave %d messages to the session, want all %d", sent, stored)
	}
	msgs, err := w.st.Offline("bob@localhost")
	if err != nil || len(msgs) != stored-before+1 {
		t.Fatalf("%d messages stored after a flush to a lost connection (%v), want the %d given from the loss on", len(msgs), err, stored-before+1)
	}
	if id := msgs[0].Elem.SelectAttrValue("id", ""); id != fmt.Sprintf("m%d", before-1) {
		t.Errorf("oldest stored message is %s, want m%d", id, before-1)
	}
	b.step(fsm.Event{Kind: fsm.EvConnLost})
	w.clients["a"].step(fsm.Event{Kind: fsm.EvStreamEnd})
	checkAll(t, w.r, w.conns)
}

// storeForBob logs alice in on connection a and has her send offline bob
// the chat messages m0…m(n-1), which must all be stored.
func storeForBob(t *testing.T, w *world, n int) {
	t.Helper()
	w.Login(t, "a", "alice", "a", "home")
	for i := range n {
		w.Send(t, "a", fmt.Sprintf(`<message to='bob@localhost' type='chat' id='m%d'><body>%d</body></message>`, i, i))
	}
	if msgs, err := w.st.Offline("bob@localhost"); err != nil || len(msgs) != n {
		t.Fatalf("bob has %d stored messages (%v), want %d", len(msgs), err, n)
	}
}
