package main

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/server/xclient"
	"github.com/xmppfsm/xmppfsm/impl/store"
)

// acks records the writes the server acknowledged before it was killed.
type acks struct {
	mu      sync.Mutex
	items   map[string]bool // roster items whose iq result arrived
	msgs    map[string]bool // messages whose following ping was answered
	bounced map[string]bool // messages the server refused (none expected)
	n       int
	reached chan struct{} // closed when n reaches target
	target  int
}

func (a *acks) add(set map[string]bool, key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	set[key] = true
	a.n++
	if a.n == a.target {
		close(a.reached)
	}
}

// TestSIGKILLDurability: several clients set roster items and send
// messages to an offline user, pipelined, while xmppd is killed with
// SIGKILL after a number of acknowledged writes. A roster item is
// acknowledged by its iq result; a message by the result of a ping sent
// after it on the same stream (the server handles a stream's stanzas in
// order, and a store write completes before the effects that follow it:
// impl/README.md, "Durability"). After a restart on the same data
// directory every acknowledged item is in its roster and every
// acknowledged message reaches the recipient at its initial presence.
func TestSIGKILLDurability(t *testing.T) {
	// Each writer sends at most batches batches, so that the inbox's
	// offline quota cannot be reached however fast the server is: a
	// bounce would then be the quota's, not a fault's. target (each batch
	// brings two acknowledgements) is reached long before.
	const writers, batches, target = 4, 240, 200
	if writers*batches >= store.DefaultOfflineLimit || 2*writers*batches <= target {
		t.Fatalf("%d writers of %d batches against a quota of %d and a target of %d", writers, batches, store.DefaultOfflineLimit, target)
	}
	bin := buildXmppd(t)
	data := filepath.Join(t.TempDir(), "data")
	names := []string{"inbox"}
	for w := range writers {
		names = append(names, fmt.Sprintf("w%d", w))
	}
	addUsers(t, data, names...)
	p := startXmppd(t, bin, data)

	a := &acks{items: map[string]bool{}, msgs: map[string]bool{}, bounced: map[string]bool{},
		reached: make(chan struct{}), target: target}
	var wg sync.WaitGroup
	var clients []*xclient.Client
	for w := range writers {
		name := fmt.Sprintf("w%d", w)
		c := xclient.Dial(t, p.addr, "localhost")
		c.Login(name, name, "r")
		clients = append(clients, c)
		wg.Go(func() { // the writer: pipelined, until the connection fails
			for k := range batches {
				batch := fmt.Sprintf(`<iq type='set' id='r-%[1]s-%[2]d'><query xmlns='jabber:iq:roster'><item jid='%[1]s-%[2]d@localhost'/></query></iq>`+
					`<message to='inbox@localhost' type='chat' id='m-%[1]s-%[2]d'><body>%[2]d</body></message>`+
					`<iq type='get' id='p-%[1]s-%[2]d' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`, name, k)
				_ = c.Raw.SetWriteDeadline(time.Now().Add(xclient.Timeout))
				if _, err := io.WriteString(c.Raw, batch); err != nil {
					return
				}
			}
		})
		wg.Go(func() { // the reader: records the acknowledgements
			for {
				ev, err := c.Next()
				if err != nil || ev.Kind != fsm.EvElement {
					return
				}
				el, id := ev.Elem, ev.Elem.SelectAttrValue("id", "")
				typ := el.SelectAttrValue("type", "")
				var k int
				switch {
				case el.Tag == "iq" && typ == "result" && scanID(id, "r-"+name+"-%d", &k):
					a.add(a.items, fmt.Sprintf("%s-%d@localhost", name, k))
				case el.Tag == "iq" && typ == "result" && scanID(id, "p-"+name+"-%d", &k):
					a.add(a.msgs, fmt.Sprintf("m-%s-%d", name, k))
				case el.Tag == "message" && typ == "error":
					a.mu.Lock()
					a.bounced[id] = true
					a.mu.Unlock()
				case el.Tag == "iq" && typ == "error":
					t.Errorf("%s: iq %s failed", name, id)
				}
			}
		})
	}
	select {
	case <-a.reached:
	case <-p.done:
		t.Fatalf("xmppd exited: %v\n%s", p.err, p.stderr())
	case <-time.After(time.Minute):
		t.Fatalf("fewer than %d acknowledgements in a minute", target)
	}
	if err := p.signal(t, syscall.SIGKILL); err == nil {
		t.Fatalf("xmppd exited cleanly after SIGKILL")
	}
	for _, c := range clients {
		c.Raw.Close() // the writers and readers end on the closed connection
	}
	wg.Wait()
	a.mu.Lock()
	items, msgs := sortedKeys(a.items), sortedKeys(a.msgs)
	for id := range a.bounced {
		t.Errorf("message %s was bounced", id)
	}
	a.mu.Unlock()
	if len(items) == 0 || len(msgs) == 0 {
		t.Fatalf("acknowledged %d items and %d messages: the test needs both", len(items), len(msgs))
	}
	t.Logf("killed after %d roster items and %d messages acknowledged", len(items), len(msgs))

	p = startXmppd(t, bin, data)
	for w := range writers {
		name := fmt.Sprintf("w%d", w)
		c := xclient.Dial(t, p.addr, "localhost")
		c.Login(name, name, "r")
		c.Send(`<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq>`)
		have := map[string]bool{}
		for _, it := range c.Expect("iq").FindElements("query/item") {
			have[it.SelectAttrValue("jid", "")] = true
		}
		for _, j := range items {
			if strings.HasPrefix(j, name+"-") && !have[j] {
				t.Errorf("acknowledged roster item %s of %s is lost", j, name)
			}
		}
	}
	inbox := xclient.Dial(t, p.addr, "localhost")
	inbox.Login("inbox", "inbox", "r")
	inbox.Send(`<presence/><iq type='get' id='done' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)
	got := map[string]bool{}
	for {
		el := nextElement(t, inbox)
		if el.Tag == "iq" && el.SelectAttrValue("id", "") == "done" {
			break
		}
		if el.Tag == "message" {
			got[el.SelectAttrValue("id", "")] = true
		}
	}
	for _, id := range msgs {
		if !got[id] {
			t.Errorf("acknowledged message %s is lost", id)
		}
	}
	t.Logf("after the restart: %d stored messages delivered", len(got))
	if err := p.signal(t, syscall.SIGTERM); err != nil {
		t.Errorf("xmppd after SIGTERM: %v\n%s", err, p.stderr())
	}
}

// TestSignalShutdown: SIGTERM and SIGINT stop xmppd gracefully, through the
// binary and a real signal: every client gets system-shutdown (S-96), the
// process exits 0 and the store is closed, so the next start opens it.
func TestSignalShutdown(t *testing.T) {
	bin := buildXmppd(t)
	data := filepath.Join(t.TempDir(), "data")
	addUsers(t, data, "alice")
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		p := startXmppd(t, bin, data)
		c := xclient.Dial(t, p.addr, "localhost")
		c.Login("alice", "alice", "r")
		if err := p.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		if cond := c.ExpectStreamError(); cond != "system-shutdown" {
			t.Errorf("%v: stream error %q, want system-shutdown", sig, cond)
		}
		select {
		case <-p.done:
			if p.err != nil {
				t.Errorf("%v: xmppd exited with %v\n%s", sig, p.err, p.stderr())
			}
		case <-time.After(startLimit):
			t.Fatalf("%v: xmppd did not exit", sig)
		}
	}
}

// nextElement returns the next element the server sends c.
func nextElement(t *testing.T, c *xclient.Client) *etree.Element {
	t.Helper()
	ev, err := c.Next()
	if err != nil || ev.Elem == nil {
		t.Fatalf("waiting for an element: %v %v", ev.Kind, err)
	}
	return ev.Elem
}

// scanID reports whether s is format with one %d, storing the number in k.
func scanID(s, format string, k *int) bool {
	var rest string
	n, _ := fmt.Sscanf(s+" end", format+" %s", k, &rest)
	return n == 2 && rest == "end"
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
