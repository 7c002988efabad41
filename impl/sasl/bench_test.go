package sasl

import (
	"testing"

	"github.com/xdg-go/scram"
	"github.com/xmppfsm/xmppfsm/fsm"
)

// benchSetup returns a server with juliet registered at 4096 iterations and
// a SCRAM-SHA-256 client whose derived keys are cached (the library caches
// them per salt and iteration count, so PBKDF2 runs once).
func benchSetup(b *testing.B) (*Server, *scram.Client) {
	a := newAccounts(b, "juliet", "r0m30myr0m30")
	s := newServer(b, a, Options{})
	cl, err := scram.SHA256.NewClient("juliet", "r0m30myr0m30", "")
	if err != nil {
		b.Fatal(err)
	}
	return s, cl
}

// One whole SCRAM-SHA-256 exchange, server and (cached) client side.
func BenchmarkSCRAMSHA256Exchange(b *testing.B) {
	s, cl := benchSetup(b)
	b.ReportAllocs()
	for b.Loop() {
		cc := cl.NewConversation()
		c1, _ := cc.Step("")
		x, ev := s.Start(ScramSHA256, []byte(c1), ChannelBinding{})
		c2, err := cc.Step(string(ev.Data))
		if err != nil {
			b.Fatal(err)
		}
		if ev = x.Step([]byte(c2)); ev.Kind != fsm.EvSASLSuccess {
			b.Fatal(ev)
		}
	}
}

// The client side alone (cached keys), against one recorded
// server-first-message: subtract from the exchange to get the server side.
func BenchmarkSCRAMSHA256ClientOnly(b *testing.B) {
	s, cl := benchSetup(b)
	cl.WithNonceGenerator(func() string { return "fixednonce" })
	cc := cl.NewConversation()
	c1, _ := cc.Step("")
	_, ev := s.Start(ScramSHA256, []byte(c1), ChannelBinding{})
	s1 := string(ev.Data)
	b.ReportAllocs()
	for b.Loop() {
		cc := cl.NewConversation()
		cc.Step("")
		if _, err := cc.Step(s1); err != nil {
			b.Fatal(err)
		}
	}
}

// The server side alone: a recorded exchange (fixed client and server
// nonces) replayed against the server.
func BenchmarkSCRAMSHA256ServerOnly(b *testing.B) {
	s, cl := benchSetup(b)
	s.nonce = func() string { return "servernonce" }
	cl.WithNonceGenerator(func() string { return "clientnonce" })
	cc := cl.NewConversation()
	c1, _ := cc.Step("")
	_, ev := s.Start(ScramSHA256, []byte(c1), ChannelBinding{})
	c2, _ := cc.Step(string(ev.Data))
	first, final := []byte(c1), []byte(c2)
	b.ReportAllocs()
	for b.Loop() {
		x, _ := s.Start(ScramSHA256, first, ChannelBinding{})
		if ev := x.Step(final); ev.Kind != fsm.EvSASLSuccess {
			b.Fatal(ev)
		}
	}
}

// The same with a client that derives its keys each time (4096 PBKDF2
// iterations): the cost of SCRAM's iterations falls on the client.
func BenchmarkSCRAMSHA256ExchangeUncachedClient(b *testing.B) {
	s, _ := benchSetup(b)
	b.ReportAllocs()
	for b.Loop() {
		cl, _ := scram.SHA256.NewClient("juliet", "r0m30myr0m30", "")
		cc := cl.NewConversation()
		c1, _ := cc.Step("")
		x, ev := s.Start(ScramSHA256, []byte(c1), ChannelBinding{})
		c2, _ := cc.Step(string(ev.Data))
		if ev = x.Step([]byte(c2)); ev.Kind != fsm.EvSASLSuccess {
			b.Fatal(ev)
		}
	}
}

// PLAIN at 4096 iterations: the server runs PBKDF2.
func BenchmarkPlain(b *testing.B) {
	s, _ := benchSetup(b)
	msg := plainMsg("", "juliet", "r0m30myr0m30")
	b.ReportAllocs()
	for b.Loop() {
		if _, ev := s.Start(Plain, msg, ChannelBinding{}); ev.Kind != fsm.EvSASLSuccess {
			b.Fatal(ev)
		}
	}
}

func BenchmarkNewCredentials(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewCredentials("r0m30myr0m30", DefaultIterations, nil); err != nil {
			b.Fatal(err)
		}
	}
}
