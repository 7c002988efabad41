package conformance

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/xdg-go/scram"
	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/stream"
)

// Defaults for TCPOptions.
const (
	DefaultTCPReceiveTimeout = 2 * time.Second
	DefaultTCPQuietPeriod    = 200 * time.Millisecond
	DefaultTCPLoginTimeout   = 10 * time.Second
	DefaultTCPCloseTimeout   = 2 * time.Second
)

// TCPOptions configure a TCP target. Zero values mean the defaults.
type TCPOptions struct {
	// TLSConfig is used for STARTTLS when the server offers it; nil means
	// never negotiate TLS (a server that requires it then fails the
	// login). An empty ServerName is set to the JID's domain.
	TLSConfig *tls.Config
	// ReceiveTimeout is how long Receive waits for an element before it
	// returns ErrNoStanza (default 2 s).
	ReceiveTimeout time.Duration
	// QuietPeriod is how long Pending waits after the target's last
	// activity (a write by any of its connections, or an element read
	// on any of them) before it counts what is queued (default 200 ms).
	// "receives: nothing" and the dropping of unawaited stanzas rely on
	// it: over a network, "nothing" means "nothing within the quiet
	// period".
	QuietPeriod time.Duration
	// LoginTimeout bounds a Connect: dial, STARTTLS, SASL and bind
	// (default 10 s).
	LoginTimeout time.Duration
	// MinIterations is the lowest SCRAM iteration count the client
	// accepts from the server; 0 means github.com/xdg-go/scram's minimum
	// (4096). Tests whose accounts use fewer iterations lower it.
	MinIterations int
	// CloseTimeout bounds how long Close waits for the server's
	// </stream:stream> after sending its own (default 2 s).
	CloseTimeout time.Duration
}

// TCP is the network target: any XMPP server listening for clients at an
// address. Create one with NewTCP; it holds no server of its own.
//
//   - connects: a TCP connection to the target's address (the script's
//     connect_host and connect_port are ignored), a stream header to the
//     JID's domain, STARTTLS when offered and TCPOptions.TLSConfig is set,
//     SASL with SCRAM-SHA-256, else SCRAM-SHA-1 (github.com/xdg-go/scram,
//     the server's signature checked), else PLAIN, the stream restart,
//     and the bind of the declared resource (else the JID's, else one the
//     server generates). No session, presence or roster request is sent.
//     What the server wrote during the login is not queued.
//   - sends: the element written with impl/stream's Writer.
//   - receives: every top-level element the server writes after the login,
//     read with impl/stream's Reader, a <stream:error> included (our
//     stream-error extension; it carries its xmlns:stream declaration,
//     which Match ignores). The server's </stream:stream> or the end of
//     the connection ends the stream: Receive then returns ErrClosed.
//     Receive waits up to ReceiveTimeout for an element.
//   - receives: nothing: Pending waits until QuietPeriod has passed since
//     the target's last activity, then counts the queued elements. A
//     network target cannot know that nothing more is coming: on TCP,
//     "receives: nothing" means "nothing within the quiet period".
//   - disconnects: </stream:stream>, then a wait of at most CloseTimeout
//     for the server's </stream:stream>; the connection is closed then.
//
// Not supported (TCPUnsupported names the reason, and Connect of a
// "login: no" client fails with an error that is ErrUnsupported): our
// raw-stream extension ("login: no", "sends raw": stream.Reader does not
// report the server's stream id, which a header expectation needs), "times
// out" (the server's own timers would have to be waited for) and "Server
// shuts down" (the target does not own the server), and "## fault:" tags.
type TCP struct {
	addr string
	opts TCPOptions

	mu   sync.Mutex
	last time.Time // the latest activity on any connection
}

// NewTCP returns a target that connects to the XMPP server at addr.
func NewTCP(addr string, opts TCPOptions) Target {
	if opts.ReceiveTimeout <= 0 {
		opts.ReceiveTimeout = DefaultTCPReceiveTimeout
	}
	if opts.QuietPeriod <= 0 {
		opts.QuietPeriod = DefaultTCPQuietPeriod
	}
	if opts.LoginTimeout <= 0 {
		opts.LoginTimeout = DefaultTCPLoginTimeout
	}
	if opts.CloseTimeout <= 0 {
		opts.CloseTimeout = DefaultTCPCloseTimeout
	}
	return &TCP{addr: addr, opts: opts, last: time.Now()}
}

// unsupportedError is an ErrUnsupported of the TCP target.
type unsupportedError struct{ what string }

func (e unsupportedError) Error() string        { return "not supported by the TCP target: " + e.what }
func (e unsupportedError) Is(target error) bool { return target == ErrUnsupported }

// TCPUnsupported returns why the TCP target cannot run s ("" when it can):
// the script uses our raw-stream extension, timers, a server shutdown or a
// store fault.
func TCPUnsupported(s *Script) string {
	for _, c := range s.Clients {
		if c.NoLogin {
			return "raw streams (client " + c.Name + " has login: no)"
		}
	}
	for _, a := range s.Actions {
		switch a.Verb {
		case SendsRaw:
			return "raw streams (sends raw)"
		case TimesOut:
			return "server timers (times out)"
		case FallsBehind:
			return "output overflow (falls behind)"
		case ShutsDown:
			return "server shutdown (Server shuts down)"
		}
	}
	for _, tag := range s.Tags {
		if strings.HasPrefix(tag, FaultTag) {
			return "store faults (## " + tag + ")"
		}
	}
	return ""
}

// touch records activity now.
func (t *TCP) touch() {
	t.mu.Lock()
	t.last = time.Now()
	t.mu.Unlock()
}

// quiet waits until QuietPeriod has passed since the latest activity.
func (t *TCP) quiet() {
	for {
		t.mu.Lock()
		wait := time.Until(t.last.Add(t.opts.QuietPeriod))
		t.mu.Unlock()
		if wait <= 0 {
			return
		}
		time.Sleep(wait)
	}
}

const (
	nsTLS  = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL = "urn:ietf:params:xml:ns:xmpp-sasl"
)

// Connect logs c in on a new TCP connection.
func (t *TCP) Connect(c Client) (Conn, error) {
	if c.NoLogin {
		return nil, unsupportedError{"raw streams (login: no)"}
	}
	local, domain, resource, err := splitJID(c.JID)
	if err != nil {
		return nil, err
	}
	if c.Resource != "" {
		resource = c.Resource
	}
	nc, err := net.DialTimeout("tcp", t.addr, t.opts.LoginTimeout)
	if err != nil {
		return nil, err
	}
	tc := &tcpConn{t: t, nc: nc, changed: make(chan struct{}), done: make(chan struct{})}
	tc.rw = nc
	tc.r = stream.NewReader(nc, stream.ReaderOptions{})
	tc.w = stream.NewWriter(nc)
	_ = nc.SetDeadline(time.Now().Add(t.opts.LoginTimeout))
	tc.domain = domain
	full, err := tc.login(domain, local, c.Password, resource)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("login of %s over TCP: %w", c.JID, err)
	}
	_ = nc.SetDeadline(time.Time{})
	tc.full = full
	t.touch()
	go tc.readLoop()
	return tc, nil
}

// tcpConn is a connection of the TCP target.
type tcpConn struct {
	t    *TCP
	nc   net.Conn
	rw   io.ReadWriter // nc, or the TLS connection over it
	r    *stream.Reader
	full string

	wmu sync.Mutex // guards w and sent
	w   *stream.Writer
	end bool // </stream:stream> sent

	domain string // the stream's to, where sync pings go
	syncs  int    // sync pings sent

	mu      sync.Mutex
	synced  int // the last sync ping answered
	inbox   []*etree.Element
	closed  bool          // the server's stream ended
	changed chan struct{} // closed and replaced when inbox or closed change
	done    chan struct{} // closed when readLoop returns
}

// login negotiates the stream up to the bind result and returns the
// bound JID.
func (c *tcpConn) login(domain, local, password, resource string) (string, error) {
	features, err := c.open(domain)
	if err != nil {
		return "", err
	}
	if st := child(features, "starttls", nsTLS); st != nil {
		if c.t.opts.TLSConfig != nil {
			if features, err = c.startTLS(domain); err != nil {
				return "", err
			}
		} else if child(st, "required", nsTLS) != nil {
			return "", errors.New("the server requires STARTTLS and TCPOptions.TLSConfig is nil")
		}
	}
	if err := c.authenticate(features, local, password); err != nil {
		return "", err
	}
	c.r.Reset(nil)
	if _, err := c.open(domain); err != nil {
		return "", err
	}
	bind := etree.NewElement("iq")
	bind.CreateAttr("type", "set")
	bind.CreateAttr("id", "conformance-bind")
	b := bind.CreateElement("bind")
	b.CreateAttr("xmlns", fsm.NSBind)
	if resource != "" {
		b.CreateElement("resource").SetText(resource)
	}
	if err := c.write(bind); err != nil {
		return "", err
	}
	for {
		el, err := c.next()
		if err != nil {
			return "", fmt.Errorf("bind: %w", err)
		}
		if el.Tag != "iq" || el.SelectAttrValue("id", "") != "conformance-bind" {
			continue
		}
		if j := boundJID(el); j != "" {
			return j, nil
		}
		return "", fmt.Errorf("bind failed: %s", oneLine(el))
	}
}

// open writes a stream header to domain and reads the server's header and
// features.
func (c *tcpConn) open(domain string) (*etree.Element, error) {
	hdr := `<?xml version='1.0'?><stream:stream to='` + escapeAttr(domain) +
		`' version='1.0' xmlns='` + fsm.NSClient + `' xmlns:stream='` + fsm.NSStreams + `'>`
	if _, err := io.WriteString(c.rw, hdr); err != nil {
		return nil, err
	}
	ev, err := c.r.Next()
	if err != nil {
		return nil, fmt.Errorf("waiting for the stream header: %w", err)
	}
	if ev.Kind != fsm.EvStreamOpen {
		return nil, fmt.Errorf("waiting for the stream header: %s", describeEvent(ev))
	}
	el, err := c.next()
	if err != nil {
		return nil, fmt.Errorf("waiting for stream features: %w", err)
	}
	if el.Tag != "features" || elemNS(el) != nsStreams {
		return nil, fmt.Errorf("want <stream:features>, got %s", oneLine(el))
	}
	return el, nil
}

// next reads the next element during the login; anything else is an
// error.
func (c *tcpConn) next() (*etree.Element, error) {
	ev, err := c.r.Next()
	if err != nil {
		return nil, err
	}
	if ev.Kind != fsm.EvElement {
		return nil, errors.New(describeEvent(ev))
	}
	if isStreamError(ev.Elem) {
		return nil, fmt.Errorf("stream error: %s", oneLine(ev.Elem))
	}
	return ev.Elem, nil
}

func describeEvent(ev fsm.Event) string {
	switch ev.Kind {
	case fsm.EvStreamEnd:
		return "the server ended the stream"
	case fsm.EvXMLError:
		return fmt.Sprintf("bad XML from the server: %s %s", ev.Condition, ev.Text)
	case fsm.EvElement:
		return "unexpected " + oneLine(ev.Elem)
	}
	return fmt.Sprintf("unexpected event %v", ev.Kind)
}

// write writes el and flushes.
func (c *tcpConn) write(el *etree.Element) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.w.WriteElement(el, "", ""); err != nil {
		return err
	}
	return c.w.Flush()
}

// startTLS runs STARTTLS and opens the new stream.
func (c *tcpConn) startTLS(domain string) (*etree.Element, error) {
	st := etree.NewElement("starttls")
	st.CreateAttr("xmlns", nsTLS)
	if err := c.write(st); err != nil {
		return nil, err
	}
	el, err := c.next()
	if err != nil {
		return nil, fmt.Errorf("starttls: %w", err)
	}
	if el.Tag != "proceed" {
		return nil, fmt.Errorf("starttls: got %s", oneLine(el))
	}
	cfg := c.t.opts.TLSConfig.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = domain
	}
	tc := tls.Client(c.nc, cfg)
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	c.rw = tc
	c.r.Reset(tc)
	c.w.Reset(tc)
	return c.open(domain)
}

// authenticate runs SASL: SCRAM-SHA-256, else SCRAM-SHA-1, else PLAIN.
func (c *tcpConn) authenticate(features *etree.Element, user, password string) error {
	offered := map[string]bool{}
	if m := child(features, "mechanisms", nsSASL); m != nil {
		for _, e := range m.ChildElements() {
			if e.Tag == "mechanism" {
				offered[strings.TrimSpace(e.Text())] = true
			}
		}
	}
	switch {
	case offered["SCRAM-SHA-256"]:
		return c.scram("SCRAM-SHA-256", scram.SHA256, user, password)
	case offered["SCRAM-SHA-1"]:
		return c.scram("SCRAM-SHA-1", scram.SHA1, user, password)
	case offered["PLAIN"]:
		resp, err := c.saslStep(authElem("PLAIN", "\x00"+user+"\x00"+password))
		if err != nil {
			return err
		}
		if resp.Tag != "success" {
			return fmt.Errorf("PLAIN: got %s", oneLine(resp))
		}
		return nil
	}
	return fmt.Errorf("no supported SASL mechanism offered: %s", oneLine(features))
}

func authElem(mech, data string) *etree.Element {
	el := etree.NewElement("auth")
	el.CreateAttr("xmlns", nsSASL)
	el.CreateAttr("mechanism", mech)
	el.SetText(encode64(data))
	return el
}

func encode64(data string) string {
	if data == "" {
		return "="
	}
	return base64.StdEncoding.EncodeToString([]byte(data))
}

// saslStep writes el and returns the server's <challenge/>, <success/> or
// <failure/>.
func (c *tcpConn) saslStep(el *etree.Element) (*etree.Element, error) {
	if err := c.write(el); err != nil {
		return nil, err
	}
	resp, err := c.next()
	if err != nil {
		return nil, fmt.Errorf("SASL: %w", err)
	}
	switch resp.Tag {
	case "challenge", "success", "failure":
		return resp, nil
	}
	return nil, fmt.Errorf("SASL: got %s", oneLine(resp))
}

func (c *tcpConn) scram(mech string, h scram.HashGeneratorFcn, user, password string) error {
	cl, err := h.NewClient(user, password, "")
	if err != nil {
		return err
	}
	if n := c.t.opts.MinIterations; n > 0 {
		cl = cl.WithMinIterations(n)
	}
	conv := cl.NewConversation()
	msg, err := conv.Step("")
	if err != nil {
		return err
	}
	el := authElem(mech, msg)
	for {
		resp, err := c.saslStep(el)
		if err != nil {
			return err
		}
		if resp.Tag == "failure" {
			return fmt.Errorf("%s: %s", mech, oneLine(resp))
		}
		data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(resp.Text()))
		if err != nil {
			return fmt.Errorf("%s: bad base64 from the server: %v", mech, err)
		}
		if resp.Tag == "success" {
			if !conv.Done() {
				if _, err := conv.Step(string(data)); err != nil {
					return fmt.Errorf("%s: the server's final message: %v", mech, err)
				}
			}
			if !conv.Valid() {
				return fmt.Errorf("%s: the server did not prove it knows the password", mech)
			}
			return nil
		}
		msg, err := conv.Step(string(data))
		if err != nil {
			return fmt.Errorf("%s: %v", mech, err)
		}
		el = etree.NewElement("response")
		el.CreateAttr("xmlns", nsSASL)
		el.SetText(encode64(msg))
	}
}

// child returns el's first child named local in namespace ns.
func child(el *etree.Element, local, ns string) *etree.Element {
	for _, ch := range el.ChildElements() {
		if ch.Tag == local && ch.NamespaceURI() == ns {
			return ch
		}
	}
	return nil
}

func escapeAttr(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", "'", "&apos;", `"`, "&quot;").Replace(s)
}

// readLoop queues what the server writes after the login, until the end
// of its stream or of the connection.
func (c *tcpConn) readLoop() {
	defer close(c.done)
	for {
		ev, err := c.r.Next()
		if err == nil && ev.Kind == fsm.EvElement {
			c.t.touch()
			c.mu.Lock()
			if n, ok := syncAnswer(ev.Elem); ok {
				c.synced = n
			} else {
				c.inbox = append(c.inbox, ev.Elem)
			}
			c.signal()
			c.mu.Unlock()
			continue
		}
		// The end of the stream, bad XML or a read error: the stream is
		// over.
		c.t.touch()
		c.mu.Lock()
		c.closed = true
		c.signal()
		c.mu.Unlock()
		return
	}
}

// signal wakes the waiting Receive; c.mu is held.
func (c *tcpConn) signal() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *tcpConn) FullJID() string { return c.full }

func (c *tcpConn) Send(el *etree.Element) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return ErrClosed
	}
	c.wmu.Lock()
	end := c.end
	c.wmu.Unlock()
	if end {
		return errors.New("the client closed its stream")
	}
	err := c.write(el)
	c.t.touch()
	if err != nil {
		c.mu.Lock()
		closed := c.closed
		c.mu.Unlock()
		if closed {
			return ErrClosed
		}
		return err
	}
	c.sync()
	return nil
}

// syncPrefix starts the id of the pings Send uses to wait until the server
// has handled what was sent.
const syncPrefix = "xmppfsm-sync-"

// sync sends a ping to the server after a stanza and waits for its answer
// (a result or an error) or the end of the stream, at most ReceiveTimeout.
// A server handles one connection's stanzas in order, so once the answer
// is back, the stanza before it has been handled too: the next action of
// the script, on any connection, comes after it, as in process. The
// answers never reach the inbox.
func (c *tcpConn) sync() {
	c.syncs++
	n := c.syncs
	ping := etree.NewElement("iq")
	ping.CreateAttr("type", "get")
	ping.CreateAttr("id", syncPrefix+strconv.Itoa(n))
	ping.CreateAttr("to", c.domain)
	ping.CreateElement("ping").CreateAttr("xmlns", "urn:xmpp:ping")
	if c.write(ping) != nil {
		return
	}
	timer := time.NewTimer(c.t.opts.ReceiveTimeout)
	defer timer.Stop()
	for {
		c.mu.Lock()
		done := c.synced >= n || c.closed
		ch := c.changed
		c.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			return
		}
	}
}

// syncAnswer reports whether el answers a sync ping, and which.
func syncAnswer(el *etree.Element) (int, bool) {
	id := el.SelectAttrValue("id", "")
	if el.Tag != "iq" || !strings.HasPrefix(id, syncPrefix) {
		return 0, false
	}
	if t := el.SelectAttrValue("type", ""); t != "result" && t != "error" {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(id, syncPrefix))
	return n, err == nil
}

func (c *tcpConn) Receive() (*etree.Element, error) {
	timer := time.NewTimer(c.t.opts.ReceiveTimeout)
	defer timer.Stop()
	for {
		c.mu.Lock()
		if len(c.inbox) > 0 {
			el := c.inbox[0]
			c.inbox = c.inbox[1:]
			c.mu.Unlock()
			return el, nil
		}
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			return nil, fmt.Errorf("%w within %v", ErrNoStanza, c.t.opts.ReceiveTimeout)
		}
	}
}

// Pending waits for the target's quiet period, then counts the queued
// elements.
func (c *tcpConn) Pending() int {
	c.t.quiet()
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.inbox)
}

// Close sends </stream:stream>, waits at most CloseTimeout for the
// server's end of the stream, and closes the connection.
func (c *tcpConn) Close() error {
	defer c.nc.Close()
	c.mu.Lock()
	c.inbox = nil
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil
	}
	c.wmu.Lock()
	already := c.end
	c.end = true
	var err error
	if !already {
		if err = c.w.WriteClose(); err == nil {
			err = c.w.Flush()
		}
	}
	c.wmu.Unlock()
	c.t.touch()
	if already {
		return nil
	}
	if err != nil {
		return err
	}
	select {
	case <-c.done:
		return nil
	case <-time.After(c.t.opts.CloseTimeout):
		return fmt.Errorf("the server did not end its stream within %v of </stream:stream>", c.t.opts.CloseTimeout)
	}
}
