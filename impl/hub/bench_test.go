package hub_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/hub"
)

// benchHub returns a hub where alice@localhost/r1 (connection "a") and
// bob@localhost/r1 … /rN (connections "b1" … "bN") are logged in and
// available, and counts what the hub writes to each connection.
func benchHub(b *testing.B, bobs int) (*hub.Hub, map[string]int) {
	b.Helper()
	return benchHubOn(b, hub.NewStore(), bobs)
}

// benchHubOn is benchHub on a store that may already hold rosters.
func benchHubOn(b *testing.B, st *hub.Store, bobs int) (*hub.Hub, map[string]int) {
	b.Helper()
	p := fsm.DefaultPolicy
	p.Mechanisms = []fsm.Mechanism{{Name: "PLAIN"}}
	h := hub.New(&p)
	h.Store = st
	h.Store.AddAccount("alice", "a")
	h.Store.AddAccount("bob", "b")
	login := func(conn, user, pw, res string) {
		if _, err := h.Login(conn, "localhost", user, pw, res); err != nil {
			b.Fatal(err)
		}
		if err := h.SendXML(conn, "<presence/>"); err != nil {
			b.Fatal(err)
		}
	}
	login("a", "alice", "a", "r1")
	for i := 1; i <= bobs; i++ {
		login("b"+strconv.Itoa(i), "bob", "b", "r"+strconv.Itoa(i))
	}
	sent := map[string]int{}
	h.Output = func(o hub.Output) {
		if o.Effect.Kind == fsm.EffSend {
			sent[o.Conn]++
		}
	}
	return h, sent
}

func benchElement(b *testing.B, text string) fsm.Event {
	b.Helper()
	ev, err := hub.Element(text)
	if err != nil {
		b.Fatal(err)
	}
	return ev
}

// BenchmarkHubMessage measures one chat message from alice's session to
// bob's bare JID, end to end: alice's session (S-63), alice's user machine
// (I-20), bob's user machine (I-26) and bob's session (S-80), each step
// carried out by the hub. "element" feeds the parsed stanza, as an adapter
// whose framer already parsed it; "xml" includes parsing the text with
// etree. The fan-out variants deliver to 5 and 50 of bob's resources, to
// compare the cost per recipient.
func BenchmarkHubMessage(b *testing.B) {
	const msg = `<message to='bob@localhost' type='chat' id='m1'><body>hi</body></message>`
	for _, bobs := range []int{1, 5, 50} {
		b.Run(fmt.Sprintf("element/recipients=%d", bobs), func(b *testing.B) {
			h, sent := benchHub(b, bobs)
			ev := benchElement(b, msg)
			h.Send("a", ev)
			for i := 1; i <= bobs; i++ {
				if c := "b" + strconv.Itoa(i); sent[c] != 1 {
					b.Fatalf("%s received %d stanzas, want the message", c, sent[c])
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				h.Send("a", ev)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(bobs), "ns/recipient")
			if sent["b1"] != b.N+1 {
				b.Fatalf("b1 received %d messages, want %d", sent["b1"], b.N+1)
			}
		})
	}
	b.Run("xml/recipients=1", func(b *testing.B) {
		h, sent := benchHub(b, 1)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := h.SendXML("a", msg); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if sent["b1"] != b.N {
			b.Fatalf("b1 received %d messages, want %d", sent["b1"], b.N)
		}
	})
}

// BenchmarkHubSubscription measures a subscription's life between alice
// and bob, whose rosters hold 30 other contacts and whose one resource
// each asked for the roster: alice's request (I-30), bob's approval (I-31,
// I-32) and alice's cancellation (I-34), each saved in the store, pushed
// to the interested resource and answered with presence. Per iteration
// that is three stanzas and six roster changes, back to where it began.
func BenchmarkHubSubscription(b *testing.B) {
	st := hub.NewStore()
	for _, j := range []string{"alice@localhost", "bob@localhost"} {
		for i := range 30 {
			st.SaveItem(j, fsm.RosterItem{JID: fmt.Sprintf("c%02d@localhost", i), Sub: fsm.SubBoth}, uint64(i+1))
		}
	}
	h, _ := benchHubOn(b, st, 1)
	for _, c := range []string{"a", "b1"} {
		if err := h.SendXML(c, `<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`); err != nil {
			b.Fatal(err)
		}
	}
	steps := []struct{ conn, xml string }{
		{"a", `<presence to='bob@localhost' type='subscribe'/>`},
		{"b1", `<presence to='alice@localhost' type='subscribed'/>`},
		{"a", `<presence to='bob@localhost' type='unsubscribe'/>`},
	}
	evs := make([]fsm.Event, len(steps))
	for i, st := range steps {
		evs[i] = benchElement(b, st.xml)
	}
	cycle := func() {
		for i, st := range steps {
			h.Send(st.conn, evs[i])
		}
	}
	cycle()
	for _, pair := range [][2]string{{"alice@localhost", "bob@localhost"}, {"bob@localhost", "alice@localhost"}} {
		u, _ := h.User(pair[0])
		it, ok := u.Roster.Item(pair[1])
		if !ok || it.Sub != fsm.SubNone || it.Ask || len(u.Roster.Items) != 31 || len(u.Pending) != 0 {
			b.Fatalf("after one cycle %s's item for %s is %+v (%v), %d items, %d pending; want none, 31 items",
				pair[0], pair[1], it, ok, len(u.Roster.Items), len(u.Pending))
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		cycle()
	}
}
