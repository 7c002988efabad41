package server_test

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmppfsm/xmppfsm/impl/server"
	"github.com/xmppfsm/xmppfsm/impl/server/xclient"
)

// TestOutputOverflowTCP: a client that stops reading while it is sent to
// is closed with the resource-constraint stream error once its output
// buffer is full (S-98), after the stanzas that fitted; its contact sees
// it go, and the sender is unaffected.
func TestOutputOverflowTCP(t *testing.T) {
	ts := start(t, func(c *server.Config) {
		c.InsecurePlain = true
		c.MaxOutput = 64 << 10
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
