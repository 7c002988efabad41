package router_test

import (
	"fmt"
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/hub"
	"github.com/xmppfsm/xmppfsm/impl/router"
	"github.com/xmppfsm/xmppfsm/impl/store/boltstore"
)

// BenchmarkPresenceToOfflineContacts: a user with 1,000 contacts (mutual
// subscriptions), none of them connected, sends available presence, which
// goes to each contact's user machine (RFC 6121 §4.2.2), over the bbolt
// store. Each contact's roster has 20 items. One op is one broadcast: with
// idle machines kept (Options.IdleUsers) the contacts stay loaded; without,
// each is read and decoded from the store on every broadcast.
func BenchmarkPresenceToOfflineContacts(b *testing.B) {
	const contacts, items = 1000, 20
	st, err := boltstore.OpenDir(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	if err := st.CreateAccount("u", []byte("pw")); err != nil {
		b.Fatal(err)
	}
	var mine []fsm.UserEffect
	for i := range contacts {
		c := fmt.Sprintf("c%04d@localhost", i)
		mine = append(mine, fsm.UserEffect{Kind: fsm.UEffSaveItem, Item: fsm.RosterItem{JID: c, Sub: fsm.SubBoth}, Version: uint64(i + 1)})
		theirs := []fsm.UserEffect{{Kind: fsm.UEffSaveItem, Item: fsm.RosterItem{JID: "u@localhost", Sub: fsm.SubBoth}, Version: 1}}
		for k := 1; k < items; k++ {
			theirs = append(theirs, fsm.UserEffect{Kind: fsm.UEffSaveItem, Item: fsm.RosterItem{JID: fmt.Sprintf("x%d@example.net", k), Name: "someone", Groups: []string{"friends"}, Sub: fsm.SubTo}, Version: uint64(k + 1)})
		}
		if err := st.Commit(c, theirs); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.Commit("u@localhost", mine); err != nil {
		b.Fatal(err)
	}
	p := fsm.DefaultPolicy
	p.Mechanisms = []fsm.Mechanism{{Name: "PLAIN"}}
	r := router.New(&p, st, router.Options{Clock: func() string { return stamp }})
	cl := &client{c: r.Attach("u", func(fsm.Effect) bool { return true }), st: st}
	cl.login(b, "u", "pw", "r")
	ev, err := hub.Element(`<presence/>`)
	if err != nil {
		b.Fatal(err)
	}
	cl.step(ev)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		cl.step(ev)
	}
	b.StopTimer()
	if s := r.Stats(); s.StoreErrors != 0 {
		b.Fatalf("stats: %+v", s)
	}
}
