package router_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/hub"
	"github.com/xmppfsm/xmppfsm/impl/router"
	"github.com/xmppfsm/xmppfsm/impl/store"
	"github.com/xmppfsm/xmppfsm/impl/store/memstore"
)

const stamp = "2026-01-01T00:00:00Z"

// newRouter returns a router over a memstore with accounts user → password
// (the credentials are the password itself, as answerSASL reads them).
func newRouter(tb testing.TB, offlineLimit int, accounts map[string]string) (*router.Router, *memstore.Store) {
	tb.Helper()
	return newRouterWith(tb, offlineLimit, accounts, router.Options{})
}

// newRouterWith is newRouter with options (a fixed Clock always).
func newRouterWith(tb testing.TB, offlineLimit int, accounts map[string]string, opts router.Options) (*router.Router, *memstore.Store) {
	tb.Helper()
	p := fsm.DefaultPolicy
	p.Mechanisms = []fsm.Mechanism{{Name: "PLAIN"}}
	st := memstore.New(memstore.Options{OfflineLimit: offlineLimit})
	for u, pw := range accounts {
		if err := st.CreateAccount(u, []byte(pw)); err != nil {
			tb.Fatal(err)
		}
	}
	opts.Clock = func() string { return stamp }
	return router.New(&p, st, opts), st
}

// client drives one connection as its reader goroutine would: it feeds
// events with Step and answers the effects Step returns (PLAIN against the
// store, TLS always succeeding).
type client struct {
	c  *router.Conn
	st store.Store
	// after, when set, is called after each Step.
	after func()
}

func (cl *client) step(ev fsm.Event) {
	effects := cl.c.Step(ev)
	if cl.after != nil {
		cl.after()
	}
	for _, e := range effects {
		switch e.Kind {
		case fsm.EffStartTLS:
			cl.step(fsm.Event{Kind: fsm.EvTLSDone})
		case fsm.EffSASLStart, fsm.EffSASLStep:
			cl.step(cl.sasl(e))
		}
	}
}

func (cl *client) sasl(e fsm.Effect) fsm.Event {
	if e.Kind != fsm.EffSASLStart || e.Mechanism != "PLAIN" {
		return fsm.Event{Kind: fsm.EvSASLFailure, Condition: "invalid-mechanism"}
	}
	if e.Data == nil {
		return fsm.Event{Kind: fsm.EvSASLChallenge, Data: []byte{}}
	}
	parts := strings.Split(string(e.Data), "\x00")
	if len(parts) != 3 {
		return fsm.Event{Kind: fsm.EvSASLFailure, Condition: "not-authorized"}
	}
	creds, ok, err := cl.st.Account(parts[1])
	if err != nil || !ok || string(creds) != parts[2] {
		return fsm.Event{Kind: fsm.EvSASLFailure, Condition: "not-authorized"}
	}
	return fsm.Event{Kind: fsm.EvSASLSuccess, Username: parts[1]}
}

// send feeds a client's element given as XML text.
func (cl *client) send(tb testing.TB, text string) {
	ev, err := hub.Element(text)
	if err != nil {
		tb.Fatal(err)
	}
	cl.step(ev)
}

// login runs the event sequence of hub.Hub.Login: connect, header, PLAIN,
// header, bind. It returns the bound full JID.
func (cl *client) login(tb testing.TB, user, password, resource string) string {
	tb.Helper()
	cl.step(fsm.Event{Kind: fsm.EvConnect})
	cl.step(hub.Header("localhost"))
	cl.send(tb, fmt.Sprintf("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>", fsm.NSSASL, hub.PlainAuth(user, password)))
	cl.step(hub.Header("localhost"))
	res := ""
	if resource != "" {
		res = "<resource>" + resource + "</resource>"
	}
	cl.send(tb, fmt.Sprintf("<iq type='set' id='bind'><bind xmlns='%s'>%s</bind></iq>", fsm.NSBind, res))
	s := cl.c.Session()
	if s.Phase != fsm.Established {
		tb.Fatalf("login of %s on %s stopped in %v", user, cl.c.ID(), s.Phase)
	}
	return s.FullJID
}

// checkAll checks Session.Check for the given connections, User.Check for
// every loaded user, and that nothing is left attached or registered and
// no user machine keeps a resource.
func checkAll(tb testing.TB, r *router.Router, conns []*router.Conn) {
	tb.Helper()
	for _, c := range conns {
		s := c.Session()
		if err := s.Check(); err != nil {
			tb.Errorf("session %s: %v", c.ID(), err)
		}
		if s.Phase != fsm.Closed {
			tb.Errorf("session %s is %v, want closed", c.ID(), s.Phase)
		}
		if _, ok := r.Session(c.ID()); ok {
			tb.Errorf("session %s is still attached", c.ID())
		}
	}
	for _, j := range r.Users() {
		u, _ := r.User(j)
		if err := u.Check(); err != nil {
			tb.Errorf("user %s: %v", j, err)
		}
		if len(u.Resources) != 0 {
			tb.Errorf("user %s keeps resources %v", j, u.Resources)
		}
	}
	if st := r.Stats(); st.Conns != 0 || st.Resources != 0 {
		tb.Errorf("stats after everything closed: %+v", st)
	}
}
