package fsm_test

import (
	"fmt"

	"github.com/xmppfsm/xmppfsm/fsm"
)

// This example runs the account side as a hub does: one user machine per
// account, made from the stored roster, stepped with what the sessions of
// its resources ask for (their EffBound, EffBroadcast, EffRoute and
// EffReleaseResource effects) and with what other accounts send it. The effects
// say what the hub must do: deliver a stanza to one of the user's own
// sessions (as EvRouted), route one to another account's machine (as
// UEvInbound), write to the store (before anything else of the step, all
// or none), load the offline messages. Whatever the hub does, it decides
// nothing.
func ExampleStepUser() {
	policy := fsm.DefaultPolicy
	policy.Hosts = []string{"example.com"}

	// juliet's stored roster: romeo and she are subscribed to each other.
	roster := fsm.Roster{Version: 3, Items: []fsm.RosterItem{
		{JID: "romeo@example.com", Sub: fsm.SubBoth},
	}}
	juliet := fsm.NewUser(&policy, "juliet@example.com", true, roster, nil)
	step := func(ev fsm.UserEvent) {
		var effects []fsm.UserEffect
		juliet, effects = fsm.StepUser(juliet, ev)
		for _, e := range effects {
			fmt.Println(" ", e)
		}
	}

	// Her session bound a resource (EffBound), then sent initial presence
	// (EffBroadcast): she sees it herself, romeo gets it, the server
	// probes romeo for his, and asks for the messages kept for her.
	fmt.Println("initial presence:")
	step(fsm.UserEvent{Kind: fsm.UEvBound, From: "juliet@example.com/balcony"})
	step(fsm.UserEvent{Kind: fsm.UEvBroadcast, From: "juliet@example.com/balcony", Initial: true,
		Elem: parse(`<presence><show>chat</show></presence>`)})

	// romeo's machine routed his message to her bare JID: it goes to her
	// one available resource.
	fmt.Println("a message to her bare JID:")
	step(fsm.UserEvent{Kind: fsm.UEvInbound, From: "romeo@example.com/orchard", To: "juliet@example.com",
		Elem: parse(`<message type='chat'><body>Wherefore art thou?</body></message>`)})

	// She cancels romeo's subscription to her presence: he gets her
	// unavailable presence, then the unsubscribed. The new item is a write,
	// which the hub carries out before the step's other effects, wherever
	// it stands in the list; no push, as she never fetched her roster (a
	// push goes to interested resources only).
	fmt.Println("she cancels his subscription:")
	step(fsm.UserEvent{Kind: fsm.UEvOutbound, From: "juliet@example.com/balcony", To: "romeo@example.com",
		Elem: parse(`<presence to='romeo@example.com' type='unsubscribed'/>`)})

	item, _ := juliet.Roster.Item("romeo@example.com")
	fmt.Println("romeo is now", item.Sub, "at roster version", juliet.Roster.Version)
	// Output:
	// initial presence:
	//   deliver target=juliet@example.com/balcony from=juliet@example.com/balcony to=juliet@example.com/balcony <presence><show>chat</show></presence>
	//   route from=juliet@example.com/balcony to=romeo@example.com <presence><show>chat</show></presence>
	//   route from=juliet@example.com to=romeo@example.com <presence type='probe'/>
	//   load-offline to=juliet@example.com/balcony
	// a message to her bare JID:
	//   deliver target=juliet@example.com/balcony from=romeo@example.com/orchard to=juliet@example.com <message type='chat'><body>Wherefore art thou?</body></message>
	// she cancels his subscription:
	//   route from=juliet@example.com/balcony to=romeo@example.com <presence type='unavailable'/>
	//   route from=juliet@example.com to=romeo@example.com <presence to='romeo@example.com' type='unsubscribed'/>
	//   save-item item=romeo@example.com subscription=to version=4
	// romeo is now to at roster version 4
}
