package fsm_test

import (
	"testing"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/spec"
)

// established drives a session through the alphabet's happy path.
func established(tb testing.TB, p *fsm.Policy) fsm.Session {
	tb.Helper()
	s := fsm.New(p)
	for _, in := range []spec.Input{spec.Connect, spec.Header, spec.AuthSCRAM, spec.Success,
		spec.Header, spec.Bind, spec.Granted, spec.RosterLoaded} {
		s, _ = fsm.Step(s, in.Event())
	}
	if s.Phase != fsm.Established {
		tb.Fatalf("happy path ended in %v", s.Phase)
	}
	return s
}

func mustXML(tb testing.TB, text string) *etree.Element {
	tb.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(text); err != nil {
		tb.Fatal(err)
	}
	return doc.Root()
}

// benchStep steps the same event on the same session b.N times, reusing
// one effect buffer, as an adapter does.
func benchStep(b *testing.B, s fsm.Session, ev fsm.Event, wantEffects int) {
	b.Helper()
	out := make([]fsm.Effect, 0, 8)
	_, out = fsm.StepAppend(s, ev, out[:0])
	if len(out) != wantEffects {
		b.Fatalf("%d effects, want %d: %v", len(out), wantEffects, out)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, out = fsm.StepAppend(s, ev, out[:0])
	}
}

// BenchmarkStep measures the hot events of an established session: none
// of them builds XML, so the goal is under 100 ns and no allocation.
func BenchmarkStep(b *testing.B) {
	p := spec.Policies()["rfc"]
	s := established(b, p)
	b.Run("message", func(b *testing.B) {
		el := mustXML(b, `<message to='bob@localhost' type='chat' id='m1'><body>hi</body></message>`)
		benchStep(b, s, fsm.Event{Kind: fsm.EvElement, Elem: el}, 1)
	})
	b.Run("message-full-jid", func(b *testing.B) {
		el := mustXML(b, `<message to='bob@localhost/laptop' type='chat' id='m1'><body>hi</body></message>`)
		benchStep(b, s, fsm.Event{Kind: fsm.EvElement, Elem: el}, 1)
	})
	b.Run("iq", func(b *testing.B) {
		el := mustXML(b, `<iq to='localhost' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`)
		benchStep(b, s, fsm.Event{Kind: fsm.EvElement, Elem: el}, 1)
	})
	b.Run("routed", func(b *testing.B) {
		el := mustXML(b, `<message from='bob@localhost/laptop' to='alice@localhost/phone' type='chat'><body>hi</body></message>`)
		benchStep(b, s, fsm.Event{Kind: fsm.EvRouted, Elem: el}, 1)
	})
	b.Run("presence-update", func(b *testing.B) {
		avail, _ := fsm.Step(s, spec.Available.Event())
		el := mustXML(b, `<presence><show>away</show><priority>5</priority></presence>`)
		benchStep(b, avail, fsm.Event{Kind: fsm.EvElement, Elem: el}, 1)
	})
}

// BenchmarkLogin measures a whole login, from connect to bind, with the
// XML the server writes along the way.
func BenchmarkLogin(b *testing.B) {
	p := spec.Policies()["rfc"]
	path := []spec.Input{spec.Connect, spec.Header, spec.AuthSCRAM, spec.Success,
		spec.Header, spec.Bind, spec.Granted, spec.RosterLoaded, spec.RosterGet, spec.Available}
	events := make([]fsm.Event, len(path))
	for i, in := range path {
		events[i] = in.Event()
	}
	out := make([]fsm.Effect, 0, 8)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s := fsm.New(p)
		for _, ev := range events {
			s, out = fsm.StepAppend(s, ev, out[:0])
		}
	}
}
