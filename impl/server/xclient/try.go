package xclient

import (
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/stream"
)

// TryDial connects to addr and returns the error instead of failing a
// test: for the load and fault tests, whose clients run in their own
// goroutines and expect their connections to fail. Only the methods named
// Try…, Next and Raw may be used on the client it returns.
func TryDial(addr, domain string) (*Client, error) {
	nc, err := net.DialTimeout("tcp", addr, Timeout)
	if err != nil {
		return nil, err
	}
	return &Client{Raw: nc, rw: nc, r: stream.NewReader(nc, stream.ReaderOptions{}), Domain: domain}, nil
}

// TrySend writes s within Timeout.
func (c *Client) TrySend(s string) error {
	_ = c.Raw.SetWriteDeadline(time.Now().Add(Timeout))
	_, err := io.WriteString(c.rw, s)
	return err
}

// TryLogin is Login that returns an error instead of failing the test:
// stream header, PLAIN, restart, bind of resource. It returns the bound
// full JID.
func (c *Client) TryLogin(user, pass, resource string) (string, error) {
	open := `<?xml version='1.0'?><stream:stream to='` + c.Domain + `' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`
	if err := c.tryOpen(open); err != nil {
		return "", err
	}
	data := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
	if err := c.TrySend(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + data + `</auth>`); err != nil {
		return "", err
	}
	el, err := c.tryExpect("success", "failure")
	if err != nil {
		return "", err
	}
	if el.Tag != "success" {
		return "", fmt.Errorf("login %s: <%s>", user, el.Tag)
	}
	c.r.Reset(nil)
	if err := c.tryOpen(open); err != nil {
		return "", err
	}
	if err := c.TrySend(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>` + resource + `</resource></bind></iq>`); err != nil {
		return "", err
	}
	iq, err := c.tryExpect("iq")
	if err != nil {
		return "", err
	}
	j := iq.FindElement("bind/jid")
	if iq.SelectAttrValue("type", "") != "result" || j == nil {
		return "", fmt.Errorf("bind %s: iq of type %q", user, iq.SelectAttrValue("type", ""))
	}
	return j.Text(), nil
}

// tryOpen sends a stream header and reads the server's header and
// features.
func (c *Client) tryOpen(header string) error {
	if err := c.TrySend(header); err != nil {
		return err
	}
	ev, err := c.Next()
	if err != nil {
		return err
	}
	if ev.Kind != fsm.EvStreamOpen {
		return fmt.Errorf("want a stream header, got %v", ev.Kind)
	}
	_, err = c.tryExpect("features")
	return err
}

// tryExpect reads until an element named one of tags, skipping others.
func (c *Client) tryExpect(tags ...string) (*etree.Element, error) {
	for {
		ev, err := c.Next()
		if err != nil {
			return nil, err
		}
		if ev.Kind != fsm.EvElement {
			return nil, fmt.Errorf("waiting for <%s>: got %v", tags[0], ev.Kind)
		}
		for _, tag := range tags {
			if ev.Elem.Tag == tag {
				return ev.Elem, nil
			}
		}
	}
}
