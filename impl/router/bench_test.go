package router_test

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/hub"
	"github.com/xmppfsm/xmppfsm/impl/router"
)

// benchPair logs in sender s<i> and available receiver r<i> (accounts
// created by the caller) and returns the sender's client, the message event
// to the receiver's bare JID, and the receiver's message count.
func benchPair(b *testing.B, r *router.Router, cl *client, i int) (*client, fsm.Event, *atomic.Int64) {
	b.Helper()
	n := new(atomic.Int64)
	s := &client{c: r.Attach(fmt.Sprintf("s%d", i), func(fsm.Effect) bool { return true }), st: cl.st}
	rcv := &client{c: r.Attach(fmt.Sprintf("r%d", i), func(e fsm.Effect) bool {
		if e.Kind == fsm.EffSend && e.Elem != nil && e.Elem.Tag == "message" {
			n.Add(1)
		}
		return true
	}), st: cl.st}
	s.login(b, fmt.Sprintf("s%d", i), "pw", "r1")
	rcv.login(b, fmt.Sprintf("r%d", i), "pw", "r1")
	rcv.send(b, `<presence/>`)
	ev, err := hub.Element(fmt.Sprintf(`<message to='r%d@localhost' type='chat' id='m1'><body>hi</body></message>`, i))
	if err != nil {
		b.Fatal(err)
	}
	return s, ev, n
}

func benchRouter(b *testing.B, pairs int) (*router.Router, *client) {
	accounts := map[string]string{}
	for i := range pairs {
		accounts[fmt.Sprintf("s%d", i)] = "pw"
		accounts[fmt.Sprintf("r%d", i)] = "pw"
	}
	r, st := newRouter(b, -1, accounts)
	return r, &client{st: st}
}

// BenchmarkMessage: one chat message from a session to another user's bare
// JID, end to end through the router (sender session, sender's user
// machine, receiver's user machine, receiver session), as
// hub.BenchmarkHubMessage/element/recipients=1 measures it for the hub.
func BenchmarkMessage(b *testing.B) {
	r, cl := benchRouter(b, 1)
	s, ev, n := benchPair(b, r, cl, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s.c.Step(ev)
	}
	b.StopTimer()
	if got := n.Load(); got != int64(b.N) {
		b.Fatalf("received %d messages, want %d", got, b.N)
	}
}

// BenchmarkMessageParallel: as BenchmarkMessage, from GOMAXPROCS senders
// at once, each to its own receiver.
func BenchmarkMessageParallel(b *testing.B) {
	pairs := runtime.GOMAXPROCS(0)
	r, cl := benchRouter(b, pairs)
	type pair struct {
		s  *client
		ev fsm.Event
		n  *atomic.Int64
	}
	ps := make([]pair, pairs)
	for i := range ps {
		s, ev, n := benchPair(b, r, cl, i)
		ps[i] = pair{s, ev, n}
	}
	var next, sent atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		p := ps[int(next.Add(1)-1)%pairs] // one goroutine per pair: RunParallel starts GOMAXPROCS
		for pb.Next() {
			p.s.c.Step(p.ev)
			sent.Add(1)
		}
	})
	b.StopTimer()
	var got int64
	for _, p := range ps {
		got += p.n.Load()
	}
	if got != sent.Load() {
		b.Fatalf("received %d messages, want %d", got, sent.Load())
	}
}
