package conformance

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/hub"
	"github.com/xmppfsm/xmppfsm/impl/stream"
)

// ProsodyTestPolicy is the policy of the in-process target:
// fsm.DefaultPolicy, changed only where Prosody's test configuration
// (../shared/conformance/prosody/prosody.cfg.lua, prosody-behaviour.md
// §0.1) makes a choice our default would fail the scripts over, for
// reasons of policy alone:
//
//   - Hosts: "localhost", the configuration's one VirtualHost.
//   - Mechanisms: PLAIN only, without TLS. The configuration loads no
//     mod_tls and sets c2s_require_encryption = false and
//     allow_unencrypted_plain_auth = true, so clients log in with PLAIN on
//     a plain stream; the default offers PLAIN only under TLS (and the
//     in-process hub runs PLAIN alone).
//
// Everything else is the default, which already agrees with Prosody where
// the scripts look: offline storage on, roster versioning and pre-approval
// offered, conflicts resolved by replacing the old session (Prosody's
// default). Left at the default because no script reaches them: the answer
// to a stanza before bind (connects always binds), the SASL failure limit,
// and IQFromStrangers.
//
// Two Prosody extras that RFC 6121 does not ask for are policies, on here
// because issue1121.scs expects them: SubscribeAck (an unavailable
// presence acknowledging a subscription request) and ProbeOnApproval (a
// probe after an approval that makes the subscription both).
func ProsodyTestPolicy() *fsm.Policy {
	p := LoopbackPolicy()
	p.SubscribeAck = true
	p.ProbeOnApproval = true
	return p
}

// LoopbackPolicy is the RFC's default policy on host "localhost" with PLAIN
// allowed without TLS: what our own scripts and traces run under in
// process.
func LoopbackPolicy() *fsm.Policy {
	p := fsm.DefaultPolicy
	p.Hosts = []string{"localhost"}
	p.Mechanisms = []fsm.Mechanism{{Name: "PLAIN"}}
	return &p
}

// InProcess is the in-process target: a fresh hub.Hub (package impl/hub)
// running the pure machines of package fsm, with no sockets. Create one per
// script with NewInProcess.
//
//   - connects: hub.Login (stream header to the JID's domain, SASL PLAIN,
//     restart, bind of the declared resource, else the JID's resource, else
//     a generated one); the bind result gives the full JID. What login
//     writes is not queued. connect_host and connect_port are ignored.
//   - sends: the element, as an EvElement event.
//   - disconnects: the client's </stream:stream> (EvStreamEnd).
//   - receives: the stanzas the hub wrote to the connection (hub.Output,
//     EffSend of a message, presence or iq, with the effect's from and to
//     written over the element's), and a stream error
//     (<stream:error>) for our extension; EffClose or EffAbort ends the
//     stream. The hub runs every event to completion, so Receive never
//     waits: an empty queue is ErrNoStanza at once.
//
// Raw streams (our extension, README.md):
//
//   - connects of a client with "login: no": hub.Connect (EvConnect)
//     only. Receive then returns everything the hub writes: EffSendHeader
//     as <stream:stream from=… id=… to=… version=… xml:lang=…/> (the
//     attributes the header has), and every EffSend element.
//   - sends raw, by the body's form (ClassifyRaw): a stream header is
//     EvStreamOpen with the header's name, namespace, default namespace,
//     to, from, version and xml:lang (the hub adds a fresh stream id; an
//     undeclared prefix on it is the framer's bad-namespace-prefix);
//     </stream:stream> is EvStreamEnd; an element is EvElement; anything
//     else is the EvXMLError a framer reports (rawXMLError). There is no
//     framer in process, so a header is read as one wherever it comes.
//   - After <proceed/>, the hub completes the TLS handshake at once
//     (EvTLSDone): the stream restarts, secure, with no bytes exchanged.
//     A network target needs a real handshake, which a script cannot do.
//   - times out: EvTimeout of the connection's timer; Server shuts
//     down: EvShutdown to every connection, in the order they connected.
type InProcess struct {
	// Hub is the hub the target runs.
	Hub *hub.Hub

	conns     map[string]*inConn // by connection id
	order     []string           // connection ids in the order they opened
	n         int
	loggingIn string   // the connection whose login is running
	login     []string // what the server wrote during that login
	trace     []string
}

// NewInProcess returns an in-process target for script s under policy p
// (nil: ProsodyTestPolicy), with an account for every declared client: the
// JID's localpart and the declared password. Clients that share a JID must
// share the password.
//
// A script with a "## fault: roster-load JID" tag (our extension) makes
// every roster load of that account fail, one with "## fault: store-write
// JID" every write of its roster or pending requests; any other fault is
// refused with ErrUnsupported.
func NewInProcess(s *Script, p *fsm.Policy) (*InProcess, error) {
	faults := map[string]map[string]bool{"roster-load": {}, "store-write": {}}
	for _, tag := range s.Tags {
		rest, ok := strings.CutPrefix(tag, FaultTag)
		if !ok {
			continue
		}
		what, jid, _ := strings.Cut(strings.TrimSpace(rest), " ")
		if faults[what] == nil || strings.TrimSpace(jid) == "" {
			return nil, fmt.Errorf("%s: %q: %w", s.Name, tag, ErrUnsupported)
		}
		faults[what][strings.TrimSpace(jid)] = true
	}
	if p == nil {
		p = ProsodyTestPolicy()
	}
	t := &InProcess{Hub: hub.New(p), conns: map[string]*inConn{}}
	if fail := faults["roster-load"]; len(fail) > 0 {
		t.Hub.RosterFails = func(bare string) bool { return fail[bare] }
	}
	if fail := faults["store-write"]; len(fail) > 0 {
		t.Hub.WritesFail = func(bare string) bool { return fail[bare] }
	}
	passwords := map[string]string{}
	for _, c := range s.Clients {
		local, _, _, err := splitJID(c.JID)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: client %q: %v", s.Name, c.Line, c.Name, err)
		}
		if pw, ok := passwords[local]; ok && pw != c.Password {
			return nil, fmt.Errorf("%s:%d: client %q: account %q declared with another password", s.Name, c.Line, c.Name, local)
		}
		passwords[local] = c.Password
		t.Hub.Store.AddAccount(local, c.Password)
	}
	t.Hub.Output = t.output
	t.Hub.Trace = func(machine, event string, effects []string) {
		t.trace = append(t.trace, machine+": "+event)
		for _, e := range effects {
			t.trace = append(t.trace, "    "+e)
		}
	}
	return t, nil
}

// Trace returns the hub's trace so far: every step, its event and effects.
func (t *InProcess) Trace() string {
	if t == nil {
		return ""
	}
	return strings.Join(t.trace, "\n")
}

// RunInProcess runs s in process under ProsodyTestPolicy. The target is
// returned for its trace (nil when the script's accounts are invalid).
func RunInProcess(s *Script) (Result, *InProcess) {
	t, err := NewInProcess(s, nil)
	if err != nil {
		return Result{Script: s, Failures: []Failure{{Kind: FailConnect, Err: err}}}, nil
	}
	return Run(s, t), t
}

// splitJID splits local@domain/resource; local and domain are required.
func splitJID(j string) (local, domain, resource string, err error) {
	b, resource, _ := strings.Cut(j, "/")
	local, domain, ok := strings.Cut(b, "@")
	if !ok || local == "" || domain == "" {
		return "", "", "", fmt.Errorf("jid %q is not local@domain[/resource]", j)
	}
	return local, domain, resource, nil
}

// Connect logs c in on a new connection, or only opens it for a client
// with NoLogin.
func (t *InProcess) Connect(c Client) (Conn, error) {
	local, domain, resource, err := splitJID(c.JID)
	if err != nil {
		return nil, err
	}
	if c.Resource != "" {
		resource = c.Resource
	}
	t.n++
	id := fmt.Sprintf("c%d", t.n)
	conn := &inConn{t: t, id: id, raw: c.NoLogin}
	t.conns[id] = conn
	t.order = append(t.order, id)
	if c.NoLogin {
		t.Hub.Connect(id)
		return conn, nil
	}
	t.loggingIn, t.login = id, nil
	full, err := t.Hub.Login(id, domain, local, c.Password, resource)
	t.loggingIn = ""
	if err != nil {
		return nil, fmt.Errorf("%v; the server wrote:\n  %s", err, strings.Join(t.login, "\n  "))
	}
	conn.full = full
	return conn, nil
}

// output collects what the hub writes to each connection.
func (t *InProcess) output(o hub.Output) {
	c := t.conns[o.Conn]
	if c == nil || c.closed {
		return
	}
	if o.Conn == t.loggingIn {
		t.login = append(t.login, o.Effect.String())
		if o.Effect.Kind == fsm.EffClose || o.Effect.Kind == fsm.EffAbort {
			c.closed = true
		}
		return
	}
	if c.raw {
		c.rawOutput(o.Effect)
		return
	}
	switch o.Effect.Kind {
	case fsm.EffSend:
		el := written(o.Effect)
		switch {
		case isStreamError(el): // <stream:error>, its prefix undeclared
			c.inbox = append(c.inbox, el)
		default:
			switch fsm.Classify(el) {
			case fsm.ClassMessage, fsm.ClassPresence, fsm.ClassIQ:
				c.inbox = append(c.inbox, el)
			}
		}
	case fsm.EffClose, fsm.EffAbort:
		c.closed = true
	}
}

// written is the element an EffSend writes: Elem with From and To, when
// set, written over its from and to attributes.
func written(e fsm.Effect) *etree.Element {
	el := e.Elem.Copy()
	for _, a := range [...]struct{ key, value string }{{"from", e.From}, {"to", e.To}} {
		if a.value == "" {
			continue
		}
		if at := el.SelectAttr(a.key); at != nil && at.Space == "" {
			at.Value = a.value
		} else {
			el.CreateAttr(a.key, a.value)
		}
	}
	return el
}

// rawOutput queues everything the hub writes to a NoLogin connection,
// and takes the full JID from a bind result.
func (c *inConn) rawOutput(e fsm.Effect) {
	switch e.Kind {
	case fsm.EffSendHeader:
		c.inbox = append(c.inbox, headerElem(e.Header))
	case fsm.EffSend:
		el := written(e)
		if j := boundJID(el); j != "" {
			c.full = j
		}
		c.inbox = append(c.inbox, el)
	case fsm.EffClose, fsm.EffAbort:
		c.closed = true
	}
}

// headerElem renders the server's stream header as an element with no
// children, for matching: <stream:stream/> with the attributes it has.
func headerElem(h *fsm.OutHeader) *etree.Element {
	el := etree.NewElement("stream:stream")
	if h == nil {
		return el
	}
	for _, a := range [...]struct{ key, value string }{
		{"from", h.From}, {"id", h.ID}, {"to", h.To}, {"version", h.Version}, {"xml:lang", h.Lang},
	} {
		if a.value != "" {
			el.CreateAttr(a.key, a.value)
		}
	}
	return el
}

// boundJID returns the JID of a bind result, or "".
func boundJID(el *etree.Element) string {
	if el.Tag != "iq" || el.SelectAttrValue("type", "") != "result" {
		return ""
	}
	for _, b := range el.ChildElements() {
		if b.Tag == "bind" && b.NamespaceURI() == fsm.NSBind {
			if j := b.SelectElement("jid"); j != nil {
				return strings.TrimSpace(j.Text())
			}
		}
	}
	return ""
}

// inConn is a connection of the in-process target.
type inConn struct {
	t      *InProcess
	id     string
	full   string
	inbox  []*etree.Element
	closed bool // the stream ended (either side)
	raw    bool // login: no
}

func (c *inConn) FullJID() string { return c.full }

func (c *inConn) Send(el *etree.Element) error {
	if c.closed {
		return ErrClosed
	}
	c.t.Hub.Send(c.id, fsm.Event{Kind: fsm.EvElement, Elem: el.Copy()})
	return nil
}

func (c *inConn) Receive() (*etree.Element, error) {
	if len(c.inbox) == 0 {
		if c.closed {
			return nil, ErrClosed
		}
		return nil, ErrNoStanza
	}
	el := c.inbox[0]
	c.inbox = c.inbox[1:]
	return el, nil
}

func (c *inConn) Pending() int { return len(c.inbox) }

func (c *inConn) Close() error {
	c.inbox = nil
	if c.closed {
		return nil
	}
	c.t.Hub.Send(c.id, fsm.Event{Kind: fsm.EvStreamEnd})
	c.closed = true
	return nil
}

// SendRaw writes a raw body: see InProcess.
func (c *inConn) SendRaw(text string) error {
	if c.closed {
		return ErrClosed
	}
	var ev fsm.Event
	switch ClassifyRaw(text) {
	case RawClose:
		ev = fsm.Event{Kind: fsm.EvStreamEnd}
	case RawHeader:
		var err error
		if ev, err = headerEvent(text); err != nil {
			return err
		}
	case RawElement:
		el, err := ParseStanza(strings.TrimSpace(text))
		if err != nil {
			return err
		}
		ev = fsm.Event{Kind: fsm.EvElement, Elem: el}
	default:
		ev = fsm.Event{Kind: fsm.EvXMLError, Condition: rawXMLError(text)}
	}
	c.t.Hub.Send(c.id, ev)
	return nil
}

// headerEvent is the event the framer (impl/stream) makes of a RawHeader
// body: EvStreamOpen, or the EvXMLError it detects (an undeclared prefix).
func headerEvent(text string) (fsm.Event, error) {
	ev, err := stream.NewReader(strings.NewReader(strings.TrimSpace(text)), stream.ReaderOptions{}).Next()
	if err != nil {
		return fsm.Event{}, errors.New("not a stream header")
	}
	return ev, nil
}

// Timeout fires the connection's timer: TimerNegotiation or TimerIdle.
func (c *inConn) Timeout(timer string) error {
	var tm fsm.Timer
	switch timer {
	case TimerNegotiation:
		tm = fsm.TimerNegotiation
	case TimerIdle:
		tm = fsm.TimerIdle
	default:
		return fmt.Errorf("unknown timer %q", timer)
	}
	c.t.Hub.Send(c.id, fsm.Event{Kind: fsm.EvTimeout, Timer: tm})
	return nil
}

// Shutdown stops the server: EvShutdown to every connection, in the order
// they opened.
func (t *InProcess) Shutdown() error {
	for _, id := range t.order {
		t.Hub.Send(id, fsm.Event{Kind: fsm.EvShutdown})
	}
	return nil
}

// FaultTag is the prefix of a "##" tag line that asks the target to make
// its store fail ("## fault: roster-load romeo@localhost": every roster
// load of that account fails, for S-56; "## fault: store-write
// romeo@localhost": every write of its roster or pending requests, I-56).
const FaultTag = "fault:"

// ErrUnsupported is the error for a script that uses an extension the
// in-process target cannot carry out.
var ErrUnsupported = errors.New("not supported by the in-process target")

// PolicyTag is the prefix of a "##" tag line that declares the policy a
// script needs in process ("## policy: rfc require-tls").
const PolicyTag = "policy:"

// policyWords are the words of a policy tag. A base replaces the whole
// policy; the others change one field, applied in order.
var policyWords = map[string]func(p *fsm.Policy){
	// Bases.
	"loopback": func(p *fsm.Policy) { *p = *LoopbackPolicy() },
	"prosody":  func(p *fsm.Policy) { *p = *ProsodyTestPolicy() },
	"rfc": func(p *fsm.Policy) {
		*p = fsm.DefaultPolicy
		p.Hosts = []string{"localhost"}
	},
	// Changes.
	"tls":                 func(p *fsm.Policy) { p.TLS = true },
	"require-tls":         func(p *fsm.Policy) { p.TLS, p.RequireTLS = true, true },
	"plain-needs-tls":     func(p *fsm.Policy) { setNeedsTLS(p, "PLAIN") },
	"unauth-stanza-error": func(p *fsm.Policy) { p.UnauthStanza = fsm.UnauthStanzaError },
	"conflict-refuse":     func(p *fsm.Policy) { p.Conflict = fsm.ConflictRefuse },
	"conflict-generate":   func(p *fsm.Policy) { p.Conflict = fsm.ConflictGenerate },
	"no-legacy-session":   func(p *fsm.Policy) { p.LegacySession = false },
	"no-offline-storage":  func(p *fsm.Policy) { p.OfflineStorage = false },
	"no-pre-approval":     func(p *fsm.Policy) { p.PreApproval = false },
	"no-roster-versioning": func(p *fsm.Policy) {
		p.RosterVersioning = false
	},
	"iq-from-strangers": func(p *fsm.Policy) { p.IQFromStrangers = true },
	"subscribe-ack":     func(p *fsm.Policy) { p.SubscribeAck = true },
	"probe-on-approval": func(p *fsm.Policy) { p.ProbeOnApproval = true },
}

// countWord is a policy word that sets a limit: "word=N", N from 1 to max.
type countWord struct {
	max int
	set func(p *fsm.Policy, n int)
}

// countWords are the policy words that set a limit.
var countWords = map[string]countWord{
	"max-sasl-failures": {math.MaxUint8, func(p *fsm.Policy, n int) { p.MaxSASLFailures = uint8(n) }},
	"max-resources":     {math.MaxInt, func(p *fsm.Policy, n int) { p.MaxResources = n }},
	"max-roster-items":  {math.MaxInt, func(p *fsm.Policy, n int) { p.MaxRosterItems = n }},
	"max-directed":      {math.MaxInt, func(p *fsm.Policy, n int) { p.MaxDirected = n }},
}

func setNeedsTLS(p *fsm.Policy, name string) {
	mechs := make([]fsm.Mechanism, len(p.Mechanisms))
	copy(mechs, p.Mechanisms)
	for i := range mechs {
		if mechs[i].Name == name {
			mechs[i].NeedsTLS = true
		}
	}
	p.Mechanisms = mechs
}

// PolicyFor returns the policy script s declares with its "## policy:"
// tags, applied in order over base (nil: LoopbackPolicy). Each tag holds
// words separated by spaces: a base (loopback, prosody, rfc) replaces the
// policy, a change sets one field (tls, require-tls, plain-needs-tls,
// unauth-stanza-error, conflict-refuse, conflict-generate,
// no-legacy-session, no-offline-storage, no-pre-approval,
// no-roster-versioning, iq-from-strangers, subscribe-ack,
// probe-on-approval, max-sasl-failures=N, max-resources=N,
// max-roster-items=N, max-directed=N). README.md lists them.
func PolicyFor(s *Script, base *fsm.Policy) (*fsm.Policy, error) {
	if base == nil {
		base = LoopbackPolicy()
	}
	p := *base
	for _, tag := range s.Tags {
		words, ok := strings.CutPrefix(tag, PolicyTag)
		if !ok {
			continue
		}
		for _, w := range strings.Fields(words) {
			k, n, isCount := strings.Cut(w, "=")
			if cw, known := countWords[k]; isCount && known {
				v, err := strconv.Atoi(n)
				if err != nil || v < 1 || v > cw.max {
					if cw.max == math.MaxInt {
						return nil, fmt.Errorf("%s: policy %q: want %s=N, N from 1", s.Name, w, k)
					}
					return nil, fmt.Errorf("%s: policy %q: want %s=N, N from 1 to %d", s.Name, w, k, cw.max)
				}
				cw.set(&p, v)
				continue
			}
			set, ok := policyWords[w]
			if !ok {
				return nil, fmt.Errorf("%s: unknown policy %q", s.Name, w)
			}
			set(&p)
		}
	}
	return &p, nil
}

// RunScript runs s in process under the policy its "## policy:" tags
// declare over LoopbackPolicy (PolicyFor): how the corpus runs. The target
// is returned for its trace (nil when the tags or the accounts are
// invalid).
func RunScript(s *Script) (Result, *InProcess) {
	p, err := PolicyFor(s, nil)
	if err != nil {
		return Result{Script: s, Failures: []Failure{{Kind: FailScript, Err: err}}}, nil
	}
	t, err := NewInProcess(s, p)
	if err != nil {
		kind := FailConnect
		if errors.Is(err, ErrUnsupported) {
			kind = FailScript
		}
		return Result{Script: s, Failures: []Failure{{Kind: kind, Err: err}}}, nil
	}
	return Run(s, t), t
}
