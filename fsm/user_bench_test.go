package fsm_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
)

// The user machine's hot paths: a message to a bare JID fanned out to the
// available resources, and a presence update fanned out to the
// subscribers. Each benchmark steps the same event on the same User b.N
// times, reusing one effect buffer as the hub could, and reports
// allocations; the per-recipient figures (ns/recipient, allocs/recipient)
// show whether the cost grows faster than the fan-out.

// ubUser returns alice@localhost with n available resources of priority
// 0 and the given roster.
func ubUser(n int, items []fsm.RosterItem) fsm.User {
	u := fsm.NewUser(nil, "alice@localhost", true, fsm.Roster{Version: uint64(len(items)), Items: items}, nil)
	for i := range n {
		u.Resources = append(u.Resources, fsm.Resource{
			FullJID:  "alice@localhost/r" + strconv.Itoa(i),
			Presence: etree.NewElement("presence"),
		})
	}
	return u
}

func ubElement(tb testing.TB, text string) *etree.Element {
	tb.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(text); err != nil {
		tb.Fatal(err)
	}
	return doc.Root()
}

// ubRun steps ev on u b.N times and checks the effects first.
func ubRun(b *testing.B, u fsm.User, ev fsm.UserEvent, want func([]fsm.UserEffect) error, recipients int) {
	b.Helper()
	out := make([]fsm.UserEffect, 0, recipients+4)
	_, out = fsm.StepUserAppend(u, ev, out[:0])
	if err := want(out); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		_, out = fsm.StepUserAppend(u, ev, out[:0])
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(recipients), "ns/recipient")
}

// BenchmarkRouteMessage: a chat message from another user to alice's
// bare JID, with 1, 5 and 50 available resources of equal priority: every
// one of them gets it (RFC 6121 §8.5.2.1.1, I-26).
func BenchmarkRouteMessage(b *testing.B) {
	el := ubElement(b, `<message to='alice@localhost' type='chat' id='m1'><body>hi</body></message>`)
	ev := fsm.UserEvent{Kind: fsm.UEvInbound, From: "bob@localhost/x", To: "alice@localhost", Elem: el}
	for _, n := range []int{1, 5, 50} {
		b.Run(fmt.Sprintf("resources=%d", n), func(b *testing.B) {
			ubRun(b, ubUser(n, nil), ev, func(out []fsm.UserEffect) error {
				if len(out) != n {
					return fmt.Errorf("%d effects, want %d deliveries: %v", len(out), n, out)
				}
				for _, e := range out {
					if e.Kind != fsm.UEffDeliver {
						return fmt.Errorf("effect %v, want deliver", e)
					}
				}
				return nil
			}, n)
		})
	}
}

// BenchmarkBroadcast: an available presence update (not initial) from
// alice's one available resource, with 10, 100 and 1,000 contacts that
// have a subscription from her: an echo to the resource and one route per
// contact (RFC 6121 §4.4.2, I-10).
func BenchmarkBroadcast(b *testing.B) {
	el := ubElement(b, `<presence><show>away</show><priority>1</priority></presence>`)
	ev := fsm.UserEvent{Kind: fsm.UEvBroadcast, From: "alice@localhost/r0", Elem: el}
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("contacts=%d", n), func(b *testing.B) {
			items := make([]fsm.RosterItem, n)
			for i := range items {
				// Zero-padded so that the JIDs are in order, as in a roster.
				items[i] = fsm.RosterItem{JID: fmt.Sprintf("c%04d@localhost", i), Sub: fsm.SubFrom}
			}
			ubRun(b, ubUser(1, items), ev, func(out []fsm.UserEffect) error {
				if len(out) != n+1 || out[0].Kind != fsm.UEffDeliver {
					return fmt.Errorf("%d effects, want an echo and %d routes", len(out), n)
				}
				for _, e := range out[1:] {
					if e.Kind != fsm.UEffRoute || e.From != "alice@localhost/r0" {
						return fmt.Errorf("effect %v, want a route from the resource", e)
					}
				}
				return nil
			}, n+1)
		})
	}
}

// rosterItems returns n roster items with a subscription both ways, in
// the group "friends", sorted by JID.
func rosterItems(n int) []fsm.RosterItem {
	items := make([]fsm.RosterItem, n)
	for i := range items {
		items[i] = fsm.RosterItem{JID: fmt.Sprintf("c%04d@localhost", i), Name: fmt.Sprintf("c%04d", i),
			Groups: []string{"friends"}, Sub: fsm.SubBoth}
	}
	return items
}

// BenchmarkRosterGet: a roster get from one of alice's two resources with
// 10 and 30 contacts (the average roster of `simulate random` after a
// million events is about 30): the whole roster as XML (I-41).
func BenchmarkRosterGet(b *testing.B) {
	el := ubElement(b, `<iq type='get' id='rg'><query xmlns='jabber:iq:roster'/></iq>`)
	ev := fsm.UserEvent{Kind: fsm.UEvOutbound, From: "alice@localhost/r0", To: "alice@localhost", Elem: el}
	for _, n := range []int{10, 30} {
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			ubRun(b, ubUser(2, rosterItems(n)), ev, func(out []fsm.UserEffect) error {
				if len(out) != 1 || out[0].Kind != fsm.UEffDeliver || len(out[0].Elem.FindElements("query/item")) != n {
					return fmt.Errorf("effects %v, want the roster with %d items", out, n)
				}
				return nil
			}, 1)
		})
	}
}

// BenchmarkRosterPush: alice approves a pending request from a contact in
// a roster of 30, with 1 and 2 interested resources: the approval is
// routed, the item saved and pushed to each interested resource (I-31,
// I-43), and her presence sent to the new subscriber (I-32).
func BenchmarkRosterPush(b *testing.B) {
	el := ubElement(b, `<presence to='c0015@localhost' type='subscribed'/>`)
	ev := fsm.UserEvent{Kind: fsm.UEvOutbound, From: "alice@localhost/r0", To: "c0015@localhost", Elem: el}
	req := ubElement(b, `<presence from='c0015@localhost' to='alice@localhost' type='subscribe'/>`)
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("interested=%d", n), func(b *testing.B) {
			items := rosterItems(30)
			items[15].Sub = fsm.SubTo
			u := ubUser(2, items)
			u.Pending = []fsm.PendingRequest{{From: "c0015@localhost", Elem: req}}
			for i := range n {
				u.Resources[i].Interested = true
			}
			ubRun(b, u, ev, func(out []fsm.UserEffect) error {
				pushes := 0
				for _, e := range out {
					if e.Kind == fsm.UEffDeliver && e.Elem.FindElement("query/item[@subscription='both']") != nil {
						pushes++
					}
				}
				if pushes != n {
					return fmt.Errorf("effects %v, want %d pushes", out, n)
				}
				return nil
			}, n)
		})
	}
}
