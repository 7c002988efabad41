package server_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xdg-go/scram"
	"github.com/xmppfsm/xmppfsm/impl/server"
	"github.com/xmppfsm/xmppfsm/impl/server/servertest"
	"github.com/xmppfsm/xmppfsm/impl/server/xclient"
	"github.com/xmppfsm/xmppfsm/impl/store/memstore"
)

const iterations = 4096 // xdg-go/scram's client refuses fewer

type testServer struct {
	srv  *server.Server
	addr string
	logs *servertest.Logs
}

// start runs a server on 127.0.0.1:0 with accounts alice and bob, its
// logs kept; mod may change its configuration, its Store included (a
// memstore until then).
func start(t *testing.T, mod func(*server.Config)) *testServer {
	t.Helper()
	st := memstore.New(memstore.Options{})
	t.Cleanup(func() { st.Close() }) // after the server's Stop
	logs := &servertest.Logs{}
	cfg := server.Config{Store: st, Iterations: iterations, Logger: logs.Logger()}
	if mod != nil {
		mod(&cfg)
	}
	ts := servertest.Start(t, cfg, map[string]string{"alice": "wonderland", "bob": "builder"})
	return &testServer{srv: ts.Server, addr: ts.Addr, logs: logs}
}

func plain(c *server.Config) { c.InsecurePlain = true }

func TestPlainSession(t *testing.T) {
	ts := start(t, plain)
	alice := xclient.Dial(t, ts.addr, "localhost")
	if got := alice.Login("alice", "wonderland", "rabbit"); got != "alice@localhost/rabbit" {
		t.Fatalf("alice bound %q", got)
	}
	alice.Send(`<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>`)
	iq := alice.Expect("iq")
	if iq.SelectAttrValue("type", "") != "result" || iq.SelectElement("query") == nil {
		t.Fatalf("roster get: type %q", iq.SelectAttrValue("type", ""))
	}
	alice.Send(`<presence/>`)

	bob := xclient.Dial(t, ts.addr, "localhost")
	bob.Login("bob", "builder", "site")
	bob.Send(`<presence/>`)

	alice.Send(`<message to='bob@localhost/site' type='chat' id='m1'><body>hello bob</body></message>`)
	msg := bob.Expect("message")
	if from := msg.SelectAttrValue("from", ""); from != "alice@localhost/rabbit" {
		t.Errorf("message from %q", from)
	}
	if body := msg.FindElement("body"); body == nil || body.Text() != "hello bob" {
		t.Errorf("message body: %v", body)
	}

	alice.Send(`</stream:stream>`)
	alice.ExpectEnd()
	bob.Send(`</stream:stream>`)
	bob.ExpectEnd()
}

func TestWrongPassword(t *testing.T) {
	ts := start(t, plain)
	c := xclient.Dial(t, ts.addr, "localhost")
	c.Open()
	el := c.Plain("alice", "queen")
	if el.Tag != "failure" || el.SelectElement("not-authorized") == nil {
		t.Fatalf("wrong password: got <%s>", el.Tag)
	}
	// The stream stays open for another try.
	if el := c.Plain("alice", "wonderland"); el.Tag != "success" {
		t.Fatalf("second try: got <%s>", el.Tag)
	}
	if strings.Contains(ts.logs.String(), "queen") || strings.Contains(ts.logs.String(), "wonderland") {
		t.Errorf("a password is logged:\n%s", ts.logs)
	}
}

func TestStanzaBeforeAuth(t *testing.T) {
	ts := start(t, plain)
	c := xclient.Dial(t, ts.addr, "localhost")
	c.Open()
	c.Send(`<message to='bob@localhost'><body>hi</body></message>`)
	if cond := c.ExpectStreamError(); cond != "not-authorized" {
		t.Fatalf("stream error %q", cond)
	}
}

func TestShutdown(t *testing.T) {
	ts := start(t, plain)
	c := xclient.Dial(t, ts.addr, "localhost")
	c.Login("alice", "wonderland", "r")
	c.Send(`<presence/>`)
	c.Expect("presence") // our own presence: the session is established
	pending := xclient.Dial(t, ts.addr, "localhost")
	pending.Open() // not authenticated yet
	done := make(chan error, 1)
	go func() { done <- ts.srv.Shutdown(context.Background()) }()
	if cond := c.ExpectStreamError(); cond != "system-shutdown" {
		t.Errorf("bound client: stream error %q", cond)
	}
	if cond := pending.ExpectStreamError(); cond != "system-shutdown" {
		t.Errorf("unauthenticated client: stream error %q", cond)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// No new connection is served.
	nc, err := net.DialTimeout("tcp", ts.addr, time.Second)
	if err == nil {
		nc.SetReadDeadline(time.Now().Add(xclient.Timeout))
		if _, err := nc.Read(make([]byte, 1)); err == nil || !errors.Is(err, io.EOF) && !isReset(err) {
			t.Errorf("after shutdown: read %v", err)
		}
		nc.Close()
	}
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "refused")
}

func TestNegotiationTimeout(t *testing.T) {
	ts := start(t, func(c *server.Config) {
		c.InsecurePlain = true
		c.NegotiationTimeout = 200 * time.Millisecond
	})
	c := xclient.Dial(t, ts.addr, "localhost")
	c.Open()
	if cond := c.ExpectStreamError(); cond != "connection-timeout" {
		t.Fatalf("stream error %q", cond)
	}
}

func TestIdleTimeout(t *testing.T) {
	ts := start(t, func(c *server.Config) {
		c.InsecurePlain = true
		c.IdleTimeout = 300 * time.Millisecond
	})
	c := xclient.Dial(t, ts.addr, "localhost")
	c.Login("alice", "wonderland", "r")
	if cond := c.ExpectStreamError(); cond != "connection-timeout" {
		t.Fatalf("stream error %q", cond)
	}
}

// tlsConfigs returns a server's and a client's TLS configuration for
// localhost (servertest.TLS).
func tlsConfigs(t *testing.T) (srv, cli *tls.Config) {
	srv, cli, _ = servertest.TLS(t)
	return srv, cli
}

func TestStartTLSScram(t *testing.T) {
	scfg, ccfg := tlsConfigs(t)
	ts := start(t, func(c *server.Config) {
		c.TLS = scfg
		c.RequireTLS = true
	})
	c := xclient.Dial(t, ts.addr, "localhost")
	features := c.Open()
	if features.FindElement("starttls/required") == nil {
		t.Fatalf("STARTTLS not required")
	}
	if features.FindElement("mechanisms") != nil {
		t.Fatalf("mechanisms offered before TLS")
	}
	_, features = c.StartTLS(ccfg)
	var mechs []string
	for _, m := range features.FindElements("mechanisms/mechanism") {
		mechs = append(mechs, m.Text())
	}
	if !strings.Contains(strings.Join(mechs, " "), "SCRAM-SHA-256") {
		t.Fatalf("mechanisms %v", mechs)
	}
	if c.Scram("SCRAM-SHA-256", "alice", "wrong", nil) {
		t.Fatal("wrong password accepted")
	}
	if !c.Scram("SCRAM-SHA-256", "alice", "wonderland", nil) {
		t.Fatal("SCRAM-SHA-256 failed")
	}
	c.Restart()
	if got := c.Bind("tls"); got != "alice@localhost/tls" {
		t.Fatalf("bound %q", got)
	}
	c.Send(`</stream:stream>`)
	c.ExpectEnd()
}

func TestStartTLSScramPlus(t *testing.T) {
	scfg, ccfg := tlsConfigs(t)
	ts := start(t, func(c *server.Config) { c.TLS = scfg })
	c := xclient.Dial(t, ts.addr, "localhost")
	c.Open()
	tc, _ := c.StartTLS(ccfg)
	st := tc.ConnectionState()
	cb, err := scram.NewTLSExporterBinding(&st)
	if err != nil {
		t.Skipf("no tls-exporter binding: %v", err)
	}
	if !c.Scram("SCRAM-SHA-256-PLUS", "bob", "builder", &cb) {
		t.Fatal("SCRAM-SHA-256-PLUS failed")
	}
	c.Restart()
	c.Bind("plus")
}

// TestChannelBindingOff: with TLS a client that can bind but saw no -PLUS
// (gs2 flag "y") is refused as a downgrade, and the log says why; with
// NoChannelBinding no -PLUS is offered and the same client logs in.
func TestChannelBindingOff(t *testing.T) {
	scfg, ccfg := tlsConfigs(t)
	for _, off := range []bool{false, true} {
		ts := start(t, func(c *server.Config) { c.TLS, c.NoChannelBinding = scfg, off })
		c := xclient.Dial(t, ts.addr, "localhost")
		c.Open()
		_, features := c.StartTLS(ccfg)
		var mechs []string
		for _, m := range features.FindElements("mechanisms/mechanism") {
			mechs = append(mechs, m.Text())
		}
		if plus := strings.Contains(strings.Join(mechs, " "), "-PLUS"); plus == off {
			t.Errorf("NoChannelBinding %v: mechanisms %v", off, mechs)
		}
		if got := c.ScramBindingUnseen("SCRAM-SHA-256", "alice", "wonderland"); got != off {
			t.Errorf("NoChannelBinding %v: gs2 flag y logged in: %v", off, got)
		}
		if logged := strings.Contains(ts.logs.String(), `text="channel binding downgrade"`); logged == off {
			t.Errorf("NoChannelBinding %v: downgrade logged %v:\n%s", off, logged, ts.logs)
		}
	}
}
