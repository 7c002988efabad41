package router_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/hub"
	"github.com/xmppfsm/xmppfsm/impl/router"
	"github.com/xmppfsm/xmppfsm/impl/store/memstore"
)

// capped is an output function with room for a given number of messages:
// it refuses the next one, and records every write it takes.
type capped struct {
	mu      sync.Mutex
	room    int
	refused int
	got     []string
}

func (o *capped) out(e fsm.Effect) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if e.Kind == fsm.EffSend && e.Elem != nil && e.Elem.Tag == "message" {
		if o.room == 0 {
			o.refused++
			return false
		}
		o.room--
	}
	if e.Kind == fsm.EffSend || e.Kind == fsm.EffClose {
		o.got = append(o.got, e.String())
	}
	return true
}

func (o *capped) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	got := o.got
	o.got = nil
	return got
}

// TestOutputOverflow: a write the connection cannot take makes the router
// step the session with EvOutputOverflow at once (S-98): the stream error
// and the close follow the last message that fitted, nothing else is
// written, and the resource is released, its contact told.
func TestOutputOverflow(t *testing.T) {
	w := newWorld(t)
	w.Login(t, "a", "alice", "a", "home")
	w.Send(t, "a", `<presence/>`)
	w.expect("a", `<presence/>`)
	bob := &capped{room: 1}
	b := &client{c: w.r.Attach("b", bob.out), st: w.st}
	w.conns = append(w.conns, b.c)
	b.login(t, "bob", "b", "work")
	bob.take()
	// bob directs presence to alice, so bob's end reaches her.
	b.send(t, `<presence to='alice@localhost'/>`)
	w.expect("a", `from=bob@localhost/work to=alice@localhost <presence to='alice@localhost'/>`)

	w.Send(t, "a", `<message to='bob@localhost/work' type='chat' id='m1'><body>1</body></message>`)
	w.Send(t, "a", `<message to='bob@localhost/work' type='chat' id='m2'><body>2</body></message>`)
	got := bob.take()
	want := []string{
		"id='m1'",
		"<stream:error><resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>",
		"close",
	}
	if len(got) != len(want) {
		t.Fatalf("bob's connection got %d writes, want %d:\n  %s", len(got), len(want), strings.Join(got, "\n  "))
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("write %d: %s\nwant it to contain %q", i, got[i], want[i])
		}
	}
	if bob.refused != 1 {
		t.Errorf("%d writes refused, want 1", bob.refused)
	}
	if s := b.c.Session(); s.Phase != fsm.Closed {
		t.Errorf("bob's session is %v, want closed", s.Phase)
	}
	w.expect("a", `from=bob@localhost/work to=alice@localhost <presence type='unavailable'><status>Disconnected: Output buffer full</status></presence>`)
	if u, ok := w.r.User("bob@localhost"); ok && len(u.Resources) != 0 {
		t.Errorf("bob's machine keeps %v", u.Resources)
	}
	// The next message to the gone resource goes to the bare JID's rules:
	// offline storage, nothing more at the closed connection.
	w.Send(t, "a", `<message to='bob@localhost/work' type='chat' id='m3'><body>3</body></message>`)
	if got := bob.take(); len(got) != 0 {
		t.Errorf("a closed connection got %v", got)
	}
	w.clients["a"].step(fsm.Event{Kind: fsm.EvStreamEnd})
	checkAll(t, w.r, w.conns)
}

// TestMaxResources: the registry counts the user's resources and the
// session refuses the one too many (S-99); a replaced resource does not
// count twice, and a freed one can be taken again.
func TestMaxResources(t *testing.T) {
	r, st := newLimitedRouter(t, 2)
	var conns []*router.Conn
	var mu sync.Mutex
	got := map[string][]string{}
	attach := func(id string) *client {
		c := r.Attach(id, func(e fsm.Effect) bool {
			if e.Kind == fsm.EffSend {
				mu.Lock()
				got[id] = append(got[id], e.String())
				mu.Unlock()
			}
			return true
		})
		conns = append(conns, c)
		return &client{c: c, st: st}
	}
	c1, c2 := attach("c1"), attach("c2")
	c1.login(t, "alice", "a", "one")
	c2.login(t, "alice", "a", "two")

	// A third resource is one too many.
	c3 := attach("c3")
	c3.step(fsm.Event{Kind: fsm.EvConnect})
	loginUntilBind(t, c3)
	c3.send(t, fmt.Sprintf("<iq type='set' id='b3'><bind xmlns='%s'><resource>three</resource></bind></iq>", fsm.NSBind))
	if s := c3.c.Session(); s.Phase != fsm.WaitForBind {
		t.Fatalf("third bind: session in %v, want %v", s.Phase, fsm.WaitForBind)
	}
	mu.Lock()
	last := got["c3"][len(got["c3"])-1]
	mu.Unlock()
	if !strings.Contains(last, "<iq id='b3' type='error'><error type='wait'><resource-constraint") {
		t.Errorf("third bind answered %s", last)
	}
	if n := r.Stats().Resources; n != 2 {
		t.Errorf("%d resources registered after the refusal, want 2", n)
	}

	// Taking over "one" replaces it: still two.
	c4 := attach("c4")
	c4.login(t, "alice", "a", "one")
	if s := c1.c.Session(); s.Phase != fsm.Closed {
		t.Errorf("replaced session is %v", s.Phase)
	}
	// With "one" gone for good, the waiting third stream can bind.
	c4.step(fsm.Event{Kind: fsm.EvStreamEnd})
	c3.send(t, fmt.Sprintf("<iq type='set' id='b4'><bind xmlns='%s'><resource>three</resource></bind></iq>", fsm.NSBind))
	if s := c3.c.Session(); s.Phase != fsm.Established {
		t.Fatalf("bind after a resource was freed: session in %v", s.Phase)
	}
	for _, c := range []*client{c2, c3} {
		c.step(fsm.Event{Kind: fsm.EvStreamEnd})
	}
	checkAll(t, r, conns)
}

// newLimitedRouter returns a router over a memstore with account alice
// (password a) and MaxResources max (S-99).
func newLimitedRouter(t testing.TB, max int) (*router.Router, *memstore.Store) {
	t.Helper()
	p := fsm.DefaultPolicy
	p.Mechanisms = []fsm.Mechanism{{Name: "PLAIN"}}
	p.MaxResources = max
	st := memstore.New(memstore.Options{})
	if err := st.CreateAccount("alice", []byte("a")); err != nil {
		t.Fatal(err)
	}
	return router.New(&p, st, router.Options{Clock: func() string { return stamp }}), st
}

// loginUntilBind runs connect's sequel up to the bind request: header,
// PLAIN, header.
func loginUntilBind(t testing.TB, cl *client) {
	t.Helper()
	cl.step(hub.Header("localhost"))
	cl.send(t, fmt.Sprintf("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>", fsm.NSSASL, hub.PlainAuth("alice", "a")))
	cl.step(hub.Header("localhost"))
	if s := cl.c.Session(); s.Phase != fsm.WaitForBind {
		t.Fatalf("session in %v before bind", s.Phase)
	}
}
