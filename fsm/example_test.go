package fsm_test

import (
	"fmt"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
)

// parse is the adapter's framer in miniature: XML text to an element.
func parse(text string) *etree.Element {
	doc := etree.NewDocument()
	if err := doc.ReadFromString(text); err != nil {
		panic(err)
	}
	return doc.Root()
}

// This example embeds the machine behind a toy adapter: it feeds a client's
// login to Step, prints what the server writes, and answers the effects
// that ask a question (the SASL mechanism, the resource registry and the
// roster store) with their results, as a real adapter would after doing
// the work.
func Example() {
	policy := fsm.DefaultPolicy
	policy.Hosts = []string{"example.com"}
	policy.Mechanisms = []fsm.Mechanism{{Name: "PLAIN"}} // loopback test server: PLAIN without TLS

	s := fsm.New(&policy)
	var queue []fsm.Event // results the adapter owes the machine
	step := func(ev fsm.Event) {
		for queue = append(queue, ev); len(queue) > 0; {
			ev, queue = queue[0], queue[1:]
			var effects []fsm.Effect
			s, effects = fsm.Step(s, ev)
			for _, e := range effects {
				switch e.Kind {
				case fsm.EffSendHeader, fsm.EffSend:
					fmt.Println("S:", e)
				case fsm.EffSASLStart: // a real adapter runs the mechanism here
					queue = append(queue, fsm.Event{Kind: fsm.EvSASLSuccess, Username: "juliet"})
				case fsm.EffReserveResource: // and asks its registry here
					queue = append(queue, fsm.Event{Kind: fsm.EvResourceGranted, Resource: e.Resource})
				case fsm.EffLoadRoster: // and its store here
					queue = append(queue, fsm.Event{Kind: fsm.EvRosterLoaded})
				case fsm.EffRoute, fsm.EffBroadcast:
					fmt.Println("route:", e)
				}
			}
		}
	}
	header := func(id string) fsm.Event {
		return fsm.Event{Kind: fsm.EvStreamOpen, ID: id, Header: &fsm.StreamHeader{
			Space: fsm.NSStreams, Local: "stream", Default: fsm.NSClient,
			To: "example.com", Version: "1.0"}}
	}

	step(fsm.Event{Kind: fsm.EvConnect, Conn: "c1", ID: "id0"})
	step(header("id1"))
	step(fsm.Event{Kind: fsm.EvElement, Elem: parse(
		`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldAByMG0zMA==</auth>`)})
	step(header("id2"))
	step(fsm.Event{Kind: fsm.EvElement, Elem: parse(
		`<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>`)})
	step(fsm.Event{Kind: fsm.EvElement, Elem: parse(`<presence/>`)})
	fmt.Println("connected:", s.Connected(), "available:", s.Available(), "full JID:", s.FullJID)

	// Output:
	// S: send-header id=id1 from=example.com version=1.0 lang=en
	// S: send <stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>
	// S: send <success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>
	// S: send-header id=id2 from=example.com version=1.0 lang=en
	// S: send <stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session><ver xmlns='urn:xmpp:features:rosterver'/><sub xmlns='urn:xmpp:features:pre-approval'/></stream:features>
	// S: send <iq type='result' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.com/balcony</jid></bind></iq>
	// route: broadcast initial from=juliet@example.com/balcony <presence/>
	// connected: true available: true full JID: juliet@example.com/balcony
}
