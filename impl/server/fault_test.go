package server_test

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/impl/server"
	"github.com/xmppfsm/xmppfsm/impl/server/servertest"
	"github.com/xmppfsm/xmppfsm/impl/server/xclient"
	"go.uber.org/goleak"
)

// faultAccounts adds accounts (password = name) to the server's store and
// allows PLAIN without TLS.
func faultAccounts(t *testing.T, names ...string) func(*server.Config) {
	return func(c *server.Config) {
		c.InsecurePlain = true
		accounts := map[string]string{}
		for _, n := range names {
			accounts[n] = n
		}
		servertest.AddAccounts(t, c.Store, iterations, accounts)
	}
}

// faultSync sends a ping and reads until its result: everything the
// server does for what the client sent before is done by then (it handles
// a stream's stanzas in order). It returns the elements read meanwhile.
func faultSync(t *testing.T, c *xclient.Client, id string) []*etree.Element {
	t.Helper()
	c.Send(fmt.Sprintf(`<iq type='get' id='%s' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`, id))
	var seen []*etree.Element
	for {
		el := faultNext(t, c)
		if el.Tag == "iq" && el.SelectAttrValue("id", "") == id {
			if el.SelectAttrValue("type", "") != "result" {
				t.Fatalf("ping %s: %s", id, el.SelectAttrValue("type", ""))
			}
			return seen
		}
		seen = append(seen, el)
	}
}

// faultNext returns the next element the server sends c.
func faultNext(t *testing.T, c *xclient.Client) *etree.Element {
	t.Helper()
	ev, err := c.Next()
	if err != nil || ev.Elem == nil {
		t.Fatalf("waiting for an element: %v %v", ev.Kind, err)
	}
	return ev.Elem
}

// faultChat sends a message from one client to another's full JID and
// checks that it arrives.
func faultChat(t *testing.T, from, to *xclient.Client, toJID, body string) {
	t.Helper()
	from.Send(fmt.Sprintf(`<message to='%s' type='chat'><body>%s</body></message>`, toJID, body))
	m := to.Expect("message")
	if b := m.SelectElement("body"); b == nil || b.Text() != body {
		t.Errorf("%s received %q, want %q", toJID, m.SelectElement("body").Text(), body)
	}
}

// TestClientKilledMidStanza: a client that dies in the middle of a stanza
// (half an element written, then a TCP reset) ends its session: the
// contact subscribed to its presence gets its unavailable presence, the
// half stanza goes nowhere, another pair of clients keeps chatting
// throughout, and after Shutdown no goroutine is left.
func TestClientKilledMidStanza(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) }) // after start's Shutdown
	ts := start(t, faultAccounts(t, "carol", "dave"))

	alice := xclient.Dial(t, ts.addr, "localhost")
	aliceJID := alice.Login("alice", "wonderland", "a")
	bob := xclient.Dial(t, ts.addr, "localhost")
	bob.Login("bob", "builder", "b")
	// bob subscribes to alice's presence, alice approves.
	bob.Send(`<presence to='alice@localhost' type='subscribe'/>`)
	faultSync(t, bob, "s1")
	alice.Send(`<presence to='bob@localhost' type='subscribed'/>`)
	faultSync(t, alice, "s2")
	bob.Send(`<presence/>`)
	faultSync(t, bob, "s3")
	alice.Send(`<presence/>`)
	faultSync(t, alice, "s4")
	sawAvailable := false
	for _, el := range faultSync(t, bob, "s5") {
		if el.Tag == "presence" && el.SelectAttrValue("from", "") == aliceJID && el.SelectAttrValue("type", "") == "" {
			sawAvailable = true
		}
	}
	if !sawAvailable {
		t.Fatalf("bob did not see alice available")
	}

	carol := xclient.Dial(t, ts.addr, "localhost")
	carolJID := carol.Login("carol", "carol", "c")
	dave := xclient.Dial(t, ts.addr, "localhost")
	daveJID := dave.Login("dave", "dave", "d")
	faultChat(t, carol, dave, daveJID, "before")

	// Half a message to bob, then a reset: no FIN, no </stream:stream>.
	alice.Send(`<message to='bob@localhost' type='chat'><body>never fin`)
	faultChat(t, dave, carol, carolJID, "meanwhile")
	tc := alice.Raw.(*net.TCPConn)
	if err := tc.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	tc.Close()

	for {
		el := faultNext(t, bob)
		if el.Tag == "message" {
			t.Fatalf("bob got a message from a half stanza: %s", el.SelectElement("body").Text())
		}
		if el.Tag == "presence" && el.SelectAttrValue("from", "") == aliceJID {
			if typ := el.SelectAttrValue("type", ""); typ != "unavailable" {
				t.Fatalf("bob got presence type %q from alice, want unavailable", typ)
			}
			if s := el.SelectElement("status"); s == nil || !strings.HasPrefix(s.Text(), "Disconnected") {
				t.Errorf("alice's unavailable has no Disconnected status")
			}
			break
		}
	}
	faultChat(t, carol, dave, daveJID, "after")
	faultChat(t, dave, carol, carolJID, "still here")
	if s := ts.srv.Router().Stats(); s.Conns != 3 || s.Resources != 3 {
		t.Errorf("router after the kill: %+v, want bob, carol and dave only", s)
	}
}
