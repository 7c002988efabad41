// Package xclient is a tiny raw XMPP client for the tests of package server
// and of xmppd: it writes XML as given and reads the server's stream with
// package stream, failing the test on a deadline instead of sleeping.
package xclient

import (
	"crypto/tls"
	"encoding/base64"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/xdg-go/scram"
	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/stream"
)

// Timeout is how long a client waits for an expected element.
const Timeout = 10 * time.Second

// Client is one raw connection.
type Client struct {
	t      testing.TB
	Raw    net.Conn
	rw     io.ReadWriter
	r      *stream.Reader
	Domain string
}

// Dial connects to addr.
func Dial(t testing.TB, addr, domain string) *Client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, Timeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	return &Client{t: t, Raw: nc, rw: nc, r: stream.NewReader(nc, stream.ReaderOptions{}), Domain: domain}
}

// Send writes s.
func (c *Client) Send(s string) {
	c.t.Helper()
	_ = c.Raw.SetWriteDeadline(time.Now().Add(Timeout))
	if _, err := io.WriteString(c.rw, s); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// Next returns the server's next stream event.
func (c *Client) Next() (fsm.Event, error) {
	_ = c.Raw.SetReadDeadline(time.Now().Add(Timeout))
	return c.r.Next()
}

// Open sends a stream header and reads the server's header and features.
func (c *Client) Open() *etree.Element {
	c.t.Helper()
	c.Send(`<?xml version='1.0'?><stream:stream to='` + c.Domain + `' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`)
	ev, err := c.Next()
	if err != nil || ev.Kind != fsm.EvStreamOpen {
		c.t.Fatalf("want stream header, got %v %v", ev.Kind, err)
	}
	return c.Expect("features")
}

// Expect reads until an element named tag (local name) and returns it.
// Other elements are skipped; the end of the stream fails the test.
func (c *Client) Expect(tag string) *etree.Element {
	c.t.Helper()
	for {
		ev, err := c.Next()
		if err != nil {
			c.t.Fatalf("waiting for <%s>: %v", tag, err)
		}
		switch ev.Kind {
		case fsm.EvElement:
			if ev.Elem.Tag == tag {
				return ev.Elem
			}
		default:
			c.t.Fatalf("waiting for <%s>: got %v", tag, ev.Kind)
		}
	}
}

// ExpectStreamError reads until a stream error and returns its condition,
// then expects the end of the stream.
func (c *Client) ExpectStreamError() string {
	c.t.Helper()
	el := c.Expect("error")
	cond := ""
	for _, ch := range el.ChildElements() {
		if ch.Tag != "text" {
			cond = ch.Tag
		}
	}
	c.ExpectEnd()
	return cond
}

// ExpectEnd reads until the server's </stream:stream> and the connection's
// end.
func (c *Client) ExpectEnd() {
	c.t.Helper()
	for {
		ev, err := c.Next()
		if err != nil {
			c.t.Fatalf("waiting for the end of the stream: %v", err)
		}
		if ev.Kind == fsm.EvStreamEnd {
			break
		}
		if ev.Kind != fsm.EvElement {
			c.t.Fatalf("waiting for the end of the stream: got %v", ev.Kind)
		}
	}
	// The server closes the connection after its close tag.
	_ = c.Raw.SetReadDeadline(time.Now().Add(Timeout))
	var b [64]byte
	for {
		_, err := c.rw.Read(b[:])
		if err == nil {
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			c.t.Fatalf("connection not closed after </stream:stream>")
		}
		return
	}
}

// Restart resets the reader for the stream that follows SASL success and
// opens it.
func (c *Client) Restart() *etree.Element {
	c.t.Helper()
	c.r.Reset(nil)
	return c.Open()
}

// StartTLS negotiates TLS with cfg, then opens the new stream.
func (c *Client) StartTLS(cfg *tls.Config) (*tls.Conn, *etree.Element) {
	c.t.Helper()
	c.Send(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`)
	c.Expect("proceed")
	tc := tls.Client(c.Raw, cfg)
	_ = c.Raw.SetDeadline(time.Now().Add(Timeout))
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("tls handshake: %v", err)
	}
	c.rw = tc
	c.r.Reset(tc)
	return tc, c.Open()
}

// Plain authenticates with PLAIN and returns the element that answers
// (<success/> or <failure/>).
func (c *Client) Plain(user, pass string) *etree.Element {
	c.t.Helper()
	data := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
	c.Send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + data + `</auth>`)
	return c.saslResult()
}

func (c *Client) saslResult() *etree.Element {
	c.t.Helper()
	for {
		ev, err := c.Next()
		if err != nil || ev.Kind != fsm.EvElement {
			c.t.Fatalf("waiting for the SASL result: %v %v", ev.Kind, err)
		}
		switch ev.Elem.Tag {
		case "success", "failure", "challenge":
			return ev.Elem
		}
	}
}

// Scram authenticates with mechanism mech (SCRAM-SHA-256 or SCRAM-SHA-1,
// or their -PLUS with cb) and reports whether the server sent <success/>
// and proved itself.
func (c *Client) Scram(mech, user, pass string, cb *scram.ChannelBinding) bool {
	c.t.Helper()
	cl, err := scramHash(mech).NewClient(user, pass, "")
	if err != nil {
		c.t.Fatal(err)
	}
	conv := cl.NewConversation()
	if cb != nil {
		conv = cl.NewConversationWithChannelBinding(*cb)
	}
	return c.scram(mech, conv)
}

// ScramBindingUnseen is Scram without channel binding but with the gs2
// flag "y": a client that can bind but saw no -PLUS mechanism offered
// (RFC 5802 §6).
func (c *Client) ScramBindingUnseen(mech, user, pass string) bool {
	c.t.Helper()
	cl, err := scramHash(mech).NewClient(user, pass, "")
	if err != nil {
		c.t.Fatal(err)
	}
	return c.scram(mech, cl.NewConversationAdvertisingChannelBinding())
}

// scramHash is the hash of a SCRAM mechanism: SHA-1 for SCRAM-SHA-1 and
// its -PLUS, SHA-256 otherwise.
func scramHash(mech string) scram.HashGeneratorFcn {
	if strings.HasPrefix(mech, "SCRAM-SHA-1") {
		return scram.SHA1
	}
	return scram.SHA256
}

// scram runs the exchange of conv under mech.
func (c *Client) scram(mech string, conv *scram.ClientConversation) bool {
	c.t.Helper()
	first, err := conv.Step("")
	if err != nil {
		c.t.Fatal(err)
	}
	c.Send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='` + mech + `'>` + base64.StdEncoding.EncodeToString([]byte(first)) + `</auth>`)
	for {
		el := c.saslResult()
		data, err := base64.StdEncoding.DecodeString(el.Text())
		if err != nil {
			c.t.Fatalf("bad base64 from server: %v", err)
		}
		switch el.Tag {
		case "failure":
			return false
		case "success":
			if _, err := conv.Step(string(data)); err != nil {
				c.t.Fatalf("server's final message: %v", err)
			}
			return conv.Valid()
		}
		resp, err := conv.Step(string(data))
		if err != nil {
			c.t.Fatalf("scram step: %v", err)
		}
		c.Send(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>` + base64.StdEncoding.EncodeToString([]byte(resp)) + `</response>`)
	}
}

// Bind binds resource and returns the full JID.
func (c *Client) Bind(resource string) string {
	c.t.Helper()
	c.Send(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>` + resource + `</resource></bind></iq>`)
	iq := c.Expect("iq")
	if iq.SelectAttrValue("type", "") != "result" {
		c.t.Fatalf("bind failed: %s", iq.SelectAttrValue("type", ""))
	}
	j := iq.FindElement("bind/jid")
	if j == nil {
		c.t.Fatalf("bind result has no jid")
	}
	return j.Text()
}

// Login opens a stream, authenticates with PLAIN, restarts and binds.
func (c *Client) Login(user, pass, resource string) string {
	c.t.Helper()
	c.Open()
	if el := c.Plain(user, pass); el.Tag != "success" {
		c.t.Fatalf("login %s: got <%s>", user, el.Tag)
	}
	c.Restart()
	return c.Bind(resource)
}
