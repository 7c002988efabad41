package fsm_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/beevik/etree"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/spec"
)

// TestStepToIsStepAppend checks the in-place steps against the value ones:
// from every session the happy path passes through, each input of the
// alphabet gives the same session and effects through StepTo as through
// StepAppend, and a copy of the session taken before StepTo is unchanged.
func TestStepToIsStepAppend(t *testing.T) {
	for name, p := range spec.Policies() {
		s := fsm.New(p)
		for _, next := range []spec.Input{spec.Connect, spec.Header, spec.AuthSCRAM, spec.Success,
			spec.Header, spec.Bind, spec.Granted, spec.RosterLoaded, spec.ConnLost} {
			for _, in := range spec.Inputs {
				before := snap(s) // a deep copy: a shallow one shares the slices StepTo could change
				want, wantEffs := fsm.StepAppend(s, in.Event(), nil)
				got := s
				gotEffs := fsm.StepTo(&got, in.Event(), nil)
				if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotEffs, wantEffs) {
					t.Fatalf("%s: %v in %v: StepTo gave %+v %v, StepAppend %+v %v", name, in, s.Phase, got, gotEffs, want, wantEffs)
				}
				if !before.equal(snap(s)) {
					t.Fatalf("%s: %v in %v changed the session stepped from", name, in, s.Phase)
				}
			}
			s, _ = fsm.Step(s, next.Event())
		}
	}
}

// TestStepUserToIsStepUserAppend does the same for the user machine, over
// a user with resources and a roster and the events that change them.
func TestStepUserToIsStepUserAppend(t *testing.T) {
	u := ubUser(2, rosterItems(5))
	el := func(text string) *etree.Element { return ubElement(t, text) }
	evs := []fsm.UserEvent{
		{Kind: fsm.UEvBound, From: "alice@localhost/new"},
		{Kind: fsm.UEvOutbound, From: "alice@localhost/r0", To: "alice@localhost", Elem: el(`<iq type='get' id='g'><query xmlns='jabber:iq:roster'/></iq>`)},
		{Kind: fsm.UEvOutbound, From: "alice@localhost/r0", To: "alice@localhost", Elem: el(`<iq type='set' id='s'><query xmlns='jabber:iq:roster'><item jid='zed@localhost'/></query></iq>`)},
		{Kind: fsm.UEvOutbound, From: "alice@localhost/r1", To: "zed@localhost", Elem: el(`<presence type='subscribe'/>`)},
		{Kind: fsm.UEvInbound, From: "zed@localhost", To: "alice@localhost", Elem: el(`<presence type='subscribed'/>`)},
		{Kind: fsm.UEvBroadcast, From: "alice@localhost/r1", Elem: el(`<presence/>`)},
		{Kind: fsm.UEvUnbound, From: "alice@localhost/r1", Elem: el(`<presence type='unavailable'/>`)},
	}
	for _, ev := range evs {
		before := dumpUser(u) // everything the user holds, elements included
		want, wantEffs := fsm.StepUserAppend(u, ev, nil)
		got := u
		gotEffs := fsm.StepUserTo(&got, ev, nil)
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotEffs, wantEffs) {
			t.Fatalf("%v: StepUserTo gave %+v %v, StepUserAppend %+v %v", ev, got, gotEffs, want, wantEffs)
		}
		if !slices.Equal(dumpUser(u), before) {
			t.Fatalf("%v changed the user stepped from", ev)
		}
		u = got
	}
	if _, ok := u.Roster.Item("zed@localhost"); !ok || len(u.Resources) != 2 {
		t.Fatalf("the events did not change the user as they should: %+v", u)
	}
}
