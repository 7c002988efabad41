package router_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/router"
)

// TestCrossTraffic: alice and bob (subscribed to each other, two resources
// each) send directed presence and messages to each other's full and bare
// JIDs in tight loops from all four connections at once, while a fifth
// goroutine replaces and re-binds a third resource of alice's. Each side
// holds its user cell while stepping the other's sessions only through the
// FIFO, so this must finish; the deadline only detects a deadlock.
func TestCrossTraffic(t *testing.T) {
	const rounds = 300
	r, st := newRouter(t, -1, map[string]string{"alice": "a", "bob": "b"})
	var mu sync.Mutex
	got := map[string]int{}
	var conns []*router.Conn
	attach := func(id string) *client {
		c := r.Attach(id, func(e fsm.Effect) bool {
			if e.Kind == fsm.EffSend && e.Elem != nil && e.Elem.Tag == "message" {
				mu.Lock()
				got[id]++
				mu.Unlock()
			}
			return true
		})
		conns = append(conns, c)
		return &client{c: c, st: st}
	}
	a1, a2 := attach("a1"), attach("a2")
	b1, b2 := attach("b1"), attach("b2")
	a1.login(t, "alice", "a", "r1")
	a2.login(t, "alice", "a", "r2")
	b1.login(t, "bob", "b", "r1")
	b2.login(t, "bob", "b", "r2")
	a1.send(t, `<presence to='bob@localhost' type='subscribe'/>`)
	b1.send(t, `<presence to='alice@localhost' type='subscribed'/>`)
	b1.send(t, `<presence to='alice@localhost' type='subscribe'/>`)
	a1.send(t, `<presence to='bob@localhost' type='subscribed'/>`)
	for _, cl := range []*client{a1, a2, b1, b2} {
		cl.send(t, `<presence/>`)
	}
	mu.Lock()
	clear(got)
	mu.Unlock()

	var wg sync.WaitGroup
	loop := func(cl *client, peer string) {
		defer wg.Done()
		tb := &safeTB{TB: t}
		for i := range rounds {
			cl.send(tb, fmt.Sprintf(`<presence to='%s/r1'><status>%d</status></presence>`, peer, i))
			cl.send(tb, fmt.Sprintf(`<message to='%s/r2' type='chat' id='f%d'><body>x</body></message>`, peer, i))
			cl.send(tb, fmt.Sprintf(`<message to='%s' type='chat' id='b%d'><body>x</body></message>`, peer, i))
			cl.send(tb, fmt.Sprintf(`<presence to='%s/r2' type='unavailable'/>`, peer))
		}
	}
	wg.Add(5)
	go loop(a1, "bob@localhost")
	go loop(a2, "bob@localhost")
	go loop(b1, "alice@localhost")
	go loop(b2, "alice@localhost")
	go func() {
		defer wg.Done()
		tb := &safeTB{TB: t}
		for i := range rounds / 10 {
			mu.Lock()
			cl := attach(fmt.Sprintf("a3-%d", i))
			mu.Unlock()
			cl.login(tb, "alice", "a", "r3") // replaces the previous a3
			cl.send(tb, `<presence><priority>-1</priority></presence>`)
		}
	}()
	ctx, cancel := deadline(t)
	defer cancel()
	waitOrFail(ctx, t, &wg, "the cross traffic")

	// Each of the 4 senders sent rounds messages to a full JID (one
	// session) and rounds to the bare JID (both available resources of
	// priority 0): 3 deliveries per round per sender, to the peer's side.
	mu.Lock()
	alice, bob := got["a1"]+got["a2"], got["b1"]+got["b2"]
	mu.Unlock()
	if want := 2 * 3 * rounds; alice != want || bob != want {
		t.Errorf("alice's sessions received %d messages, bob's %d; want %d each", alice, bob, want)
	}
	r.Shutdown()
	checkAll(t, r, conns)
}
