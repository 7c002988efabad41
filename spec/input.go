package spec

import (
	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
)

// Input is one letter of the model's alphabet: a representative event.
// Event builds the concrete fsm.Event it stands for, in a world with one
// host (localhost), one user (alice, resource phone) and one contact
// (bob@localhost).
type Input uint8

// The alphabet.
const (
	Connect Input = iota
	Header
	HeaderBadNamespace
	HeaderNoTo
	HeaderUnserved
	HeaderNoVersion
	StartTLS
	TLSDone
	TLSFailed
	AuthPlain
	AuthSCRAM
	AuthUnknown
	AuthBadBase64
	Response
	Abort
	Challenge
	Success
	Failure
	Bind
	BindGet
	Granted
	Conflict
	RosterLoaded
	RosterFailed
	Session
	RosterGet
	Available
	Unavailable
	Directed
	DirectedOff
	Message
	IQNoID
	Routed
	Unknown
	ClientStreamError
	StreamEnd
	XMLError
	TimeoutNegotiation
	TimeoutIdle
	Replaced
	Shutdown
	ConnLost
	OutputOverflow
	GrantedOverLimit

	numInputs
)

// Inputs is the whole alphabet, in order.
var Inputs = func() []Input {
	in := make([]Input, numInputs)
	for i := range in {
		in[i] = Input(i)
	}
	return in
}()

var inputNames = [numInputs]string{
	"connect", "header", "header-bad-namespace", "header-no-to", "header-unserved",
	"header-no-version", "starttls", "tls-done", "tls-failed", "auth-plain", "auth-scram",
	"auth-unknown", "auth-bad-base64", "response", "abort", "challenge", "success",
	"failure", "bind", "bind-get", "granted", "conflict", "roster-loaded", "roster-failed",
	"session", "roster-get", "available", "unavailable", "directed", "directed-off",
	"message", "iq-no-id", "routed", "unknown", "client-stream-error", "stream-end",
	"xml-error", "timeout-negotiation", "timeout-idle", "replaced", "shutdown", "conn-lost",
	"output-overflow", "granted-over-limit",
}

// String returns the input's name.
func (in Input) String() string {
	if in < numInputs {
		return inputNames[in]
	}
	return "input(?)"
}

// ends reports whether the input ends any open session.
func (in Input) ends() bool {
	switch in {
	case Connect, ClientStreamError, StreamEnd, XMLError, TimeoutIdle, Replaced, Shutdown, ConnLost,
		OutputOverflow:
		return true
	}
	return false
}

// header reports whether the input is a stream header.
func (in Input) header() bool {
	return in >= Header && in <= HeaderNoVersion
}

// element reports whether the input is a top-level element.
func (in Input) element() bool {
	switch in {
	case StartTLS, AuthPlain, AuthSCRAM, AuthUnknown, AuthBadBase64, Response, Abort,
		Bind, BindGet, Session, RosterGet, Available, Unavailable, Directed, DirectedOff,
		Message, IQNoID, Unknown, ClientStreamError:
		return true
	}
	return false
}

// mechanism is the mechanism an auth input names.
func (in Input) mechanism() string {
	switch in {
	case AuthPlain:
		return "PLAIN"
	case AuthSCRAM, AuthBadBase64:
		return "SCRAM-SHA-256"
	}
	return "X-UNKNOWN"
}

// The world the alphabet lives in.
const (
	Host     = "localhost"
	User     = "alice"
	Resource = "phone"
	Contact  = "bob@localhost"
)

// Event builds the concrete event the input stands for. Each call builds new
// elements, so events can be stepped without sharing.
func (in Input) Event() fsm.Event {
	header := func(mod func(*fsm.StreamHeader)) fsm.Event {
		h := &fsm.StreamHeader{Space: fsm.NSStreams, Local: "stream", Default: fsm.NSClient,
			To: Host, Version: "1.0"}
		if mod != nil {
			mod(h)
		}
		return fsm.Event{Kind: fsm.EvStreamOpen, Header: h, ID: "stream-id"}
	}
	switch in {
	case Connect:
		return fsm.Event{Kind: fsm.EvConnect, Conn: "c1", ID: "first-id"}
	case Header:
		return header(nil)
	case HeaderBadNamespace:
		return header(func(h *fsm.StreamHeader) { h.Space = "urn:wrong" })
	case HeaderNoTo:
		return header(func(h *fsm.StreamHeader) { h.To = "" })
	case HeaderUnserved:
		return header(func(h *fsm.StreamHeader) { h.To = "elsewhere.example" })
	case HeaderNoVersion:
		return header(func(h *fsm.StreamHeader) { h.Version = "" })
	case StartTLS:
		return element(nsElement("starttls", fsm.NSTLS))
	case TLSDone:
		return fsm.Event{Kind: fsm.EvTLSDone}
	case TLSFailed:
		return fsm.Event{Kind: fsm.EvTLSFailed}
	case AuthPlain, AuthSCRAM, AuthUnknown, AuthBadBase64:
		el := nsElement("auth", fsm.NSSASL)
		el.CreateAttr("mechanism", in.mechanism())
		el.SetText("AGFsaWNlAHNlY3JldA==")
		if in == AuthBadBase64 {
			el.SetText("not base64!")
		}
		return element(el)
	case Response:
		el := nsElement("response", fsm.NSSASL)
		el.SetText("cj1yZXNwb25zZQ==")
		return element(el)
	case Abort:
		return element(nsElement("abort", fsm.NSSASL))
	case Challenge:
		return fsm.Event{Kind: fsm.EvSASLChallenge, Data: []byte("r=nonce")}
	case Success:
		return fsm.Event{Kind: fsm.EvSASLSuccess, Username: User}
	case Failure:
		return fsm.Event{Kind: fsm.EvSASLFailure, Condition: "not-authorized"}
	case Bind, BindGet:
		typ := "set"
		if in == BindGet {
			typ = "get"
		}
		b := nsElement("bind", fsm.NSBind)
		b.CreateElement("resource").SetText(Resource)
		return element(iq(typ, "b1", b))
	case Granted:
		return fsm.Event{Kind: fsm.EvResourceGranted, Resource: Resource, Resources: 1}
	case GrantedOverLimit:
		// The user holds another resource already: two with this one.
		return fsm.Event{Kind: fsm.EvResourceGranted, Resource: Resource, Resources: 2}
	case Conflict:
		return fsm.Event{Kind: fsm.EvResourceConflict}
	case RosterLoaded:
		return fsm.Event{Kind: fsm.EvRosterLoaded}
	case RosterFailed:
		return fsm.Event{Kind: fsm.EvRosterFailed}
	case Session:
		return element(iq("set", "s1", nsElement("session", fsm.NSSession)))
	case RosterGet:
		return element(iq("get", "r1", nsElement("query", fsm.NSRoster)))
	case Available:
		p := etree.NewElement("presence")
		p.CreateElement("priority").SetText("5")
		return element(p)
	case Unavailable:
		p := etree.NewElement("presence")
		p.CreateAttr("type", "unavailable")
		return element(p)
	case Directed, DirectedOff:
		p := etree.NewElement("presence")
		p.CreateAttr("to", Contact)
		if in == DirectedOff {
			p.CreateAttr("type", "unavailable")
		}
		return element(p)
	case Message:
		m := etree.NewElement("message")
		m.CreateAttr("to", Contact)
		m.CreateAttr("type", "chat")
		m.CreateElement("body").SetText("hi")
		return element(m)
	case IQNoID:
		q := etree.NewElement("iq")
		q.CreateAttr("type", "get")
		q.AddChild(nsElement("ping", "urn:xmpp:ping"))
		return element(q)
	case Routed:
		m := etree.NewElement("message")
		m.CreateAttr("from", Contact+"/laptop")
		m.CreateAttr("to", User+"@"+Host+"/"+Resource)
		m.CreateElement("body").SetText("hello")
		return fsm.Event{Kind: fsm.EvRouted, Elem: m}
	case Unknown:
		return element(nsElement("foo", "urn:example:unknown"))
	case ClientStreamError:
		el := etree.NewElement("stream:error")
		el.CreateAttr("xmlns:stream", fsm.NSStreams)
		el.AddChild(nsElement("undefined-condition", fsm.NSStreamErr))
		return element(el)
	case StreamEnd:
		return fsm.Event{Kind: fsm.EvStreamEnd}
	case XMLError:
		return fsm.Event{Kind: fsm.EvXMLError, Condition: "not-well-formed"}
	case TimeoutNegotiation:
		return fsm.Event{Kind: fsm.EvTimeout, Timer: fsm.TimerNegotiation}
	case TimeoutIdle:
		return fsm.Event{Kind: fsm.EvTimeout, Timer: fsm.TimerIdle}
	case Replaced:
		return fsm.Event{Kind: fsm.EvReplaced}
	case Shutdown:
		return fsm.Event{Kind: fsm.EvShutdown}
	case ConnLost:
		return fsm.Event{Kind: fsm.EvConnLost, Text: "closed"}
	case OutputOverflow:
		return fsm.Event{Kind: fsm.EvOutputOverflow}
	}
	return fsm.Event{Kind: fsm.EventKind(255)}
}

func element(el *etree.Element) fsm.Event { return fsm.Event{Kind: fsm.EvElement, Elem: el} }

func nsElement(tag, ns string) *etree.Element {
	el := etree.NewElement(tag)
	el.CreateAttr("xmlns", ns)
	return el
}

func iq(typ, id string, child *etree.Element) *etree.Element {
	el := etree.NewElement("iq")
	el.CreateAttr("type", typ)
	el.CreateAttr("id", id)
	el.AddChild(child)
	return el
}

// Policies are the policies the model and the tests explore: the RFC's
// defaults with TLS, the same with TLS required, and "variants": the other
// branch of every policy the first two leave at its default (stanza errors
// before bind and PLAIN allowed without TLS, as Prosody does; conflicts
// refused, two SASL failures and one resource per account, as no server's
// defaults do), so that each branch of the session machine is explored.
func Policies() map[string]*fsm.Policy {
	rfc := fsm.DefaultPolicy
	rfc.TLS = true
	required := rfc
	required.RequireTLS = true
	variants := fsm.DefaultPolicy
	variants.UnauthStanza = fsm.UnauthStanzaError
	variants.Mechanisms = []fsm.Mechanism{{Name: "SCRAM-SHA-256"}, {Name: "PLAIN"}}
	variants.Conflict = fsm.ConflictRefuse
	variants.MaxSASLFailures = 2
	variants.MaxResources = 1
	return map[string]*fsm.Policy{"rfc": &rfc, "require-tls": &required, "variants": &variants}
}
