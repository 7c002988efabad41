package interop

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/roster"
	"mellium.im/xmpp/stanza"
)

// melliumStep bounds each step of the mellium scenario.
const melliumStep = 10 * time.Second

// melliumMechanisms are the mechanisms the Go client offers, in its order
// of preference: mellium.im/sasl binds -PLUS to tls-exporter under TLS
// 1.3 (RFC 9266), as xmppd does.
var melliumMechanisms = []sasl.Mechanism{sasl.ScramSha256Plus, sasl.ScramSha1Plus, sasl.ScramSha256, sasl.ScramSha1}

// TestMellium runs the scenario with mellium.im/xmpp, a Go client library
// (a test dependency: nothing outside interop imports it). It is chosen
// over github.com/xmppo/go-xmpp because it negotiates the stream as RFC
// 6120 says (features, restarts, and XML tokens rather than strings),
// takes a tls.Config for STARTTLS (so it trusts xmppd's certificate as a
// root, with no InsecureSkipVerify), and has SCRAM-SHA-1/256 with their
// -PLUS variants over tls-exporter.
func TestMellium(t *testing.T) {
	s := startServer(t, alice, bob)
	pem, err := os.ReadFile(s.certFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", s.certFile)
	}
	tlsConfig := &tls.Config{ServerName: domain, RootCAs: roots, MinVersion: tls.VersionTLS12}
	ctx := clientContext(t)
	nonce := newNonce()
	res := scenarioResult{Client: "mellium.im/xmpp v0.22.0"}

	a, err := melliumLogin(ctx, s.addr, tlsConfig, alice.jid(), alice.password)
	if err != nil {
		t.Fatalf("alice: %v", err)
	}
	res.Secure = a.session.ConnectionState().HandshakeComplete
	res.Mechanism = a.mechanism
	if res.RosterBefore, err = a.fetchRoster(ctx); err != nil {
		t.Fatalf("alice's roster: %v", err)
	}
	a.send(t, ctx, `<presence/>`) // initial presence
	b, err := melliumLogin(ctx, s.addr, tlsConfig, bob.jid(), bob.password)
	if err != nil {
		t.Fatalf("bob: %v", err)
	}
	if _, err := b.fetchRoster(ctx); err != nil {
		t.Fatalf("bob's roster: %v", err)
	}
	b.send(t, ctx, `<presence/>`)

	// alice subscribes to bob's presence; bob approves in-protocol.
	a.send(t, ctx, `<presence type="subscribe" to="`+bob.jid()+`"/>`)
	b.waitFor(t, "alice's subscribe", func(in inbound) bool {
		return in.XMLName.Local == "presence" && in.Type == "subscribe" && bareOf(in.From) == alice.jid()
	})
	b.send(t, ctx, `<presence type="subscribed" to="`+alice.jid()+`"/>`)
	// bob's next broadcast reaches his new subscriber.
	b.send(t, ctx, `<presence><show>away</show><status>`+nonce+`</status></presence>`)
	p := a.waitFor(t, "bob's presence", func(in inbound) bool {
		return in.XMLName.Local == "presence" && bareOf(in.From) == bob.jid() && in.Status == nonce
	})
	res.Presence = p.Status

	a.send(t, ctx, `<message type="chat" to="`+bob.jid()+`"><body>hello `+nonce+`</body></message>`)
	m := b.waitFor(t, "alice's message", func(in inbound) bool {
		return in.XMLName.Local == "message" && bareOf(in.From) == alice.jid() && in.Body != ""
	})
	res.Message = m.Body

	if res.AliceRoster, err = a.fetchRoster(ctx); err != nil {
		t.Fatalf("alice's roster: %v", err)
	}
	if res.BobRoster, err = b.fetchRoster(ctx); err != nil {
		t.Fatalf("bob's roster: %v", err)
	}
	// bob leaves first: his subscriber sees him go.
	res.BobClosed = b.close(t)
	a.waitFor(t, "bob's unavailable presence", func(in inbound) bool {
		return in.XMLName.Local == "presence" && bareOf(in.From) == bob.jid() && in.Type == "unavailable"
	})
	res.Unavailable = true
	res.AliceClosed = a.close(t)

	// A wrong password: the SASL failure fails the login (mellium's error
	// text is the condition when xmppd sends no text, as here). The stream
	// stays open for another try (RFC 6120 6.4.5): close it.
	w, err := melliumLogin(ctx, s.addr, tlsConfig, alice.jid(), "not "+alice.password)
	switch {
	case err == nil: // logged in, and served
		res.WrongPassword = "success"
	case w == nil:
		t.Fatalf("wrong password: no session to close: %v", err)
	default:
		res.WrongPassword = err.Error()
		go func() { w.served <- w.session.Serve(nil) }() // reads up to xmppd's </stream:stream>
	}
	res.WrongClosed = w.close(t)
	checkScenario(t, s, res, nonce, expectation{mech: "SCRAM-SHA-256-PLUS"})
}

// melliumClient is one logged-in mellium session and what it received.
type melliumClient struct {
	session   *xmpp.Session
	mechanism string       // the SASL mechanism the library started
	in        chan inbound // stanzas other than IQ responses
	served    chan error   // Serve's result
}

// inbound is the part of a received stanza the scenario looks at.
type inbound struct {
	XMLName xml.Name
	From    string `xml:"from,attr"`
	Type    string `xml:"type,attr"`
	Status  string `xml:"status"`
	Body    string `xml:"body"`
}

// melliumLogin connects to addr, negotiates STARTTLS, SASL and resource
// binding, and starts serving the session. When the negotiation fails
// after the stream began, it returns the error with the client, whose
// session can still be closed (and is not served).
func melliumLogin(ctx context.Context, addr string, tlsConfig *tls.Config, user, password string) (*melliumClient, error) {
	origin, err := jid.Parse(user)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &melliumClient{in: make(chan inbound, 16), served: make(chan error, 1)}
	// Each mechanism records its name when the library starts it.
	mechs := make([]sasl.Mechanism, len(melliumMechanisms))
	for i, m := range melliumMechanisms {
		start := m.Start
		m.Start = func(n *sasl.Negotiator) (bool, []byte, interface{}, error) {
			c.mechanism = m.Name
			return start(n)
		}
		mechs[i] = m
	}
	lctx, cancel := context.WithTimeout(ctx, melliumStep)
	defer cancel()
	c.session, err = xmpp.NewClientSession(lctx, origin, conn,
		xmpp.StartTLS(tlsConfig),
		xmpp.SASL("", password, mechs...),
		xmpp.BindResource(),
	)
	if err != nil {
		if c.session == nil {
			conn.Close()
			return nil, err
		}
		return c, err
	}
	go func() { c.served <- c.session.Serve(xmpp.HandlerFunc(c.handle)) }()
	return c, nil
}

// handle receives every stanza but IQ responses (the library matches
// those to their requests): it answers roster pushes and queues the rest.
func (c *melliumClient) handle(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	if start.Name.Local == "iq" {
		iq, err := stanza.NewIQ(*start)
		if err != nil {
			return err
		}
		if iq.Type == stanza.SetIQ { // a roster push (RFC 6121 2.1.6)
			_, err = xmlstream.Copy(t, iq.Result(nil))
		}
		return err
	}
	var in inbound
	d := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t))
	if err := d.Decode(&in); err != nil {
		return err
	}
	c.in <- in
	return nil
}

// send sends one stanza, written as XML.
func (c *melliumClient) send(t *testing.T, ctx context.Context, s string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, melliumStep)
	defer cancel()
	if err := c.session.Send(sctx, xml.NewDecoder(strings.NewReader(s))); err != nil {
		t.Fatalf("sending %s: %v", s, err)
	}
}

// waitFor returns the first received stanza match accepts.
func (c *melliumClient) waitFor(t *testing.T, what string, match func(inbound) bool) inbound {
	t.Helper()
	deadline := time.NewTimer(melliumStep)
	defer deadline.Stop()
	for {
		select {
		case in := <-c.in:
			if match(in) {
				return in
			}
		case err := <-c.served:
			t.Fatalf("waiting for %s: the session ended: %v", what, err)
		case <-deadline.C:
			t.Fatalf("no %s within %v", what, melliumStep)
		}
	}
}

// fetchRoster gets the whole roster (no version).
func (c *melliumClient) fetchRoster(ctx context.Context) ([]rosterItem, error) {
	fctx, cancel := context.WithTimeout(ctx, melliumStep)
	defer cancel()
	iter := roster.Fetch(fctx, c.session)
	defer iter.Close()
	items := []rosterItem{}
	for iter.Next() {
		it := iter.Item()
		items = append(items, rosterItem{JID: it.JID.String(), Subscription: it.Subscription})
	}
	slices.SortFunc(items, func(a, b rosterItem) int { return strings.Compare(a.JID, b.JID) })
	return items, iter.Err()
}

// close sends </stream:stream> and reports whether xmppd closed its
// stream in return (Serve then ends without an error).
func (c *melliumClient) close(t *testing.T) bool {
	t.Helper()
	defer c.session.Conn().Close()
	// The connection's read deadline bounds the wait for xmppd's
	// </stream:stream> (Session.SetCloseDeadline would race with Serve).
	if err := c.session.Conn().SetReadDeadline(time.Now().Add(melliumStep)); err != nil {
		t.Errorf("SetReadDeadline: %v", err)
	}
	if err := c.session.Close(); err != nil {
		t.Errorf("closing the stream: %v", err)
		return false
	}
	if err := <-c.served; err != nil {
		t.Logf("Serve after close: %v", err)
		return false
	}
	return true
}

// bareOf returns the bare JID of a full or bare JID.
func bareOf(j string) string {
	bare, _, _ := strings.Cut(j, "/")
	return bare
}
