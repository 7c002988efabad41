package fsm_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
	"pgregory.net/rapid"
)

// imRules are the IM rules of spec/im.md, tied to the code and the tests
// the way sessionRules ties the session rules (rules_test.go): a heading
// "### I-<n> Title" defines a rule, a comment in the (non-test) code of
// this package names the rule it carries out, and a user transcript's
// comment lines (testdata/user/*.txt) or a Go test's name, comments or
// subtest names name the rules it checks. UI-n and WI-n (the invariants)
// are not rule ids.
var imRules = ruleBook{
	prefix:      "I",
	spec:        "../spec/im.md",
	transcripts: "testdata/user/*.txt",
	// Empty: every rule of spec/im.md carries an id the code already uses.
	notInCode: map[string]string{},
}

// TestIMEveryRuleHasATest checks that every rule of spec/im.md is named by
// a user transcript or by a Go test (ruleBook.checkTested).
func TestIMEveryRuleHasATest(t *testing.T) { imRules.checkTested(t) }

// TestIMEveryRuleIsImplemented checks that every rule of spec/im.md is
// named in a comment of the code that carries it out
// (ruleBook.checkImplemented).
func TestIMEveryRuleIsImplemented(t *testing.T) { imRules.checkImplemented(t) }

// I-50: the server's own answers to stanzas addressed to its domain:
// ping and service discovery get results, every other iq get or set and
// every message gets service-unavailable (with the id, from the domain),
// and results, errors and presence get nothing.
func TestIMAnswerServer(t *testing.T) {
	const su = "<error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
	cases := []struct {
		name, stanza string
		want         []string
	}{
		{"ping", `<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`,
			[]string{"route from=localhost to=alice@localhost/phone <iq type='result' id='p1'/>"}},
		{"disco#info", `<iq type='get' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
			[]string{"route from=localhost to=alice@localhost/phone <iq type='result' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'><identity category='server' type='im'/><feature var='http://jabber.org/protocol/disco#info'/><feature var='http://jabber.org/protocol/disco#items'/><feature var='urn:xmpp:ping'/><feature var='msgoffline'/></query></iq>"}},
		{"disco#items", `<iq type='get' id='d2'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`,
			[]string{"route from=localhost to=alice@localhost/phone <iq type='result' id='d2'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>"}},
		{"disco#info of a node", `<iq type='get' id='d3'><query xmlns='http://jabber.org/protocol/disco#info' node='x'/></iq>`,
			[]string{"route from=localhost to=alice@localhost/phone <iq id='d3' type='error'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"}},
		{"ping set", `<iq type='set' id='p2'><ping xmlns='urn:xmpp:ping'/></iq>`,
			[]string{"route from=localhost to=alice@localhost/phone <iq id='p2' type='error'>" + su + "</iq>"}},
		{"unknown get", `<iq type='get' id='v1' to='localhost'><query xmlns='jabber:iq:version'/></iq>`,
			[]string{"route from=localhost to=alice@localhost/phone <iq id='v1' type='error'>" + su + "</iq>"}},
		{"unknown set", `<iq type='set' id='v2'><query xmlns='jabber:iq:private'/></iq>`,
			[]string{"route from=localhost to=alice@localhost/phone <iq id='v2' type='error'>" + su + "</iq>"}},
		{"result", `<iq type='result' id='r1'/>`, nil},
		{"error", `<iq type='error' id='r2'>` + su + `</iq>`, nil},
		{"message", `<message type='chat' id='m1' to='localhost'><body>hi</body></message>`,
			[]string{"route from=localhost to=alice@localhost/phone <message id='m1' type='error'>" + su + "</message>"}},
		{"message error", `<message type='error' id='m2'/>`, nil},
		{"presence", `<presence/>`, nil},
		{"probe", `<presence type='probe'/>`, nil},
		{"subscribe", `<presence type='subscribe'/>`, nil},
	}
	t.Run("disco#info without offline storage", func(t *testing.T) {
		p := fsm.DefaultPolicy
		p.OfflineStorage = false
		el, err := parseXML(`<iq type='get' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
		if err != nil {
			t.Fatal(err)
		}
		effects := fsm.AnswerServer(&p, "localhost", "alice@localhost/phone", el)
		if len(effects) != 1 || strings.Contains(effects[0].String(), "msgoffline") {
			t.Errorf("with offline storage off, disco#info lists msgoffline or is not one answer: %v", effects)
		}
	})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			el, err := parseXML(c.stanza)
			if err != nil {
				t.Fatal(err)
			}
			before := fsm.XML(el)
			var got []string
			for _, e := range fsm.AnswerServer(nil, "localhost", "alice@localhost/phone", el) {
				got = append(got, e.String())
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("AnswerServer(%s):\n  %s\nwant:\n  %s", c.stanza, strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
			if after := fsm.XML(el); after != before {
				t.Errorf("AnswerServer changed its stanza:\n  %s\n  %s", before, after)
			}
		})
	}
}

// imWorld is a handful of user machines of one server joined the way the
// hub joins them: a route effect to a user becomes an inbound event of
// that user, in order. It keeps nothing else (deliveries, stores).
type imWorld struct {
	users map[string]fsm.User
	queue []imWork
	steps int
}

type imWork struct {
	user string
	ev   fsm.UserEvent
}

func (w *imWorld) run(t *rapid.T) {
	for len(w.queue) > 0 {
		wk := w.queue[0]
		w.queue = w.queue[1:]
		u, ok := w.users[wk.user]
		if !ok {
			continue // a domain or an address nobody holds: not modelled
		}
		next, effects := fsm.StepUser(u, wk.ev)
		if err := checkUser(next); err != nil {
			t.Fatalf("%s after %v:\n%v", wk.user, wk.ev, err)
		}
		if err := checkUserStep(u, next, wk.ev, effects); err != nil {
			t.Fatalf("%s after %v:\n%v", wk.user, wk.ev, err)
		}
		w.users[wk.user] = next
		for _, e := range effects {
			if e.Kind != fsm.UEffRoute {
				continue
			}
			bare, _, _ := strings.Cut(e.To, "/")
			w.queue = append(w.queue, imWork{bare, fsm.UserEvent{Kind: fsm.UEvInbound, From: e.From, To: e.To, Elem: e.Elem}})
		}
		if w.steps++; w.steps > 10000 {
			t.Fatalf("no quiescence after %d steps: a loop of routed stanzas", w.steps)
		}
	}
}

// TestIMBothSidesAgree drives three users of one server with random
// subscription stanzas, roster sets and removals, and checks WI-4 whenever
// nothing is in flight: for every two users U and C, U has a subscription
// to C (to, both) exactly when C's item for U says from or both, and U's
// item for C carries ask exactly when C keeps a pending request from U.
// It exercises I-31…I-39 and I-43, I-44 against each other.
func TestIMBothSidesAgree(t *testing.T) {
	names := []string{"alice@localhost", "bob@localhost", "carol@localhost"}
	kinds := []string{"subscribe", "subscribed", "unsubscribe", "unsubscribed", "remove", "add", "mutual"}
	seen := map[string]bool{} // the states reached, so that the test shows it reaches them
	rapid.Check(t, func(t *rapid.T) {
		p, _ := parsePolicy(nil)
		w := &imWorld{users: map[string]fsm.User{}}
		for _, n := range names {
			w.users[n] = fsm.NewUser(p, n, true, fsm.Roster{}, nil)
			full := n + "/r"
			w.queue = append(w.queue,
				imWork{n, fsm.UserEvent{Kind: fsm.UEvBound, From: full}},
				imWork{n, fsm.UserEvent{Kind: fsm.UEvOutbound, From: full, To: n, Elem: mustParseXML(t, `<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`)}},
				imWork{n, fsm.UserEvent{Kind: fsm.UEvBroadcast, From: full, Elem: mustParseXML(t, `<presence/>`)}})
		}
		w.run(t)
		steps := rapid.IntRange(1, 30).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			from := rapid.SampledFrom(names).Draw(t, "from")
			to := rapid.SampledFrom(names).Draw(t, "to")
			if from == to {
				continue
			}
			k := rapid.SampledFrom(kinds).Draw(t, "kind")
			if k == "mutual" {
				// The whole handshake of RFC 6121 §3.1, both ways, as
				// four outbound stanzas: random steps alone rarely get
				// two users to "Both".
				for _, s := range []struct{ a, b, typ string }{
					{from, to, "subscribe"}, {to, from, "subscribed"}, {to, from, "subscribe"}, {from, to, "subscribed"},
				} {
					w.queue = append(w.queue, imWork{s.a, fsm.UserEvent{Kind: fsm.UEvOutbound, From: s.a + "/r", To: s.b, Elem: mustParseXML(t, `<presence type='`+s.typ+`'/>`)}})
					w.run(t)
				}
				k = "subscribed" // and once more, to a subscriber: ignored
			}
			var el *etree.Element
			switch k {
			case "remove":
				el = mustParseXML(t, `<iq type='set' id='s'><query xmlns='jabber:iq:roster'><item jid='`+to+`' subscription='remove'/></query></iq>`)
			case "add":
				el = mustParseXML(t, `<iq type='set' id='s'><query xmlns='jabber:iq:roster'><item jid='`+to+`'/></query></iq>`)
			default:
				el = mustParseXML(t, `<presence type='`+k+`'/>`)
			}
			target := to
			if el.Tag == "iq" {
				target = from
			}
			w.queue = append(w.queue, imWork{from, fsm.UserEvent{Kind: fsm.UEvOutbound, From: from + "/r", To: target, Elem: el}})
			w.run(t)
			for _, u := range names {
				for _, c := range names {
					if u == c {
						continue
					}
					if err := imAgree(w.users[u], w.users[c]); err != nil {
						t.Fatalf("WI-4 after %s sent %s to %s: %v", from, fsm.XML(el), to, err)
					}
					uu := w.users[u]
					item, _ := uu.Roster.Item(c)
					pending := slices.ContainsFunc(uu.Pending, func(p fsm.PendingRequest) bool { return p.From == c })
					seen[fsm.SubState{Sub: item.Sub, PendingOut: item.Ask, PendingIn: pending}.String()] = true
					if item.Approved {
						seen["approved"] = true
					}
				}
			}
		}
	})
	for _, st := range append(fsm.States, fsm.SubState{}) {
		if !seen[st.String()] {
			t.Errorf("no run reached state %v", st)
		}
	}
	if !seen["approved"] {
		t.Errorf("no run reached a pre-approval")
	}
}

// imAgree checks WI-4 for user u's view of contact c and c's view of u.
func imAgree(u, c fsm.User) error {
	ui, _ := u.Roster.Item(c.JID)
	ci, _ := c.Roster.Item(u.JID)
	uTo := ui.Sub == fsm.SubTo || ui.Sub == fsm.SubBoth
	cFrom := ci.Sub == fsm.SubFrom || ci.Sub == fsm.SubBoth
	if uTo != cFrom {
		return fmt.Errorf("%s has %v for %s, %s has %v for %s", u.JID, ui.Sub, c.JID, c.JID, ci.Sub, u.JID)
	}
	pending := slices.ContainsFunc(c.Pending, func(p fsm.PendingRequest) bool { return p.From == u.JID })
	if ui.Ask != pending {
		return fmt.Errorf("%s asks %s: %v; %s keeps a request from %s: %v", u.JID, c.JID, ui.Ask, c.JID, u.JID, pending)
	}
	return nil
}

func mustParseXML(t *rapid.T, s string) *etree.Element {
	el, err := parseXML(s)
	if err != nil {
		t.Fatal(err)
	}
	return el
}

// I-42 I-43: a name or a group of 1023 bytes is accepted, one of 1024
// bytes is refused with modify/not-acceptable (too long to write in a
// transcript).
func TestIMRosterSetLimits(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	cases := []struct {
		name, item, want string
	}{
		{"name at the limit", `<item jid='bob@localhost' name='` + long(1023) + `'/>`, ""},
		{"name over the limit", `<item jid='bob@localhost' name='` + long(1024) + `'/>`, "not-acceptable"},
		{"group at the limit", `<item jid='bob@localhost'><group>` + long(1023) + `</group></item>`, ""},
		{"group over the limit", `<item jid='bob@localhost'><group>` + long(1024) + `</group></item>`, "not-acceptable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := fsm.NewUser(nil, "alice@localhost", true, fsm.Roster{}, nil)
			u, _ = fsm.StepUser(u, fsm.UserEvent{Kind: fsm.UEvBound, From: "alice@localhost/phone"})
			el, err := parseXML(`<iq type='set' id='s1'><query xmlns='jabber:iq:roster'>` + c.item + `</query></iq>`)
			if err != nil {
				t.Fatal(err)
			}
			next, effects := fsm.StepUser(u, fsm.UserEvent{Kind: fsm.UEvOutbound, From: "alice@localhost/phone", To: "alice@localhost", Elem: el})
			if err := checkUser(next); err != nil {
				t.Error(err)
			}
			var got []string
			for _, e := range effects {
				got = append(got, e.String())
			}
			if c.want == "" {
				if len(effects) != 2 || effects[0].Kind != fsm.UEffSaveItem || next.Roster.Version != 1 {
					t.Errorf("effects:\n  %s\nwant the item saved and a result", strings.Join(got, "\n  "))
				}
				return
			}
			want := "deliver target=alice@localhost/phone to=alice@localhost/phone <iq id='s1' type='error'><error type='modify'><" + c.want + " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
			if !slices.Equal(got, []string{want}) || next.Roster.Version != 0 {
				t.Errorf("effects:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), want)
			}
		})
	}
}
