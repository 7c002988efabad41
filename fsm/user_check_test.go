package fsm_test

import (
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
)

// TestUserCheckCatchesEachInvariant breaks each user invariant in an
// otherwise valid user and checks that Check names it.
func TestUserCheckCatchesEachInvariant(t *testing.T) {
	presence := etree.NewElement("presence")
	subscribe := etree.NewElement("presence")
	subscribe.CreateAttr("type", "subscribe")
	typed := etree.NewElement("presence")
	typed.CreateAttr("type", "unavailable")
	subscribeMessage := etree.NewElement("message")
	subscribeMessage.CreateAttr("type", "subscribe")
	valid := func() fsm.User {
		return fsm.User{
			JID: "alice@localhost", Exists: true,
			Roster: fsm.Roster{Version: 2, Items: []fsm.RosterItem{
				{JID: "bob@localhost", Sub: fsm.SubBoth, Groups: []string{"friends"}},
				{JID: "carol@localhost", Sub: fsm.SubNone, Approved: true},
			}},
			Pending:   []fsm.PendingRequest{{From: "dave@localhost", Elem: subscribe}},
			Resources: []fsm.Resource{{FullJID: "alice@localhost/phone", Presence: presence}, {FullJID: "alice@localhost/pc"}},
		}
	}
	if err := valid().Check(); err != nil {
		t.Fatalf("the valid user fails: %v", err)
	}
	cases := []struct {
		name   string
		mutate func(*fsm.User)
		want   string
	}{
		{"full JID as the user", func(u *fsm.User) { u.JID = "alice@localhost/x" }, "UI-1"},
		{"no localpart", func(u *fsm.User) { u.JID = "localhost" }, "UI-1"},
		{"another user's resource", func(u *fsm.User) { u.Resources[1].FullJID = "eve@localhost/pc" }, "UI-2"},
		{"an empty resourcepart", func(u *fsm.User) { u.Resources[1].FullJID = "alice@localhost/" }, "UI-2"},
		{"a resource twice", func(u *fsm.User) { u.Resources[1].FullJID = "alice@localhost/phone" }, "UI-2"},
		{"priority while unavailable", func(u *fsm.User) { u.Resources[1].Priority = 3 }, "UI-3"},
		{"a typed presence after an unavailable resource", func(u *fsm.User) {
			u.Resources[0], u.Resources[1] = u.Resources[1], u.Resources[0]
			u.Resources[1].Presence = typed
		}, "UI-3"},
		{"presence with a type", func(u *fsm.User) { u.Resources[0].Presence = typed }, "UI-3"},
		{"priority the presence does not say", func(u *fsm.User) { u.Resources[0].Priority = 5 }, "UI-3"},
		{"an item twice", func(u *fsm.User) { u.Roster.Items[1].JID = u.Roster.Items[0].JID }, "UI-4"},
		{"items out of order", func(u *fsm.User) {
			u.Roster.Items[0], u.Roster.Items[1] = u.Roster.Items[1], u.Roster.Items[0]
		}, "UI-4"},
		{"own JID in the roster", func(u *fsm.User) { u.Roster.Items[0].JID = "alice@localhost" }, "UI-4"},
		{"empty group", func(u *fsm.User) { u.Roster.Items[0].Groups = []string{""} }, "UI-4"},
		{"repeated group", func(u *fsm.User) { u.Roster.Items[0].Groups = []string{"a", "a"} }, "UI-4"},
		{"ask with both", func(u *fsm.User) { u.Roster.Items[0].Ask = true }, "UI-5"},
		{"request from a subscriber", func(u *fsm.User) { u.Pending[0].From = "bob@localhost" }, "UI-5"},
		{"two requests from one contact", func(u *fsm.User) {
			u.Pending = append(u.Pending, fsm.PendingRequest{From: "dave@localhost", Elem: subscribe})
		}, "UI-6"},
		{"request that is not a subscribe", func(u *fsm.User) { u.Pending[0].Elem = presence }, "UI-6"},
		{"request that is a message", func(u *fsm.User) { u.Pending[0].Elem = subscribeMessage }, "UI-6"},
		{"request from a full JID", func(u *fsm.User) { u.Pending[0].From = "dave@localhost/pc" }, "UI-6"},
		{"request from an unprepared JID", func(u *fsm.User) { u.Pending[0].From = "Dave@localhost" }, "UI-6"},
		{"pre-approval with from", func(u *fsm.User) { u.Roster.Items[1].Sub = fsm.SubFrom }, "UI-7"},
		{"no account with resources", func(u *fsm.User) { u.Exists = false }, "UI-9"},
		{"no account with roster items", func(u *fsm.User) {
			u.Exists, u.Resources, u.Pending = false, nil, nil
		}, "UI-9"},
		{"no account with a pending request", func(u *fsm.User) {
			u.Exists, u.Resources, u.Roster = false, nil, fsm.Roster{}
		}, "UI-9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := valid()
			c.mutate(&u)
			err := u.Check()
			if err == nil || !strings.Contains(err.Error(), c.want+" ") {
				t.Errorf("Check() = %v, want an error naming %s", err, c.want)
			}
		})
	}
}
