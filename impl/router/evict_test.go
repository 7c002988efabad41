package router_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/router"
)

// TestEvictionUnderChurn: many distinct users log in, change their roster,
// leave a message for an offline user and log out, from several goroutines
// at once, with no idle machine kept and with a few. The user machines in
// memory, counted after every step, never exceed what the connected
// sessions, the machines being stepped and the idle ones kept need; only
// the idle ones are left at the end, with no resource counted; and what
// the evicted machines held comes back from the store: the rosters at the
// next login, the messages at the recipient's.
func TestEvictionUnderChurn(t *testing.T) {
	for _, idle := range []int{-1, 16} {
		t.Run(fmt.Sprintf("idle=%d", idle), func(t *testing.T) { evictionUnderChurn(t, idle) })
	}
}

func evictionUnderChurn(t *testing.T, idle int) {
	const users, workers = 400, 8
	accounts := map[string]string{"inbox": "pw"}
	for i := range users {
		accounts[fmt.Sprintf("c%03d", i)] = "pw"
	}
	r, st := newRouterWith(t, -1, accounts, router.Options{IdleUsers: idle})
	kept := max(idle, 0)
	// Per worker: its user's machine, and the inbox's and the contact's
	// while they are stepped; and the idle ones kept.
	bound := 3*workers + kept
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
				cl := &client{c: r.Attach(name, func(fsm.Effect) bool { return true }), st: st, after: sample}
				cl.login(tb, name, "pw", "r")
				cl.send(tb, `<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='friend@localhost'/></query></iq>`)
				cl.send(tb, fmt.Sprintf(`<message to='inbox@localhost' type='chat' id='%s'><body>hi</body></message>`, name))
				cl.step(fsm.Event{Kind: fsm.EvStreamEnd})
			}
		})
	}
	wg.Wait()
	if m := maxCells.Load(); m > int64(bound) {
		t.Errorf("%d user machines in memory at once, want at most %d", m, bound)
	}
	if s := r.Stats(); s.Users != s.Idle || s.Idle > kept || s.Conns != 0 || s.Resources != 0 || s.Held != 0 || s.Granting != 0 || s.StoreErrors != 0 {
		t.Errorf("after the churn: %+v, want at most %d idle machines and no connection, resource or count left", s, kept)
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
	if s := r.Stats(); s.Users != s.Idle || s.Idle > kept || s.Held != 0 {
		t.Errorf("at the end: %+v, want at most %d idle machines", s, kept)
	}
}
