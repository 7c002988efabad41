package main

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/xdg-go/scram"
)

// client is one bench connection: a hand-rolled XMPP client that writes
// stanzas as bytes and reads the server's stream with scan. Every step of
// the login is checked; the first unexpected answer fails it.
type client struct {
	nc     net.Conn
	domain string
	user   string
	jid    string // the full JID bound
	buf    []byte
	r, w   int
	inStr  bool
	rdTime time.Duration // read timeout per expected answer
}

// stepError is a login step that failed, named so that failures are
// counted by step.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

func fail(step string, format string, a ...any) error {
	return &stepError{step, fmt.Errorf(format, a...)}
}

// failStep returns the name of the step err failed at ("other" for an
// error that names none).
func failStep(err error) string {
	var se *stepError
	if errors.As(err, &se) {
		return se.step
	}
	return "other"
}

// dial connects to addr.
func dial(addr, domain string, timeout time.Duration) (*client, error) {
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, fail("connect", "%v", err)
	}
	return &client{nc: nc, domain: domain, buf: make([]byte, 2048), rdTime: timeout}, nil
}

// close ends the stream and the connection without waiting for the
// server's answer.
func (c *client) close() {
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = io.WriteString(c.nc, "</stream:stream>")
	c.nc.Close()
}

// send writes s at once.
func (c *client) send(s []byte) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.rdTime))
	_, err := c.nc.Write(s)
	return err
}

// next returns the next header or top-level element (valid until the next
// call), skipping XML declarations. A deadline of zero means none.
func (c *client) next(deadline time.Time) (unit, []byte, error) {
	_ = c.nc.SetReadDeadline(deadline)
	for {
		u, n, err := scan(c.buf[c.r:c.w], c.inStr)
		if err != nil {
			return unitNone, nil, err
		}
		if u != unitNone {
			el := c.buf[c.r : c.r+n]
			c.r += n
			switch u {
			case unitDecl:
				continue
			case unitHeader:
				c.inStr = true
			case unitEnd:
				c.inStr = false
			}
			return u, el, nil
		}
		if c.r > 0 {
			c.w = copy(c.buf, c.buf[c.r:c.w])
			c.r = 0
		}
		if c.w == len(c.buf) {
			if len(c.buf) >= 1<<20 {
				return unitNone, nil, errors.New("element over 1 MiB")
			}
			c.buf = append(c.buf, make([]byte, len(c.buf))...)
		}
		m, err := c.nc.Read(c.buf[c.w:])
		c.w += m
		if m == 0 && err != nil {
			return unitNone, nil, err
		}
	}
}

// expect reads the next element, which must be named tag.
func (c *client) expect(step, tag string) ([]byte, error) {
	u, el, err := c.next(time.Now().Add(c.rdTime))
	if err != nil {
		return nil, fail(step, "%v", err)
	}
	if u == unitEnd {
		return nil, fail(step, "stream closed by the server")
	}
	if u != unitElement || string(name(el)) != tag {
		return nil, fail(step, "want <%s>, got %.200q", tag, el)
	}
	return el, nil
}

// open sends a stream header and reads the server's header and features.
func (c *client) open(step string) ([]byte, error) {
	c.inStr = false
	hdr := "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='" +
		c.domain + "' version='1.0'>"
	if err := c.send([]byte(hdr)); err != nil {
		return nil, fail(step, "%v", err)
	}
	u, el, err := c.next(time.Now().Add(c.rdTime))
	if err != nil {
		return nil, fail(step, "%v", err)
	}
	if u != unitHeader || string(name(el)) != "stream:stream" {
		return nil, fail(step, "want the stream header, got %.200q", el)
	}
	return c.expect(step, "stream:features")
}

// credentials names what a login authenticates with. A SCRAM client is
// kept per user across logins, so that its salted password is computed
// once, as real clients cache it.
type credentials struct {
	mech     string // "PLAIN", "SCRAM-SHA-1" or "SCRAM-SHA-256"
	starttls bool   // negotiate TLS first (certificate not verified: loopback only)
	password string
	mu       sync.Mutex
	scram    map[string]*scram.Client
}

func (cr *credentials) scramClient(user string) (*scram.Client, error) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if sc := cr.scram[user]; sc != nil {
		return sc, nil
	}
	gen := scram.SHA1
	if cr.mech == "SCRAM-SHA-256" {
		gen = scram.SHA256
	}
	sc, err := gen.NewClient(user, cr.password, "")
	if err != nil {
		return nil, err
	}
	if cr.scram == nil {
		cr.scram = make(map[string]*scram.Client)
	}
	cr.scram[user] = sc
	return sc, nil
}

// login runs stream open, SASL, bind, roster get and initial presence, and
// checks each answer. It returns once the server has echoed the initial
// presence to the new resource.
func (c *client) login(user string, cr *credentials, resource string) error {
	c.user = user
	feats, err := c.open("open")
	if err != nil {
		return err
	}
	if cr.starttls {
		if feats, err = c.startTLS(feats); err != nil {
			return err
		}
	}
	if !bytes.Contains(feats, []byte(">"+cr.mech+"<")) {
		return fail("auth", "mechanism %s not offered: %.300q", cr.mech, feats)
	}
	if cr.mech == "PLAIN" {
		err = c.authPlain(user, cr.password)
	} else {
		err = c.authSCRAM(user, cr)
	}
	if err != nil {
		return err
	}
	if _, err := c.open("restart"); err != nil {
		return err
	}
	bind := "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + resource + "</resource></bind></iq>"
	if err := c.send([]byte(bind)); err != nil {
		return fail("bind", "%v", err)
	}
	el, err := c.expect("bind", "iq")
	if err != nil {
		return err
	}
	if t, _ := attr(el, "type"); string(t) != "result" {
		return fail("bind", "%.300q", el)
	}
	j, ok := child(el, "jid")
	if !ok || len(j) == 0 {
		return fail("bind", "no jid in %.300q", el)
	}
	c.jid = string(j)
	// Roster get and initial presence in one write: the server answers the
	// roster first (it is read in order), then echoes the presence.
	if err := c.send([]byte("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq><presence/>")); err != nil {
		return fail("roster", "%v", err)
	}
	if err := c.waitFor("roster", func(el []byte) bool {
		id, _ := attr(el, "id")
		return string(name(el)) == "iq" && string(id) == "r1"
	}, func(el []byte) error {
		if t, _ := attr(el, "type"); string(t) != "result" {
			return fmt.Errorf("%.300q", el)
		}
		return nil
	}); err != nil {
		return err
	}
	return c.waitFor("presence", func(el []byte) bool {
		from, _ := attr(el, "from")
		return string(name(el)) == "presence" && string(from) == c.jid
	}, func(el []byte) error {
		if t, ok := attr(el, "type"); ok {
			return fmt.Errorf("presence of type %s", t)
		}
		return nil
	})
}

// waitFor reads elements until match accepts one, then checks it. Other
// elements on the way (presence of contacts, roster pushes) are skipped,
// up to 10,000 of them.
func (c *client) waitFor(step string, match func([]byte) bool, check func([]byte) error) error {
	deadline := time.Now().Add(c.rdTime)
	for range 10000 {
		u, el, err := c.next(deadline)
		if err != nil {
			return fail(step, "%v", err)
		}
		if u == unitEnd {
			return fail(step, "stream closed by the server")
		}
		if u != unitElement {
			return fail(step, "unexpected %.200q", el)
		}
		if string(name(el)) == "stream:error" {
			return fail(step, "stream error %.300q", el)
		}
		if match(el) {
			if err := check(el); err != nil {
				return fail(step, "%v", err)
			}
			return nil
		}
	}
	return fail(step, "too many unrelated elements")
}

func (c *client) authPlain(user, password string) error {
	msg := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
	if err := c.send([]byte("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + msg + "</auth>")); err != nil {
		return fail("auth", "%v", err)
	}
	el, err := c.expect("auth", "success")
	if err != nil {
		return err
	}
	_ = el
	return nil
}

func (c *client) authSCRAM(user string, cr *credentials) error {
	sc, err := cr.scramClient(user)
	if err != nil {
		return fail("auth", "%v", err)
	}
	conv := sc.NewConversation()
	first, err := conv.Step("")
	if err != nil {
		return fail("auth", "%v", err)
	}
	if err := c.send([]byte("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='" + cr.mech + "'>" +
		base64.StdEncoding.EncodeToString([]byte(first)) + "</auth>")); err != nil {
		return fail("auth", "%v", err)
	}
	ch, err := c.expect("auth", "challenge")
	if err != nil {
		return err
	}
	data, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(text(ch))))
	if err != nil {
		return fail("auth", "challenge: %v", err)
	}
	final, err := conv.Step(string(data))
	if err != nil {
		return fail("auth", "%v", err)
	}
	if err := c.send([]byte("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" +
		base64.StdEncoding.EncodeToString([]byte(final)) + "</response>")); err != nil {
		return fail("auth", "%v", err)
	}
	el, err := c.expect("auth", "success")
	if err != nil {
		return err
	}
	data, err = base64.StdEncoding.DecodeString(string(bytes.TrimSpace(text(el))))
	if err != nil {
		return fail("auth", "success: %v", err)
	}
	if _, err := conv.Step(string(data)); err != nil || !conv.Valid() {
		return fail("auth", "server signature not verified: %v", err)
	}
	return nil
}

// startTLS negotiates STARTTLS and returns the features of the new
// stream. The server's certificate is not verified: the bench only talks
// to servers on loopback, which use self-signed certificates.
func (c *client) startTLS(feats []byte) ([]byte, error) {
	if !bytes.Contains(feats, []byte("<starttls")) {
		return nil, fail("starttls", "not offered: %.300q", feats)
	}
	if err := c.send([]byte("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")); err != nil {
		return nil, fail("starttls", "%v", err)
	}
	if _, err := c.expect("starttls", "proceed"); err != nil {
		return nil, err
	}
	if c.r != c.w {
		return nil, fail("starttls", "data after <proceed/>")
	}
	tc := tls.Client(c.nc, &tls.Config{ServerName: c.domain, InsecureSkipVerify: true})
	_ = c.nc.SetDeadline(time.Now().Add(c.rdTime))
	if err := tc.Handshake(); err != nil {
		return nil, fail("starttls", "%v", err)
	}
	_ = c.nc.SetDeadline(time.Time{})
	c.nc = tc
	return c.open("starttls")
}

// text returns what lies between el's start tag and its end tag.
func text(el []byte) []byte {
	el = bytes.TrimLeft(el, " \t\r\n")
	end := tagEnd(el, 0)
	if end < 0 || el[end-2] == '/' {
		return nil
	}
	k := bytes.LastIndexByte(el, '<')
	if k < end {
		return nil
	}
	return el[end:k]
}

// ping sends an XEP-0199 ping to the server and waits for its answer (a
// result or an error: either shows the session is alive).
func (c *client) ping(id int) error {
	sid := "p" + strconv.Itoa(id)
	if err := c.send([]byte("<iq type='get' id='" + sid + "'><ping xmlns='urn:xmpp:ping'/></iq>")); err != nil {
		return fail("ping", "%v", err)
	}
	return c.waitFor("ping", func(el []byte) bool {
		got, _ := attr(el, "id")
		return string(name(el)) == "iq" && string(got) == sid
	}, func([]byte) error { return nil })
}
