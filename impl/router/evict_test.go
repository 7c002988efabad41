package router_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
)

// TestEvictionUnderChurn: many distinct users log in, change their roster,
// leave a message for an offline user and log out, from several goroutines
// at once. The user machines in memory never exceed what the connected
// sessions and the machines being stepped need, none is left at the end,
// and what the evicted machines held comes back from the store: the
// rosters at the next login, the messages at the recipient's.
func TestEvictionUnderChurn(t *testing.T) {
	const users, workers = 400, 8
	accounts := map[string]string{"inbox": "pw"}
	for i := range users {
		accounts[fmt.Sprintf("c%03d", i)] = "pw"
	}
	r, st := newRouter(t, -1, accounts)
	// Per worker: its user's machine, and the inbox's and the contact's
	// while they are stepped.
	const bound = 3 * workers
	var maxCells atomic.Int64
	sample := func() {
		n := int64(r.Stats().Users)
		for {
			m := maxCells.Load()
			if n <= m || maxCells.CompareAndSwap(m, n) {
				return
			}
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			tb := &safeTB{TB: t}
			for i := w; i < users; i += workers {
				name := fmt.Sprintf("c%03d", i)
				cl := &client{c: r.Attach(name, func(fsm.Effect) bool { return true }), st: st}
				cl.login(tb, name, "pw", "r")
				sample()
				cl.send(tb, `<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='friend@localhost'/></query></iq>`)
				cl.send(tb, fmt.Sprintf(`<message to='inbox@localhost' type='chat' id='%s'><body>hi</body></message>`, name))
				sample()
				cl.step(fsm.Event{Kind: fsm.EvStreamEnd})
			}
		})
	}
	wg.Wait()
	if m := maxCells.Load(); m > bound {
		t.Errorf("%d user machines in memory at once, want at most %d", m, bound)
	}
	if s := r.Stats(); s.Users != 0 || s.Conns != 0 || s.Resources != 0 || s.StoreErrors != 0 {
		t.Errorf("after the churn: %+v, want no machine, connection or resource left", s)
	}

	// The rosters come back from the store.
	for _, i := range []int{0, users / 2, users - 1} {
		name := fmt.Sprintf("c%03d", i)
		var got []string
		cl := &client{c: r.Attach(name+"-again", func(e fsm.Effect) bool {
			if e.Kind == fsm.EffSend {
				got = append(got, e.String())
			}
			return true
		}), st: st}
		cl.login(t, name, "pw", "r")
		got = nil
		cl.send(t, `<iq type='get' id='g1'><query xmlns='jabber:iq:roster'/></iq>`)
		if len(got) != 1 || !strings.Contains(got[0], `<item jid='friend@localhost' subscription='none'/>`) {
			t.Errorf("%s's roster after eviction: %v", name, got)
		}
		cl.step(fsm.Event{Kind: fsm.EvStreamEnd})
	}

	// The inbox gets every message at its initial presence.
	var delivered int
	inbox := &client{c: r.Attach("inbox", func(e fsm.Effect) bool {
		if e.Kind == fsm.EffSend && e.Elem != nil && e.Elem.Tag == "message" && e.Elem.SelectElement("delay") != nil {
			delivered++
		}
		return true
	}), st: st}
	inbox.login(t, "inbox", "pw", "r")
	inbox.send(t, `<presence/>`)
	if delivered != users {
		t.Errorf("inbox got %d stored messages, want %d", delivered, users)
	}
	inbox.step(fsm.Event{Kind: fsm.EvStreamEnd})
	if n := r.Stats().Users; n != 0 {
		t.Errorf("%d user machines left", n)
	}
}
