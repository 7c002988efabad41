package server_test

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/sasl"
	"github.com/xmppfsm/xmppfsm/impl/server"
	"github.com/xmppfsm/xmppfsm/impl/server/xclient"
	"github.com/xmppfsm/xmppfsm/impl/store"
	"go.uber.org/goleak"
)

// The hostile-input catalog: each case sends one kind of bad input to a
// running server over TCP and checks that
//
//   - the server gives the RFC's answer (a stream error, a stanza error, a
//     SASL failure or a close), read within xclient.Timeout (10 s), with no
//     sleep anywhere;
//   - the heap in use after the case, once collected, is within heapBound
//     of what it was before;
//   - every goroutine started during the case is gone once the attacker's
//     connections close (goleak, none tolerated; polled with a deadline);
//   - two established sessions (alice/witness and bob/witness) still
//     exchange a message both ways, and neither received anything else.
//
// conformance/README.md lists the catalog (input, answer, RFC section, test
// name). Run it with
//
//	go test ./impl/server/ -run Hostile -count=1 -race

// heapBound is how much the heap in use may grow over one case.
const heapBound = 16 << 20

// Limits of the catalog's server, small so that the cases reach them fast.
const (
	hostileNegotiation = 2 * time.Second
	hostileMaxOutput   = 256 << 10
	hostileMaxStanza   = 64 << 10
	hostileResources   = 5
	hostileRoster      = 50
	hostileDirected    = 100
	directedFlood      = 20000 // directed presences in DirectedPresenceFlood
	rosterFlood        = 2000  // roster sets in RosterFlood
	stormSize          = store.DefaultOfflineLimit + 100
)

// hostileCase is one row of the catalog.
type hostileCase struct {
	name   string
	input  string // what the attacker sends, in words
	rfc    string // the RFC section that says what the answer is
	answer string // the answer, as the catalog states it
	run    func(h *harness)
}

// harness is a server under attack and its two witness sessions.
type harness struct {
	t          *testing.T
	ts         *testServer
	clientTLS  *tls.Config // non-nil: witnesses and logins use STARTTLS and SCRAM
	alice, bob *xclient.Client
	opened     []*xclient.Client // the case's connections, closed after it
	seq        atomic.Int64
}

// newHarness starts a server with accounts alice, bob, mallory and eve
// (password "pw" for mallory and eve) and logs the witnesses in.
func newHarness(t *testing.T, mod func(*server.Config), clientTLS *tls.Config) *harness {
	t.Helper()
	ts := start(t, func(c *server.Config) {
		for _, user := range []string{"mallory", "eve"} {
			creds, err := sasl.NewCredentials("pw", iterations, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := creds.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Store.CreateAccount(user, b); err != nil {
				t.Fatal(err)
			}
		}
		mod(c)
	})
	h := &harness{t: t, ts: ts, clientTLS: clientTLS}
	h.alice = h.login(t, "alice", "wonderland", "witness")
	h.bob = h.login(t, "bob", "builder", "witness")
	for _, c := range []*xclient.Client{h.alice, h.bob} {
		c.Send(`<presence/>`)
		c.Expect("presence") // its own: the session is established
	}
	h.opened = nil // the witnesses live as long as the test
	return h
}

// dial opens a connection that is closed after the case.
func (h *harness) dial(t *testing.T) *xclient.Client {
	c := xclient.Dial(t, h.ts.addr, "localhost")
	h.opened = append(h.opened, c)
	return c
}

// login opens a bound session of user, over TLS with SCRAM when the
// harness has a client TLS configuration, else with PLAIN.
func (h *harness) login(t *testing.T, user, pass, resource string) *xclient.Client {
	t.Helper()
	c := h.dial(t)
	if h.clientTLS == nil {
		c.Login(user, pass, resource)
		return c
	}
	c.Open()
	c.StartTLS(h.clientTLS)
	if !c.Scram("SCRAM-SHA-256", user, pass, nil) {
		t.Fatalf("login %s failed", user)
	}
	c.Restart()
	c.Bind(resource)
	return c
}

// authenticated opens a stream and authenticates as mallory with PLAIN.
func (h *harness) authenticated(t *testing.T) *xclient.Client {
	t.Helper()
	c := h.dial(t)
	c.Open()
	if el := c.Plain("mallory", "pw"); el.Tag != "success" {
		t.Fatalf("login: <%s>", el.Tag)
	}
	return c
}

// mallory logs in a new resource of the attacker's account.
func (h *harness) mallory(t *testing.T) (*xclient.Client, string) {
	t.Helper()
	res := fmt.Sprintf("m%d", h.seq.Add(1))
	return h.login(t, "mallory", "pw", res), "mallory@localhost/" + res
}

// witnessesWork sends a message from alice's witness to bob's and back,
// each the very next element the other reads.
func (h *harness) witnessesWork(t *testing.T) {
	t.Helper()
	n := h.seq.Add(1)
	for _, p := range []struct {
		from, to *xclient.Client
		toJID    string
	}{{h.alice, h.bob, "bob@localhost/witness"}, {h.bob, h.alice, "alice@localhost/witness"}} {
		id := fmt.Sprintf("w%d", n)
		p.from.Send(`<message type='chat' id='` + id + `' to='` + p.toJID + `'><body>still here</body></message>`)
		ev, err := p.to.Next()
		if err != nil || ev.Kind != fsm.EvElement {
			t.Fatalf("witness: waiting for message %s: %v %v", id, ev.Kind, err)
		}
		if ev.Elem.Tag != "message" || ev.Elem.SelectAttrValue("id", "") != id {
			t.Fatalf("witness: got %s instead of message %s", fsm.XML(ev.Elem), id)
		}
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// runCatalog runs each case as a subtest with the checks every case shares.
func (h *harness) runCatalog(t *testing.T, cases []hostileCase) {
	for _, hc := range cases {
		t.Run(hc.name, func(t *testing.T) {
			if hc.input == "" || hc.rfc == "" || hc.answer == "" {
				t.Fatalf("catalog row %s lacks its input, RFC section or answer", hc.name)
			}
			heap0, before := heapInUse(), goleak.IgnoreCurrent()
			h.t = t
			hc.run(h)
			for _, c := range h.opened {
				c.Raw.Close()
			}
			h.opened = nil
			h.witnessesWork(t)
			// The attacker's connections are closed: every goroutine
			// started during the case ends (goleak.Find looks again a few
			// times, sleeping in between; polled until xclient.Timeout).
			deadline := time.Now().Add(xclient.Timeout)
			for {
				err := goleak.Find(before)
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("goroutines started during the case are left: %v", err)
				}
				time.Sleep(5 * time.Millisecond)
			}
			if heap1 := heapInUse(); heap1 > heap0+heapBound {
				t.Errorf("heap in use grew from %d to %d bytes (bound %d)", heap0, heap1, heapBound)
			}
		})
	}
}

// hdr is a well-formed client stream header.
const hdr = `<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`

// header returns a stream header with the given attributes in place of
// the usual ones.
func header(attrs string) string { return `<stream:stream ` + attrs + `>` }

const stdNS = `xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'`

// write sends s and ignores a failed write: the server may close the
// connection before it has read everything a hostile client sends.
func write(c *xclient.Client, s string) {
	_ = c.Raw.SetWriteDeadline(time.Now().Add(xclient.Timeout))
	_, _ = io.WriteString(c.Raw, s)
}

// streamError reads until the server's stream error, skipping its header
// and other elements, and returns the condition; the server must then end
// its stream and close the connection.
func streamError(t *testing.T, c *xclient.Client) string {
	t.Helper()
	for {
		ev, err := c.Next()
		if err != nil {
			t.Fatalf("waiting for a stream error: %v", err)
		}
		switch ev.Kind {
		case fsm.EvStreamOpen:
			continue
		case fsm.EvElement:
			if ev.Elem.Tag != "error" {
				continue
			}
			cond := ""
			for _, ch := range ev.Elem.ChildElements() {
				if ch.Tag != "text" {
					cond = ch.Tag
				}
			}
			c.ExpectEnd()
			return cond
		default:
			t.Fatalf("waiting for a stream error: got %v", ev.Kind)
		}
	}
}

// expectStreamError sends input on a new connection and expects the
// stream error cond.
func expectStreamError(input, cond string) func(*harness) {
	return func(h *harness) {
		c := h.dial(h.t)
		write(c, input)
		if got := streamError(h.t, c); got != cond {
			h.t.Fatalf("stream error %q, want %q", got, cond)
		}
	}
}

// boundStreamError sends input from a bound session of mallory's and
// expects the stream error cond.
func boundStreamError(input, cond string) func(*harness) {
	return func(h *harness) {
		c, _ := h.mallory(h.t)
		write(c, input)
		if got := streamError(h.t, c); got != cond {
			h.t.Fatalf("stream error %q, want %q", got, cond)
		}
	}
}

// nextElement reads the next element.
func nextElement(t *testing.T, c *xclient.Client) *etree.Element {
	t.Helper()
	ev, err := c.Next()
	if err != nil || ev.Kind != fsm.EvElement {
		t.Fatalf("waiting for an element: %v %v", ev.Kind, err)
	}
	return ev.Elem
}

// reply reads until an element with the given id.
func reply(t *testing.T, c *xclient.Client, id string) *etree.Element {
	t.Helper()
	for {
		ev, err := c.Next()
		if err != nil || ev.Kind != fsm.EvElement {
			t.Fatalf("waiting for the answer to %s: %v %v", id, ev.Kind, err)
		}
		if ev.Elem.SelectAttrValue("id", "") == id {
			return ev.Elem
		}
	}
}

// errorOf returns the type and condition of a stanza error ("" if el is
// not one).
func errorOf(el *etree.Element) (typ, cond string) {
	if el.SelectAttrValue("type", "") != "error" {
		return "", ""
	}
	e := el.SelectElement("error")
	if e == nil {
		return "", ""
	}
	for _, ch := range e.ChildElements() {
		if ch.Tag != "text" {
			cond = ch.Tag
		}
	}
	return e.SelectAttrValue("type", ""), cond
}

// boundStanzaError sends stanza (whose id is id) from a bound session of
// mallory's and expects the stanza error typ/cond, the stream staying
// open (a ping is answered after it).
func boundStanzaError(stanza, id, typ, cond string) func(*harness) {
	return func(h *harness) {
		c, _ := h.mallory(h.t)
		c.Send(stanza)
		el := reply(h.t, c, id)
		if gt, gc := errorOf(el); gt != typ || gc != cond {
			h.t.Fatalf("answer %s, want a %s/%s error", fsm.XML(el), typ, cond)
		}
		ping(h.t, c)
	}
}

// ping checks that c's session still answers.
func ping(t *testing.T, c *xclient.Client) {
	t.Helper()
	c.Send(`<iq type='get' id='alive' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)
	if el := reply(t, c, "alive"); el.SelectAttrValue("type", "") != "result" {
		t.Fatalf("ping: %s", fsm.XML(el))
	}
}

// saslFailure reads until the SASL failure and returns its condition.
func saslFailure(t *testing.T, c *xclient.Client) string {
	t.Helper()
	el := c.Expect("failure")
	for _, ch := range el.ChildElements() {
		if ch.Tag != "text" {
			return ch.Tag
		}
	}
	return ""
}

// authFailure sends auth after opening a stream and expects the SASL
// failure cond, the stream staying open for another try.
func authFailure(auth, cond string) func(*harness) {
	return func(h *harness) {
		c := h.dial(h.t)
		c.Open()
		c.Send(auth)
		if got := saslFailure(h.t, c); got != cond {
			h.t.Fatalf("SASL failure %q, want %q", got, cond)
		}
		if el := c.Plain("mallory", "pw"); el.Tag != "success" {
			h.t.Fatalf("a good PLAIN after the failure: <%s>", el.Tag)
		}
	}
}

// expectClose expects the server to end its stream (after its header if
// it had not sent one) without a stream error, and to close the connection.
func expectClose(t *testing.T, c *xclient.Client) {
	t.Helper()
	for {
		ev, err := c.Next()
		if err != nil {
			t.Fatalf("waiting for the server's close: %v", err)
		}
		switch ev.Kind {
		case fsm.EvStreamOpen:
		case fsm.EvElement:
			if ev.Elem.Tag == "error" {
				t.Fatalf("stream error %s, want a plain close", fsm.XML(ev.Elem))
			}
		case fsm.EvStreamEnd:
			expectEOF(t, c)
			return
		default:
			t.Fatalf("waiting for the server's close: %v", ev.Kind)
		}
	}
}

// expectEOF expects the connection to be closed by the server: a read ends
// with an error that is not a timeout.
func expectEOF(t *testing.T, c *xclient.Client) {
	t.Helper()
	_ = c.Raw.SetReadDeadline(time.Now().Add(xclient.Timeout))
	var b [4096]byte
	for {
		_, err := c.Raw.Read(b[:])
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the server did not close the connection")
		}
		return
	}
}

// readToEOF returns what the server sends until it closes the connection.
func readToEOF(t *testing.T, c *xclient.Client) string {
	t.Helper()
	_ = c.Raw.SetReadDeadline(time.Now().Add(xclient.Timeout))
	b, err := io.ReadAll(c.Raw)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server did not close the connection; it sent %q", b)
	}
	return string(b)
}

func plainAuth(user, pass string) string { return plainAuthzid("", user, pass) }

func plainAuthzid(authzid, user, pass string) string {
	return `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` +
		base64.StdEncoding.EncodeToString([]byte(authzid+"\x00"+user+"\x00"+pass)) + `</auth>`
}

// billionLaughs is the classic entity expansion bomb, as a prolog.
func billionLaughs() string {
	var b strings.Builder
	b.WriteString(`<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol "lol">`)
	prev := "lol"
	for i := 1; i <= 9; i++ {
		name := fmt.Sprintf("lol%d", i)
		b.WriteString(`<!ENTITY ` + name + ` "` + strings.Repeat("&"+prev+";", 10) + `">`)
		prev = name
	}
	b.WriteString(`]>` + header(`to='localhost' version='1.0' `+stdNS) + `<message><body>&lol9;</body></message>`)
	return b.String()
}

func manyAttrs(n int) string {
	var b strings.Builder
	b.WriteString(`<message to='bob@localhost/nobody'`)
	for i := range n {
		fmt.Fprintf(&b, " a%d='x'", i)
	}
	b.WriteString(`/>`)
	return b.String()
}

func manyNamespaces(n int) string {
	var b strings.Builder
	b.WriteString(`<message`)
	for i := range n {
		fmt.Fprintf(&b, " xmlns:p%d='urn:x:%d'", i, i)
	}
	b.WriteString(`/>`)
	return b.String()
}

// hostileConfig is the catalog's server: PLAIN allowed without TLS, small
// limits.
func hostileConfig(c *server.Config) {
	c.InsecurePlain = true
	c.NegotiationTimeout = hostileNegotiation
	c.MaxStanza = hostileMaxStanza
	c.MaxOutput = hostileMaxOutput
	c.MaxResources = hostileResources
	c.MaxRosterItems = hostileRoster
	c.MaxDirected = hostileDirected
}

// TestHostileInput runs the catalog against a server that allows PLAIN
// without TLS.
func TestHostileInput(t *testing.T) {
	newHarness(t, hostileConfig, nil).runCatalog(t, hostileCases())
}

// hostileCases is the catalog for a server that allows PLAIN without TLS.
func hostileCases() []hostileCase {
	big := strings.Repeat("x", hostileMaxStanza+1024)
	return []hostileCase{
		// XML that XMPP restricts (RFC 6120 §11) and the framer's limits.
		{"BillionLaughs", "a DOCTYPE declaring nested entities (billion laughs), before the header", "RFC 6120 §11.1", "stream error restricted-xml",
			expectStreamError(billionLaughs(), "restricted-xml")},
		{"DoctypeInStream", "`<!DOCTYPE>` inside the stream", "RFC 6120 §11.1", "stream error restricted-xml",
			expectStreamError(hdr+`<!DOCTYPE message>`, "restricted-xml")},
		{"ExternalEntity", "a DOCTYPE with an external entity (`SYSTEM \"file:///etc/passwd\"`)", "RFC 6120 §11.1", "stream error restricted-xml",
			expectStreamError(`<?xml version='1.0'?><!DOCTYPE s [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`+header(`to='localhost' version='1.0' `+stdNS), "restricted-xml")},
		{"UndeclaredEntity", "an entity reference `&xxe;` in a stanza", "RFC 6120 §11.1", "stream error restricted-xml",
			expectStreamError(hdr+`<message><body>&xxe;</body></message>`, "restricted-xml")},
		{"Comment", "an XML comment", "RFC 6120 §11.1", "stream error restricted-xml",
			expectStreamError(hdr+`<!-- hello -->`, "restricted-xml")},
		{"ProcessingInstruction", "a processing instruction", "RFC 6120 §11.1", "stream error restricted-xml",
			expectStreamError(hdr+`<?evil code?>`, "restricted-xml")},
		{"DeepNesting", "10,000 nested elements", "RFC 6120 §4.9.3.14, §13.12", "stream error policy-violation",
			expectStreamError(hdr+strings.Repeat("<a>", 10000), "policy-violation")},
		{"HugeAttribute", "an attribute value over the stanza limit", "RFC 6120 §4.9.3.14, §13.12", "stream error policy-violation",
			expectStreamError(hdr+`<message to='`+big+`'/>`, "policy-violation")},
		{"OversizeStanza", "a body over the stanza limit (64 KiB here)", "RFC 6120 §4.9.3.14, §13.12", "stream error policy-violation",
			expectStreamError(hdr+`<message><body>`+big+`</body></message>`, "policy-violation")},
		{"TooManyAttributes", "~11,000 attributes on one element", "RFC 6120 §4.9.3.14, §13.12", "stream error policy-violation",
			expectStreamError(hdr+manyAttrs(hostileMaxStanza/6), "policy-violation")},
		{"TooManyNamespaces", "300 namespace declarations on one element", "RFC 6120 §4.9.3.14, §13.12", "stream error policy-violation",
			expectStreamError(hdr+manyNamespaces(300), "policy-violation")},
		{"InvalidUTF8", "bytes that are not UTF-8", "RFC 6120 §11.6, §4.9.3.22", "stream error unsupported-encoding",
			expectStreamError(hdr+"<message><body>\xff\xfe\xc0\x80</body></message>", "unsupported-encoding")},
		{"OtherEncoding", "an XML declaration naming ISO-8859-1", "RFC 6120 §11.6, §4.9.3.22", "stream error unsupported-encoding",
			expectStreamError(`<?xml version='1.0' encoding='ISO-8859-1'?>`+header(`to='localhost' version='1.0' `+stdNS), "unsupported-encoding")},
		{"UndeclaredPrefix", "an element with an undeclared prefix", "RFC 6120 §4.9.3.2", "stream error bad-namespace-prefix",
			expectStreamError(hdr+`<evil:message/>`, "bad-namespace-prefix")},
		{"DuplicateAttributes", "the same attribute twice", "RFC 6120 §4.9.3.13, §11.3 (XML 1.0 WFC: Unique Att Spec)", "stream error not-well-formed",
			expectStreamError(hdr+`<message to='a@localhost' to='b@localhost'/>`, "not-well-formed")},
		{"MismatchedTags", "`<message></presence>`", "RFC 6120 §4.9.3.13", "stream error not-well-formed",
			expectStreamError(hdr+`<message></presence>`, "not-well-formed")},
		{"TextBetweenStanzas", "text at the top level of the stream", "RFC 6120 §4.9.3.1", "stream error bad-format",
			expectStreamError(hdr+`hello`, "bad-format")},

		// Stream headers (RFC 6120 §4.7, §4.8).
		{"WrongStreamNamespace", "a header with the wrong streams namespace", "RFC 6120 §4.8.1, §4.9.3.10", "stream error invalid-namespace",
			expectStreamError(header(`to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='urn:evil'`), "invalid-namespace")},
		{"WrongContentNamespace", "a header with content namespace `jabber:server`", "RFC 6120 §4.8.2, §4.9.3.10", "stream error invalid-namespace",
			expectStreamError(header(`to='localhost' version='1.0' xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'`), "invalid-namespace")},
		{"WrongVersion", "a header with `version='0.9'`", "RFC 6120 §4.7.5, §4.9.3.25", "stream error unsupported-version",
			expectStreamError(header(`to='localhost' version='0.9' `+stdNS), "unsupported-version")},
		{"BadToHost", "a header to a host the server does not serve", "RFC 6120 §4.9.3.6", "stream error host-unknown",
			expectStreamError(header(`to='evil.example' version='1.0' `+stdNS), "host-unknown")},
		{"MissingTo", "a header without `to`", "RFC 6120 §4.7.2, §4.9.3.7 (S-8)", "stream error improper-addressing",
			expectStreamError(header(`version='1.0' `+stdNS), "improper-addressing")},

		// Before authentication.
		{"StanzaBeforeAuth", "a message before authentication", "RFC 6120 §4.9.3.12", "stream error not-authorized",
			expectStreamError(hdr+`<message to='bob@localhost/witness'><body>spoof</body></message>`, "not-authorized")},
		{"BindBeforeAuth", "a bind request before authentication", "RFC 6120 §4.9.3.12, §7.1", "stream error not-authorized",
			expectStreamError(hdr+`<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>witness</resource></bind></iq>`, "not-authorized")},
		{"UnknownTopLevelElement", "an unknown top-level element before authentication", "RFC 6120 §4.9.3.24", "stream error unsupported-stanza-type",
			expectStreamError(hdr+`<evil xmlns='urn:evil'/>`, "unsupported-stanza-type")},
		{"CloseMidNegotiation", "`</stream:stream>` after the features", "RFC 6120 §4.4", "the server closes its stream and the connection", func(h *harness) {
			c := h.dial(h.t)
			c.Open()
			c.Send(`</stream:stream>`)
			expectClose(h.t, c)
		}},
		{"DataAfterClose", "a message after the client's `</stream:stream>`", "RFC 6120 §4.4", "nothing after </stream:stream> is processed; the server closes", func(h *harness) {
			c, _ := h.mallory(h.t)
			write(c, `</stream:stream><message type='chat' to='bob@localhost/witness' id='late'><body>late</body></message>`)
			expectClose(h.t, c)
			// witnessesWork fails if bob got the late message.
		}},
		{"SlowlorisHeader", "a header trickled in a byte every 50 ms", "RFC 6120 §4.9.3.4, §13.12 (S-93)", "stream error connection-timeout after the negotiation timeout, however slowly bytes trickle in", func(h *harness) {
			c := h.dial(h.t)
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				// A byte every 50 ms, each one well inside any idle limit:
				// this is the attack's pacing, not synchronisation.
				defer close(done)
				tick := time.NewTicker(50 * time.Millisecond)
				defer tick.Stop()
				slow := `<stream:stream to='localhost' ` + strings.Repeat(" ", 1<<20)
				for i := 0; i < len(slow); i++ {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					_ = c.Raw.SetWriteDeadline(time.Now().Add(xclient.Timeout))
					if _, err := c.Raw.Write([]byte{slow[i]}); err != nil {
						return
					}
				}
			}()
			cond := streamError(h.t, c)
			close(stop)
			<-done
			if cond != "connection-timeout" {
				h.t.Fatalf("stream error %q, want connection-timeout", cond)
			}
		}},
		{"StalledNegotiation", "a header, then nothing", "RFC 6120 §4.9.3.4 (S-93)", "stream error connection-timeout", func(h *harness) {
			c := h.dial(h.t)
			c.Open()
			if cond := streamError(h.t, c); cond != "connection-timeout" {
				h.t.Fatalf("stream error %q, want connection-timeout", cond)
			}
		}},

		// SASL (RFC 6120 §6).
		{"UnknownMechanism", "`<auth mechanism='X-EVIL'>`", "RFC 6120 §6.4.2, §6.5.7", "SASL failure invalid-mechanism",
			authFailure(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-EVIL'>AA==</auth>`, "invalid-mechanism")},
		{"BadBase64", "an initial response that is not base64", "RFC 6120 §6.4.2, §6.5.5", "SASL failure incorrect-encoding",
			authFailure(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>!!not base64!!</auth>`, "incorrect-encoding")},
		{"ResponseOutOfOrder", "`<response/>` with no exchange", "RFC 6120 §6.5.8", "SASL failure malformed-request",
			authFailure(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>AA==</response>`, "malformed-request")},
		{"SASLAbort", "`<abort/>` in a SCRAM exchange", "RFC 6120 §6.4.4, §6.5.1", "SASL failure aborted", func(h *harness) {
			c := h.dial(h.t)
			c.Open()
			first := base64.StdEncoding.EncodeToString([]byte("n,,n=mallory,r=abcdefghijklmnop"))
			c.Send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>` + first + `</auth>`)
			c.Expect("challenge")
			c.Send(`<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`)
			if got := saslFailure(h.t, c); got != "aborted" {
				h.t.Fatalf("SASL failure %q, want aborted", got)
			}
		}},
		{"EndlessSASLFailures", "wrong passwords, again and again", "RFC 6120 §6.4.5 (S-38)", "not-authorized twice, then not-authorized and policy-violation", func(h *harness) {
			c := h.dial(h.t)
			c.Open()
			for i := range 2 {
				if el := c.Plain("mallory", "guess"); el.Tag != "failure" || el.SelectElement("not-authorized") == nil {
					h.t.Fatalf("attempt %d: %s", i+1, fsm.XML(el))
				}
			}
			c.Send(plainAuth("mallory", "guess"))
			if got := saslFailure(h.t, c); got != "not-authorized" {
				h.t.Fatalf("third failure %q", got)
			}
			if cond := streamError(h.t, c); cond != "policy-violation" {
				h.t.Fatalf("stream error %q, want policy-violation", cond)
			}
		}},
		{"SASLReplayAfterRestart", "`<auth/>` again on the stream after success", "RFC 6120 §6.4.6, §4.9.3.24 (S-43)", "stream error unsupported-stanza-type", func(h *harness) {
			c := h.authenticated(h.t)
			c.Restart()
			write(c, plainAuth("alice", "wonderland"))
			if cond := streamError(h.t, c); cond != "unsupported-stanza-type" {
				h.t.Fatalf("stream error %q", cond)
			}
		}},
		{"SASLReplayWithoutRestart", "`<auth/>` again after success, with no new header", "RFC 6120 §4.3.3, §4.8.1, §4.9.3.10 (S-5)", "invalid-namespace: a new stream must start with a header", func(h *harness) {
			c := h.authenticated(h.t)
			write(c, plainAuth("alice", "wonderland"))
			// The server's answer is a new stream (a header, the error,
			// the close), which xclient's reader of the old stream cannot
			// take: read the bytes.
			if got := readToEOF(h.t, c); !strings.Contains(got, "<invalid-namespace xmlns='urn:ietf:params:xml:ns:xmpp-streams'") {
				h.t.Fatalf("the server sent %q, want an invalid-namespace stream error", got)
			}
		}},

		{"AuthzidOfAnotherUser", "PLAIN as mallory with authzid alice@localhost", "RFC 6120 §6.3.8, §6.5.6", "SASL failure invalid-authzid",
			authFailure(plainAuthzid("alice@localhost", "mallory", "pw"), "invalid-authzid")},
		{"ForgedHeaderFrom", "a header with `from='alice@localhost'`, then mallory's login", "RFC 6120 §4.7.1, §7.7.2.2", "the from is ignored: the session is bound to mallory's JID", func(h *harness) {
			c := h.dial(h.t)
			c.Send(`<?xml version='1.0'?>` + header(`to='localhost' from='alice@localhost' version='1.0' `+stdNS))
			if ev, err := c.Next(); err != nil || ev.Kind != fsm.EvStreamOpen {
				h.t.Fatalf("want the server's header, got %v %v", ev.Kind, err)
			}
			c.Expect("features")
			if el := c.Plain("mallory", "pw"); el.Tag != "success" {
				h.t.Fatalf("login: <%s>", el.Tag)
			}
			c.Restart()
			if got := c.Bind("forged"); got != "mallory@localhost/forged" {
				h.t.Fatalf("bound %q", got)
			}
		}},
		{"RestartToOtherHost", "after SASL success, a header to another host", "RFC 6120 §4.9.3.12 (S-10)", "stream error not-authorized", func(h *harness) {
			c := h.authenticated(h.t)
			write(c, header(`to='evil.example' version='1.0' `+stdNS))
			if got := readToEOF(h.t, c); !strings.Contains(got, "<not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'") {
				h.t.Fatalf("the server sent %q, want a not-authorized stream error", got)
			}
		}},

		// Binding (RFC 6120 §7).
		{"BindHijackOtherUser", "bind another user's resource (`witness`, `alice@localhost/witness`)", "RFC 6120 §7.6.1, §7.7.2.2", "the resource is bound in mallory's own JID; alice's session is untouched", func(h *harness) {
			c := h.authenticated(h.t)
			c.Restart()
			for _, res := range []string{"witness", "alice@localhost/witness"} {
				c.Send(`<iq type='set' id='hijack'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>` + res + `</resource></bind></iq>`)
				iq := reply(h.t, c, "hijack")
				if j := iq.FindElement("bind/jid"); j == nil || j.Text() != "mallory@localhost/"+res {
					h.t.Fatalf("bind %q: %s", res, fsm.XML(iq))
				}
				if res == "witness" {
					c.Raw.Close()
					c = h.authenticated(h.t)
					c.Restart()
				}
			}
		}},
		{"BindInvalidResource", "bind a 1,100-byte resource", "RFC 6120 §7.7.2.1 (S-51)", "stanza error modify/bad-request", func(h *harness) {
			c := h.authenticated(h.t)
			c.Restart()
			c.Send(`<iq type='set' id='badres'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>` + strings.Repeat("r", 1100) + `</resource></bind></iq>`)
			if typ, cond := errorOf(reply(h.t, c, "badres")); typ != "modify" || cond != "bad-request" {
				h.t.Fatalf("got %s/%s", typ, cond)
			}
		}},
		{"BindTwice", "a second bind after binding", "RFC 6120 §7.1 (S-57)", "stanza error cancel/not-allowed",
			boundStanzaError(`<iq type='set' id='again'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>witness</resource></bind></iq>`, "again", "cancel", "not-allowed")},

		// Stanzas of a bound session (RFC 6120 §8).
		{"IQWithoutID", "an iq get without `id`", "RFC 6120 §8.1.3, §8.2.3 (S-65)", "stanza error modify/bad-request", func(h *harness) {
			c, _ := h.mallory(h.t)
			c.Send(`<iq type='get' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)
			if typ, cond := errorOf(c.Expect("iq")); typ != "modify" || cond != "bad-request" {
				h.t.Fatalf("got %s/%s", typ, cond)
			}
			ping(h.t, c)
		}},
		{"IQTwoChildren", "an iq get with two children", "RFC 6120 §8.2.3 (S-65)", "stanza error modify/bad-request",
			boundStanzaError(`<iq type='get' id='two' to='localhost'><ping xmlns='urn:xmpp:ping'/><query xmlns='jabber:iq:roster'/></iq>`, "two", "modify", "bad-request")},
		{"IQNoChild", "an iq get with no child", "RFC 6120 §8.2.3 (S-65)", "stanza error modify/bad-request",
			boundStanzaError(`<iq type='get' id='none' to='localhost'/>`, "none", "modify", "bad-request")},
		{"IQBadType", "an iq of type `evil`", "RFC 6120 §8.2.3 (S-65)", "stanza error modify/bad-request",
			boundStanzaError(`<iq type='evil' id='bt' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`, "bt", "modify", "bad-request")},
		{"MalformedTo", "a message to `a@b@localhost`", "RFC 6120 §8.3.3.8 (S-64)", "stanza error modify/jid-malformed",
			boundStanzaError(`<message id='mt' to='a@b@localhost'><body>x</body></message>`, "mt", "modify", "jid-malformed")},
		{"ForgedFrom", "messages with a forged `from` (another user, another resource, the server)", "RFC 6120 §8.1.2.1 (S-63)", "the from is stamped with mallory's full JID, whoever it names", func(h *harness) {
			c, me := h.mallory(h.t)
			for _, forged := range []string{"alice@localhost/witness", "mallory@localhost/other", "localhost"} {
				c.Send(`<message type='chat' id='forged' from='` + forged + `' to='bob@localhost/witness'><body>trust me</body></message>`)
				el := h.bob.Expect("message")
				if from := el.SelectAttrValue("from", ""); from != me {
					h.t.Fatalf("forged from %q arrived as %q, want %q", forged, from, me)
				}
			}
		}},
		{"UnknownTopLevelAfterBind", "an unknown top-level element after bind", "RFC 6120 §4.9.3.24 (S-61)", "stream error unsupported-stanza-type",
			boundStreamError(`<evil xmlns='urn:evil'/>`, "unsupported-stanza-type")},
		{"ClientStreamError", "a stream error from the client", "RFC 6120 §4.9.1.1 (S-62)", "the server closes its stream and the connection", func(h *harness) {
			c, _ := h.mallory(h.t)
			write(c, `<stream:error><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`)
			expectClose(h.t, c)
		}},

		// Floods.
		{"WhitespaceFlood", "4 MiB of whitespace", "RFC 6120 §4.6.4, §11.7", "whitespace keepalives are ignored: 4 MiB of them, then a ping is answered", func(h *harness) {
			c, _ := h.mallory(h.t)
			chunk := strings.Repeat(" \n\t", 1<<16)
			for range 4 << 20 / len(chunk) {
				c.Send(chunk)
			}
			ping(h.t, c)
		}},
		{"PresenceFlood", "2,000 presence updates in one write", "RFC 6121 §4.4.2", "2,000 presence updates are broadcast (to mallory's own resource) and the session keeps working", func(h *harness) {
			c, _ := h.mallory(h.t)
			var b strings.Builder
			for i := range 2000 {
				fmt.Fprintf(&b, `<presence><status>%d</status></presence>`, i)
			}
			c.Send(b.String())
			ping(h.t, c)
		}},
		{"DirectedPresenceFlood", "available presence to 20,000 distinct addresses", "RFC 6120 §8.3.3.18, §13.12 (S-106)", fmt.Sprintf("the first %d targets (MaxDirected) get the presence; each one after gets wait/resource-constraint, unrouted", hostileDirected), func(h *harness) {
			c, _ := h.mallory(h.t)
			var b strings.Builder
			for i := range directedFlood {
				fmt.Fprintf(&b, `<presence id='d%d' to='nobody%d@localhost'/>`, i, i)
			}
			// Written while the answers are read: a client that sends
			// 20,000 stanzas without reading their answers overflows its
			// own output buffer (HalfOpenClient).
			sent := make(chan struct{})
			go func() {
				defer close(sent)
				write(c, b.String())
			}()
			defer func() { <-sent }()
			for i := hostileDirected; i < directedFlood; i++ {
				el := reply(h.t, c, fmt.Sprintf("d%d", i))
				if typ, cond := errorOf(el); typ != "wait" || cond != "resource-constraint" {
					h.t.Fatalf("directed presence %d: %s", i, fsm.XML(el))
				}
			}
			ping(h.t, c)
		}},
		{"HalfOpenClient", "a client that never reads, sent 16 MiB by another", "RFC 6120 §4.9.3.17, §13.12 (S-98)", "a client that never reads is closed with resource-constraint once its output passes the cap; the sender, who reads its bounces, is not held up: each of its writes completes within 10 s", func(h *harness) {
			c, me := h.mallory(h.t)
			body := strings.Repeat("z", 4000)
			var b strings.Builder
			for i := range 64 {
				fmt.Fprintf(&b, `<message type='chat' id='f%d' to='%s'><body>%s</body></message>`, i, me, body)
			}
			flood := b.String()
			// eve sends far more (16 MiB) than the cap and the kernel's
			// buffers hold. Once mallory is closed the rest go to
			// mallory's offline store, up to its quota, and the others
			// bounce back to eve, who reads them as she writes (a sender
			// that does not read its answers is read no faster than it
			// reads them). Each of her writes must complete within
			// xclient.Timeout, without error: mallory not reading does
			// not hold her up. The witnesses' round trip after the case
			// shows that nobody else is held up.
			eve := h.login(h.t, "eve", "pw", "flood")
			read := make(chan struct{})
			go func() {
				defer close(read)
				for {
					if _, err := eve.Next(); err != nil {
						return // eve's connection closed below
					}
				}
			}()
			for i := range 64 {
				_ = eve.Raw.SetWriteDeadline(time.Now().Add(xclient.Timeout))
				if _, err := io.WriteString(eve.Raw, flood); err != nil {
					h.t.Errorf("eve's write %d of 64 (256 KiB each): %v", i, err)
					break
				}
			}
			// mallory now reads: some of the messages, then the stream
			// error, then the end.
			if cond := streamError(h.t, c); cond != "resource-constraint" {
				h.t.Errorf("stream error %q, want resource-constraint", cond)
			}
			eve.Raw.Close()
			<-read
		}},
		{"TooManyResources", "more binds of one account than `MaxResources`", "RFC 6120 §7.6.2.1 (S-99)", fmt.Sprintf("the bind beyond MaxResources (%d here) gets wait/resource-constraint", hostileResources), func(h *harness) {
			for range hostileResources {
				h.mallory(h.t)
			}
			c := h.authenticated(h.t)
			c.Restart()
			c.Send(`<iq type='set' id='extra'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>extra</resource></bind></iq>`)
			if typ, cond := errorOf(reply(h.t, c, "extra")); typ != "wait" || cond != "resource-constraint" {
				h.t.Fatalf("got %s/%s", typ, cond)
			}
		}},
		{"MessageStormToOfflineUser", "1,100 chat messages to an offline account", "RFC 6121 §8.5.2.1.1, §8.5.2.2.1 (I-27)", fmt.Sprintf("of %d chat messages to an offline account the store keeps its quota (%d) and the rest bounce with cancel/service-unavailable; the quota is delivered at the next login", stormSize, store.DefaultOfflineLimit), func(h *harness) {
			c, _ := h.mallory(h.t)
			var b strings.Builder
			for i := range stormSize {
				fmt.Fprintf(&b, `<message type='chat' id='s%d' to='eve@localhost'><body>storm %d</body></message>`, i, i)
			}
			c.Send(b.String())
			c.Send(`<iq type='get' id='alive' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)
			bounced, pinged := 0, false
			for bounced < stormSize-store.DefaultOfflineLimit || !pinged {
				el := nextElement(h.t, c)
				switch typ, cond := errorOf(el); {
				case el.Tag == "iq" && el.SelectAttrValue("id", "") == "alive":
					pinged = true
				case el.Tag == "message" && typ == "cancel" && cond == "service-unavailable":
					if n, _ := strconv.Atoi(strings.TrimPrefix(el.SelectAttrValue("id", ""), "s")); n < store.DefaultOfflineLimit {
						h.t.Fatalf("message s%d bounced, within the quota", n)
					}
					bounced++
				default:
					h.t.Fatalf("unexpected %s", fsm.XML(el))
				}
			}
			eve := h.login(h.t, "eve", "pw", "later")
			eve.Send(`<presence/>`)
			for i := range store.DefaultOfflineLimit {
				el := eve.Expect("message")
				if id := el.SelectAttrValue("id", ""); id != fmt.Sprintf("s%d", i) {
					h.t.Fatalf("offline message %d has id %q", i, id)
				}
			}
		}},
		{"RosterFlood", "2,000 roster sets for new contacts (the 100,000-item roster)", "RFC 6120 §8.3.3.18 (I-51, I-52); RFC 6120 §13.12", fmt.Sprintf("of %d roster sets for new contacts the first %d (MaxRosterItems) succeed and the rest get wait/resource-constraint; a subscribe to a new contact then is bounced the same way", rosterFlood, hostileRoster), func(h *harness) {
			c, _ := h.mallory(h.t)
			var b strings.Builder
			for i := range rosterFlood {
				fmt.Fprintf(&b, `<iq type='set' id='r%d'><query xmlns='jabber:iq:roster'><item jid='c%d@localhost'/></query></iq>`, i, i)
			}
			c.Send(b.String())
			for i := range rosterFlood {
				el := reply(h.t, c, fmt.Sprintf("r%d", i))
				typ, cond := errorOf(el)
				switch {
				case i < hostileRoster && el.SelectAttrValue("type", "") != "result":
					h.t.Fatalf("roster set %d: %s", i, fsm.XML(el))
				case i >= hostileRoster && (typ != "wait" || cond != "resource-constraint"):
					h.t.Fatalf("roster set %d beyond the limit: %s", i, fsm.XML(el))
				}
			}
			c.Send(`<presence type='subscribe' id='sub' to='someone@localhost'/>`)
			if typ, cond := errorOf(reply(h.t, c, "sub")); typ != "wait" || cond != "resource-constraint" {
				h.t.Fatalf("subscribe beyond the limit: %s/%s", typ, cond)
			}
		}},
		{"HugeRosterSet", "one roster set of 100,000 items", "RFC 6120 §4.9.3.14, §13.12", "a roster set of 100,000 items is over the stanza limit: policy-violation", func(h *harness) {
			var b strings.Builder
			b.WriteString(`<iq type='set' id='huge'><query xmlns='jabber:iq:roster'>`)
			for i := range 100000 {
				fmt.Fprintf(&b, `<item jid='c%d@localhost'/>`, i)
			}
			b.WriteString(`</query></iq>`)
			boundStreamError(b.String(), "policy-violation")(h)
		}},
	}
}

// TestHostileInputTLS runs the cases that need STARTTLS, on a server that
// requires it; the witnesses log in with STARTTLS and SCRAM.
func TestHostileInputTLS(t *testing.T) {
	scfg, ccfg := tlsConfigs(t)
	h := newHarness(t, func(c *server.Config) {
		c.TLS = scfg
		c.RequireTLS = true
		c.NegotiationTimeout = hostileNegotiation
	}, ccfg)
	h.runCatalog(t, hostileTLSCases())
}

// hostileTLSCases is the catalog for a server that requires STARTTLS.
func hostileTLSCases() []hostileCase {
	return []hostileCase{
		{"PlainWithoutTLS", "PLAIN before STARTTLS, TLS required", "RFC 6120 §5.3.1, §6.5.4 (S-26)", "SASL failure encryption-required",
			func(h *harness) {
				c := h.dial(h.t)
				c.Open()
				c.Send(plainAuth("mallory", "pw"))
				if got := saslFailure(h.t, c); got != "encryption-required" {
					h.t.Fatalf("SASL failure %q", got)
				}
			}},
		{"StanzaBeforeTLS", "a message before STARTTLS, TLS required", "RFC 6120 §4.9.3.12, §5.3.1", "stream error not-authorized",
			expectStreamError(hdr+`<message to='bob@localhost/witness'><body>x</body></message>`, "not-authorized")},
		{"TLSGarbage", "garbage instead of a TLS ClientHello after `<proceed/>`", "RFC 6120 §5.4.3.2 (S-24)", "the handshake fails and the server closes the TCP connection", func(h *harness) {
			c := h.dial(h.t)
			c.Open()
			c.Send(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`)
			c.Expect("proceed")
			write(c, strings.Repeat("\x16\x03\x01\xff\xff garbage ", 100))
			expectEOF(h.t, c)
		}},
		{"DataAfterStartTLS", "a stanza right behind `<starttls/>`, before `<proceed/>`", "RFC 6120 §5.4.2.3 (S-25)", "<proceed/>, then the server closes the connection", func(h *harness) {
			c := h.dial(h.t)
			c.Open()
			c.Send(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><message to='bob@localhost/witness'><body>x</body></message>`)
			c.Expect("proceed")
			expectEOF(h.t, c)
		}},
		{"StartTLSTwice", "`<starttls/>` again under TLS", "RFC 6120 §5.4.3.3, §4.9.3.24 (S-22)", "stream error unsupported-stanza-type", func(h *harness) {
			c := h.dial(h.t)
			c.Open()
			c.StartTLS(h.clientTLS)
			c.Send(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`)
			if cond := streamError(h.t, c); cond != "unsupported-stanza-type" {
				h.t.Fatalf("stream error %q", cond)
			}
		}},
	}
}
