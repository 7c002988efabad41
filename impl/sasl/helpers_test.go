package sasl

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/xdg-go/scram"
	"github.com/xmppfsm/xmppfsm/fsm"
)

// fakeCB is the channel binding data of the test "connection".
var fakeCB = ChannelBinding{Type: ChannelBindingTLSExporter, Data: bytes.Repeat([]byte{0xcb}, 32)}

// accounts is a credential store for tests.
type accounts struct {
	mu    sync.Mutex
	creds map[string]Credentials
	err   error
	calls int
}

func newAccounts(t testing.TB, users ...string) *accounts {
	t.Helper()
	a := &accounts{creds: map[string]Credentials{}}
	for i := 0; i+1 < len(users); i += 2 {
		c, err := NewCredentials(users[i+1], DefaultIterations, nil)
		if err != nil {
			t.Fatal(err)
		}
		a.creds[users[i]] = c
	}
	return a
}

func (a *accounts) lookup(username string) (Credentials, bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	if a.err != nil {
		return Credentials{}, false, a.err
	}
	c, ok := a.creds[username]
	return c, ok, nil
}

func newServer(t testing.TB, a *accounts, opts Options) *Server {
	t.Helper()
	s, err := NewServer(a.lookup, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var errStore = errors.New("store down")

// hashOf returns the xdg-go/scram hash of a mechanism.
func hashOf(mech string) scram.HashGeneratorFcn {
	switch mech {
	case ScramSHA1, ScramSHA1Plus:
		return scram.SHA1
	}
	return scram.SHA256
}

// client returns a conversation of xdg-go/scram's client. cb is used for
// -PLUS; flag 'y' makes it advertise channel binding.
func client(t testing.TB, mech, user, password, authzid string, cb *ChannelBinding, yflag bool) *scram.ClientConversation {
	t.Helper()
	c, err := hashOf(mech).NewClient(user, password, authzid)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case cb != nil:
		return c.NewConversationWithChannelBinding(scram.ChannelBinding{Type: scram.ChannelBindingType(cb.Type), Data: cb.Data})
	case yflag:
		return c.NewConversationAdvertisingChannelBinding()
	}
	return c.NewConversation()
}

// transcript is what a run saw.
type transcript struct {
	events   []fsm.Event
	clientOK bool   // the client validated the server's signature
	final    string // the client-final-message sent, if any
	first    string
}

func (tr transcript) last() fsm.Event { return tr.events[len(tr.events)-1] }

// run drives a full exchange between cc and s, as fsm would: the client's
// first message as initial response (or, with noInitial, after an empty
// challenge). mutate, if set, may change each client message (0: first,
// 1: final) before the server sees it.
func run(t testing.TB, s *Server, mech string, cc *scram.ClientConversation, cb ChannelBinding, noInitial bool, mutate func(i int, msg string) string) transcript {
	t.Helper()
	var tr transcript
	c1, err := cc.Step("")
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		c1 = mutate(0, c1)
	}
	tr.first = c1
	var x Exchange
	var ev fsm.Event
	if noInitial {
		x, ev = s.Start(mech, nil, cb)
		tr.events = append(tr.events, ev)
		if ev.Kind != fsm.EvSASLChallenge || len(ev.Data) != 0 || ev.Data == nil {
			t.Fatalf("start without initial response: %+v, want an empty challenge", ev)
		}
		ev = x.Step([]byte(c1))
	} else {
		x, ev = s.Start(mech, []byte(c1), cb)
	}
	tr.events = append(tr.events, ev)
	for i := 1; ev.Kind == fsm.EvSASLChallenge; i++ {
		resp, err := cc.Step(string(ev.Data))
		if err != nil {
			t.Fatalf("client: %v", err)
		}
		if mutate != nil {
			resp = mutate(i, resp)
		}
		tr.final = resp
		ev = x.Step([]byte(resp))
		tr.events = append(tr.events, ev)
	}
	if ev.Kind == fsm.EvSASLSuccess {
		if _, err := cc.Step(string(ev.Data)); err == nil && cc.Valid() {
			tr.clientOK = true
		}
	}
	return tr
}

func wantFailure(t testing.TB, ev fsm.Event, cond string) {
	t.Helper()
	if ev.Kind != fsm.EvSASLFailure || ev.Condition != cond {
		t.Fatalf("got %v %q (%q), want failure %q", ev.Kind, ev.Condition, ev.Text, cond)
	}
}

func wantSuccess(t testing.TB, tr transcript, user string) {
	t.Helper()
	ev := tr.last()
	if ev.Kind != fsm.EvSASLSuccess {
		t.Fatalf("got %v %q (%q), want success", ev.Kind, ev.Condition, ev.Text)
	}
	if ev.Username != user {
		t.Fatalf("username %q, want %q", ev.Username, user)
	}
}
