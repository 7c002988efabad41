// Package record writes and reads session logs: every event a
// connection's session machine (fsm.Step) was stepped with and the effects
// each step produced, in order, so that a session seen on a live server can
// be run again through fresh pure machines (Replay) and a production bug
// becomes a deterministic test.
//
// A log is JSON lines: a Header (format, version, connection, the
// fsm.Policy the session ran under), then one Step per line. Elements are
// XML text; the payloads of SASL and the passwords of legacy
// authentication and in-band registration never reach a log (see Redact).
//
// The user machines have one log for the whole server (UsersHeader, then
// UserLine: each machine as the store loads it, then its steps).
//
// Dir writes one log per connection and the users log for impl/server
// (server.Config.Record); Read and ReadUsers read them back; Replay and
// ReplayUsers check them against the machines.
package record

import (
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
)

// Format and Version identify a session log in its header.
const (
	Format  = "xmppfsm-session-log"
	Version = 1
)

// Header is a log's first line.
type Header struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Conn is the server's id of the connection.
	Conn string `json:"conn"`
	// Started is when the connection was accepted (RFC 3339, UTC).
	Started string `json:"started,omitempty"`
	// Policy is the policy the session ran under: Replay runs the machine
	// under it.
	Policy fsm.Policy `json:"policy"`
	// Redaction says what the log leaves out (RedactionNote).
	Redaction string `json:"redaction"`
}

// RedactionNote is the header's Redaction text.
const RedactionNote = "SASL payloads are recorded by length only (data_bytes; the text of <auth/>, <response/>, " +
	"<challenge/> and <success/> as redacted:N); jabber:iq:auth and jabber:iq:register passwords are left out"

// Step is one step of the session machine: the event and the effects it
// produced, both redacted.
type Step struct {
	// N counts the steps from 1.
	N       int      `json:"n"`
	Event   Event    `json:"event"`
	Effects []Effect `json:"effects"`
	// Line is the step's line in the file it was read from (Read).
	Line int `json:"-"`
}

// Event is an fsm.Event as a log holds it. Kind and Timer are their names;
// Elem is XML text; Data, the SASL payload, is its length only.
type Event struct {
	Kind      string        `json:"kind"`
	Elem      string        `json:"elem,omitempty"`
	From      string        `json:"from,omitempty"`
	To        string        `json:"to,omitempty"`
	Header    *StreamHeader `json:"header,omitempty"`
	ID        string        `json:"id,omitempty"`
	Conn      string        `json:"conn,omitempty"`
	Secure    bool          `json:"secure,omitempty"`
	DataBytes *int          `json:"data_bytes,omitempty"`
	Username  string        `json:"username,omitempty"`
	Resource  string        `json:"resource,omitempty"`
	Resources int           `json:"resources,omitempty"`
	Condition string        `json:"condition,omitempty"`
	Text      string        `json:"text,omitempty"`
	Timer     string        `json:"timer,omitempty"`
}

// StreamHeader is an fsm.StreamHeader.
type StreamHeader struct {
	Space   string `json:"space,omitempty"`
	Local   string `json:"local,omitempty"`
	Default string `json:"default,omitempty"`
	To      string `json:"to,omitempty"`
	From    string `json:"from,omitempty"`
	Version string `json:"version,omitempty"`
	Lang    string `json:"lang,omitempty"`
}

// Effect is an fsm.Effect as a log holds it, like Event.
type Effect struct {
	Kind      string     `json:"kind"`
	Elem      string     `json:"elem,omitempty"`
	From      string     `json:"from,omitempty"`
	To        string     `json:"to,omitempty"`
	Header    *OutHeader `json:"header,omitempty"`
	Mechanism string     `json:"mechanism,omitempty"`
	DataBytes *int       `json:"data_bytes,omitempty"`
	Username  string     `json:"username,omitempty"`
	Resource  string     `json:"resource,omitempty"`
	Replace   bool       `json:"replace,omitempty"`
	Initial   bool       `json:"initial,omitempty"`
	Directed  []string   `json:"directed,omitempty"`
	Timer     string     `json:"timer,omitempty"`
}

// OutHeader is an fsm.OutHeader.
type OutHeader struct {
	ID      string `json:"id,omitempty"`
	From    string `json:"from,omitempty"`
	To      string `json:"to,omitempty"`
	Version string `json:"version,omitempty"`
	Lang    string `json:"lang,omitempty"`
}

// EncodeEvent returns ev as a log holds it, redacted.
func EncodeEvent(ev fsm.Event) Event {
	out := Event{
		Kind: ev.Kind.String(), Elem: encodeElem(ev.Elem), From: ev.From, To: ev.To,
		ID: ev.ID, Conn: ev.Conn, Secure: ev.Secure, DataBytes: dataBytes(ev.Data),
		Username: ev.Username, Resource: ev.Resource, Resources: ev.Resources,
		Condition: ev.Condition, Text: ev.Text,
	}
	if h := ev.Header; h != nil {
		out.Header = &StreamHeader{h.Space, h.Local, h.Default, h.To, h.From, h.Version, h.Lang}
	}
	if ev.Timer != 0 {
		out.Timer = ev.Timer.String()
	}
	return out
}

// EncodeEffects returns effects as a log holds them, redacted.
func EncodeEffects(effects []fsm.Effect) []Effect {
	out := make([]Effect, len(effects))
	for i, e := range effects {
		out[i] = Effect{
			Kind: e.Kind.String(), Elem: encodeElem(e.Elem), From: e.From, To: e.To,
			Mechanism: e.Mechanism, DataBytes: dataBytes(e.Data), Username: e.Username,
			Resource: e.Resource, Replace: e.Replace, Initial: e.Initial,
			Directed: append([]string(nil), e.Directed...),
		}
		if h := e.Header; h != nil {
			out[i].Header = &OutHeader{h.ID, h.From, h.To, h.Version, h.Lang}
		}
		if e.Timer != 0 {
			out[i].Timer = e.Timer.String()
		}
	}
	return out
}

// DecodeEvent returns the event a log's Event stands for. What was
// redacted comes back as a stand-in the machine treats as it treated the
// original (see Redact): a payload of the same length, made of '*'.
func DecodeEvent(e Event) (fsm.Event, error) {
	kind, ok := eventKinds[e.Kind]
	if !ok {
		return fsm.Event{}, fmt.Errorf("unknown event kind %q", e.Kind)
	}
	ev := fsm.Event{
		Kind: kind, From: e.From, To: e.To, ID: e.ID, Conn: e.Conn, Secure: e.Secure,
		Username: e.Username, Resource: e.Resource, Resources: e.Resources,
		Condition: e.Condition, Text: e.Text,
	}
	var err error
	if ev.Elem, err = decodeElem(e.Elem); err != nil {
		return fsm.Event{}, err
	}
	if ev.Data, err = standIn(e.DataBytes); err != nil {
		return fsm.Event{}, err
	}
	if h := e.Header; h != nil {
		ev.Header = &fsm.StreamHeader{Space: h.Space, Local: h.Local, Default: h.Default,
			To: h.To, From: h.From, Version: h.Version, Lang: h.Lang}
	}
	if ev.Timer, err = decodeTimer(e.Timer); err != nil {
		return fsm.Event{}, err
	}
	return ev, nil
}

// The kinds by their names.
var (
	eventKinds  = kinds(fsm.EventKind.String)
	effectKinds = kinds(fsm.EffectKind.String)
)

func decodeTimer(name string) (fsm.Timer, error) {
	switch name {
	case "":
		return 0, nil
	case fsm.TimerNegotiation.String():
		return fsm.TimerNegotiation, nil
	case fsm.TimerIdle.String():
		return fsm.TimerIdle, nil
	}
	return 0, fmt.Errorf("unknown timer %q", name)
}

// dataBytes is the length of a SASL payload: nil for none, which differs
// from empty data (RFC 6120 §6.4.2: "=").
func dataBytes(d []byte) *int {
	if d == nil {
		return nil
	}
	n := len(d)
	return &n
}

// maxStandIn bounds the payload a log may ask DecodeEvent to make.
const maxStandIn = 1 << 20

func standIn(n *int) ([]byte, error) {
	switch {
	case n == nil:
		return nil, nil
	case *n < 0 || *n > maxStandIn:
		return nil, fmt.Errorf("data_bytes %d out of range", *n)
	}
	return []byte(strings.Repeat("*", *n)), nil
}

// writeSettings escape what a parser would otherwise normalise (carriage
// returns in text, tabs and line breaks in attribute values), so an
// element read back is the element written.
var writeSettings = etree.WriteSettings{CanonicalText: true, CanonicalAttrVal: true}

// encodeElem renders el, redacted, as XML text ("" for none).
func encodeElem(el *etree.Element) string {
	if el == nil {
		return ""
	}
	var b strings.Builder
	Redact(el).WriteTo(&b, &writeSettings)
	return b.String()
}

// decodeElem parses what encodeElem wrote, turning redacted SASL payloads
// into their stand-ins.
func decodeElem(s string) (*etree.Element, error) {
	if s == "" {
		return nil, nil
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromString(s); err != nil {
		return nil, fmt.Errorf("element: %v", err)
	}
	root := doc.Root()
	if root == nil || len(doc.ChildElements()) != 1 {
		return nil, errors.New("element: not exactly one XML element")
	}
	for _, t := range doc.Child {
		if _, ok := t.(*etree.Element); !ok {
			return nil, errors.New("element: content outside the element")
		}
	}
	doc.RemoveChild(root)
	if err := unredact(root); err != nil {
		return nil, err
	}
	return root, nil
}
