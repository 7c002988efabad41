package stream_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/stream"
)

// TestWithSession runs a client's bytes through Reader, the session machine
// and Writer, as an adapter does: a login with a stream restart, initial
// presence, then a comment, which the session answers with restricted-xml.
func TestWithSession(t *testing.T) {
	client := `<?xml version='1.0'?><stream:stream to='example.com' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>` +
		`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldAByMG0zMA==</auth>` +
		`<?xml version='1.0'?><stream:stream to='example.com' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'> ` +
		`<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>` +
		"\n" + `<presence/> ` +
		`<!-- bye -->`

	policy := fsm.DefaultPolicy
	policy.Hosts = []string{"example.com"}
	policy.Mechanisms = []fsm.Mechanism{{Name: "PLAIN"}}
	s := fsm.New(&policy)

	var out bytes.Buffer
	r := stream.NewReader(strings.NewReader(client), stream.ReaderOptions{})
	w := stream.NewWriter(&out)
	ids := 0
	queue := []fsm.Event{{Kind: fsm.EvConnect, Conn: "c1", ID: "id0"}}
	var effects []fsm.Effect
	for closed := false; !closed; {
		if len(queue) == 0 {
			ev, err := r.Next()
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if ev.Kind == fsm.EvStreamOpen {
				ids++
				ev.ID = "id" + string(rune('0'+ids))
			}
			queue = append(queue, ev)
		}
		ev := queue[0]
		queue = queue[1:]
		s, effects = fsm.StepAppend(s, ev, effects[:0])
		for _, e := range effects {
			switch e.Kind {
			case fsm.EffSendHeader:
				w.WriteHeader(e.Header)
			case fsm.EffSend:
				w.WriteElement(e.Elem, e.From, e.To)
			case fsm.EffResetStream:
				r.Reset(nil)
			case fsm.EffSASLStart:
				queue = append(queue, fsm.Event{Kind: fsm.EvSASLSuccess, Username: "juliet"})
			case fsm.EffReserveResource:
				queue = append(queue, fsm.Event{Kind: fsm.EvResourceGranted, Resource: e.Resource})
			case fsm.EffLoadRoster:
				queue = append(queue, fsm.Event{Kind: fsm.EvRosterLoaded})
			case fsm.EffClose:
				w.WriteClose()
				closed = true
			case fsm.EffAbort:
				t.Fatalf("abort")
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if s.Phase != fsm.Closed {
		t.Errorf("phase %v, want closed", s.Phase)
	}

	// What the server wrote is two streams a Reader accepts.
	sr := stream.NewReader(bytes.NewReader(out.Bytes()), stream.ReaderOptions{})
	var got []string
	for {
		ev, err := sr.Next()
		if err != nil {
			got = append(got, "io: "+err.Error())
			break
		}
		got = append(got, describe(ev))
		if ev.Kind == fsm.EvElement && ev.Elem.Tag == "success" {
			sr.Reset(nil)
		}
		if ev.Kind == fsm.EvStreamEnd || ev.Kind == fsm.EvXMLError {
			break
		}
	}
	want := []string{
		open,
		`elem <stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`,
		`elem <success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`,
		open,
		`elem <stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session><ver xmlns='urn:xmpp:features:rosterver'/><sub xmlns='urn:xmpp:features:pre-approval'/></stream:features>`,
		`elem <iq type='result' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.com/balcony</jid></bind></iq>`,
		`elem <stream:error xmlns:stream='http://etherx.jabber.org/streams'><restricted-xml xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>comments are not allowed</text></stream:error>`,
		"end",
	}
	if !slices.Equal(got, want) {
		t.Errorf("server wrote %s\nread back:\n\t%s\nwant:\n\t%s", out.String(), strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}
