package server_test

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/impl/server"
	"github.com/xmppfsm/xmppfsm/impl/server/xclient"
	"github.com/xmppfsm/xmppfsm/impl/store/memstore"
	"github.com/xmppfsm/xmppfsm/impl/stream"
)

// TestOutputOverflowTCP: a client that stops reading while it is sent to
// is closed with the resource-constraint stream error once its output
// buffer is full (S-98), after the stanzas that fitted; its contact sees
// it go, and the sender is unaffected.
func TestOutputOverflowTCP(t *testing.T) {
	ts := start(t, func(c *server.Config) {
		c.InsecurePlain = true
		c.MaxOutput = 64 << 10
		c.MaxStanza = 32 << 10
	})
	alice := xclient.Dial(t, ts.addr, "localhost")
	alice.Login("alice", "wonderland", "a")
	bob := xclient.Dial(t, ts.addr, "localhost")
	bobJID := bob.Login("bob", "builder", "b")
	alice.Send(`<presence/>`)
	faultSync(t, alice, "s1")
	bob.Send(`<presence to='alice@localhost'/>`) // so that alice sees bob go
	faultSync(t, bob, "s2")

	// alice sends to bob, who reads nothing, until bob is gone.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	body := strings.Repeat("x", 16<<10)
	wg.Go(func() {
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = alice.Raw.SetWriteDeadline(time.Now().Add(xclient.Timeout))
			m := fmt.Sprintf(`<message to='%s' type='chat' id='m%d'><body>%s</body></message>`, bobJID, k, body)
			if _, err := io.WriteString(alice.Raw, m); err != nil {
				t.Errorf("alice's write %d: %v", k, err)
				return
			}
		}
	})
	for {
		el := faultNext(t, alice)
		if el.Tag == "presence" && el.SelectAttrValue("from", "") == bobJID && el.SelectAttrValue("type", "") == "unavailable" {
			if s := el.SelectElement("status"); s == nil || s.Text() != "Disconnected: Output buffer full" {
				t.Errorf("bob's unavailable status: %v", el.SelectElement("status"))
			}
			break
		}
	}
	close(stop)
	wg.Wait()

	// bob finds the messages that fitted, whole, then the stream error.
	messages := 0
	for {
		el := faultNext(t, bob)
		if el.Tag == "message" {
			if b := el.SelectElement("body"); b == nil || b.Text() != body {
				t.Fatalf("message %s arrived cut", el.SelectAttrValue("id", ""))
			}
			messages++
			continue
		}
		if el.Tag != "error" || el.SelectElement("resource-constraint") == nil {
			t.Fatalf("bob got <%s>, want messages then a resource-constraint stream error", el.Tag)
		}
		break
	}
	bob.ExpectEnd()
	if messages == 0 {
		t.Errorf("no message reached bob before the overflow")
	}
	t.Logf("%d messages reached bob before the overflow", messages)
	faultSync(t, alice, "s3") // alice's stream is unaffected
}

// TestLoginLargerThanCapTCP: the answers to a client's own requests are
// not cut by the output cap (S-98): a client that reads gets a roster
// result and an offline flush each larger than the cap, and its session
// goes on.
func TestLoginLargerThanCapTCP(t *testing.T) {
	const (
		maxOutput = 64 << 10
		items     = 400 // about 120 KiB of roster
		offline   = 20  // 320 KiB of offline messages
	)
	ts := start(t, func(c *server.Config) {
		c.InsecurePlain = true
		c.MaxOutput = maxOutput
		c.MaxStanza = 32 << 10
	})
	name := strings.Repeat("n", 200)
	setup := xclient.Dial(t, ts.addr, "localhost")
	setup.Login("alice", "wonderland", "setup")
	for batch := range items / 50 {
		var b strings.Builder
		for i := batch * 50; i < (batch+1)*50; i++ {
			fmt.Fprintf(&b, `<iq type='set' id='r%d'><query xmlns='jabber:iq:roster'><item jid='contact%d@localhost' name='%s'/></query></iq>`, i, i, name)
		}
		setup.Send(b.String())
		for _, el := range faultSync(t, setup, fmt.Sprintf("p%d", batch)) {
			if el.Tag == "iq" && el.SelectAttrValue("type", "") != "result" {
				t.Fatalf("roster set %s: %s", el.SelectAttrValue("id", ""), el.SelectAttrValue("type", ""))
			}
		}
	}
	setup.Send(`</stream:stream>`)
	setup.ExpectEnd()

	bob := xclient.Dial(t, ts.addr, "localhost")
	bob.Login("bob", "builder", "b")
	body := strings.Repeat("x", 16<<10)
	for i := range offline {
		bob.Send(fmt.Sprintf(`<message to='alice@localhost' type='chat' id='o%d'><body>%s</body></message>`, i, body))
	}
	faultSync(t, bob, "stored") // the messages are in alice's offline store

	alice := xclient.Dial(t, ts.addr, "localhost")
	alice.Login("alice", "wonderland", "a")
	alice.Send(`<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq>`)
	el := alice.Expect("iq")
	if el.SelectAttrValue("id", "") != "roster" || el.SelectAttrValue("type", "") != "result" {
		t.Fatalf("roster get: %s", el.SelectAttrValue("type", ""))
	}
	q := el.SelectElement("query")
	if n := len(q.SelectElements("item")); n != items {
		t.Fatalf("roster of %d items, want %d", n, items)
	}
	if n := size(el); n <= maxOutput {
		t.Fatalf("the roster result is %d bytes, not more than the cap %d: the test proves nothing", n, maxOutput)
	}
	alice.Send(`<presence/>`)
	got, bytes := 0, 0
	for _, el := range faultSync(t, alice, "after") {
		if el.Tag != "message" {
			continue
		}
		if id := el.SelectAttrValue("id", ""); id != fmt.Sprintf("o%d", got) {
			t.Fatalf("offline message %d has id %q", got, id)
		}
		if b := el.SelectElement("body"); b == nil || b.Text() != body {
			t.Fatalf("offline message %d arrived cut", got)
		}
		got++
		bytes += size(el)
	}
	if got != offline {
		t.Fatalf("%d offline messages, want %d", got, offline)
	}
	if bytes <= maxOutput {
		t.Fatalf("the offline flush is %d bytes, not more than the cap %d", bytes, maxOutput)
	}
}

// size is the length of el serialised.
func size(el *etree.Element) int {
	d := etree.NewDocument()
	d.SetRoot(el.Copy())
	s, _ := d.WriteToString()
	return len(s)
}

// TestMaxStanzaOverHalfOutput: server.New refuses a stanza limit over half
// the output cap, the default limit included: a stanza from another must
// fit in an output below the cap.
func TestMaxStanzaOverHalfOutput(t *testing.T) {
	for _, tc := range []struct{ maxStanza, maxOutput int }{
		{32<<10 + 1, 64 << 10},
		{0, 2*stream.DefaultMaxStanza - 1},
		{server.MaxOutput/2 + 1, 0},
	} {
		_, err := server.New(server.Config{Domains: []string{"localhost"}, Store: memstore.New(memstore.Options{}),
			MaxStanza: tc.maxStanza, MaxOutput: tc.maxOutput})
		if err == nil || !strings.Contains(err.Error(), "more than half of MaxOutput") {
			t.Errorf("MaxStanza %d, MaxOutput %d: %v", tc.maxStanza, tc.maxOutput, err)
		}
	}
	if _, err := server.New(server.Config{Domains: []string{"localhost"}, Store: memstore.New(memstore.Options{}),
		MaxStanza: 32 << 10, MaxOutput: 64 << 10}); err != nil {
		t.Errorf("MaxStanza half of MaxOutput: %v", err)
	}
}

// TestStanzaBehindLargeAnswerTCP: a stanza from another that arrives while
// the client still reads the answer to its own request (an offline flush
// far larger than the cap and the kernel's buffers) is counted from the
// end of that answer (S-98): the client is not cut, and gets it.
func TestStanzaBehindLargeAnswerTCP(t *testing.T) {
	const (
		maxOutput = 64 << 10
		offline   = 600 // 9.6 MiB of offline messages
	)
	ts := start(t, func(c *server.Config) {
		c.InsecurePlain = true
		c.MaxOutput = maxOutput
		c.MaxStanza = 32 << 10
	})
	// bob subscribes to alice's presence, so that he sees her log in.
	setup := xclient.Dial(t, ts.addr, "localhost")
	setup.Login("alice", "wonderland", "setup")
	setup.Send(`<presence/>`)
	faultSync(t, setup, "s1")
	bob := xclient.Dial(t, ts.addr, "localhost")
	bob.Login("bob", "builder", "b")
	bob.Send(`<presence/><presence to='alice@localhost' type='subscribe'/>`)
	for {
		el := faultNext(t, setup)
		if el.Tag == "presence" && el.SelectAttrValue("type", "") == "subscribe" {
			break
		}
	}
	setup.Send(`<presence to='bob@localhost' type='subscribed'/>`)
	faultSync(t, setup, "s2")
	setup.Send(`</stream:stream>`)
	setup.ExpectEnd()
	faultSync(t, bob, "b1")

	body := strings.Repeat("x", 16<<10)
	for i := range offline {
		bob.Send(fmt.Sprintf(`<message to='alice@localhost' type='chat' id='o%d'><body>%s</body></message>`, i, body))
	}
	faultSync(t, bob, "stored")

	// alice logs in and sends her initial presence: the offline messages
	// are flushed to her in that step. She reads nothing until bob,
	// having seen her presence, sent her a message and had a ping
	// answered after it.
	alice := xclient.Dial(t, ts.addr, "localhost")
	aliceJID := alice.Login("alice", "wonderland", "a")
	alice.Send(`<presence/>`)
	for {
		el := faultNext(t, bob)
		if el.Tag == "presence" && el.SelectAttrValue("from", "") == aliceJID && el.SelectAttrValue("type", "") == "" {
			break
		}
	}
	bob.Send(fmt.Sprintf(`<message to='%s' type='chat' id='late'><body>after the flush</body></message>`, aliceJID))
	faultSync(t, bob, "b2")

	got, late := 0, false
	for _, el := range faultSync(t, alice, "after") {
		switch id := el.SelectAttrValue("id", ""); {
		case el.Tag != "message":
		case id == "late":
			late = true
		case id == fmt.Sprintf("o%d", got):
			got++
		default:
			t.Fatalf("message %q after %d offline messages", id, got)
		}
	}
	if got != offline || !late {
		t.Fatalf("%d offline messages (want %d), bob's message: %v", got, offline, late)
	}
}
