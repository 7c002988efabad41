package fsm

import (
	"strconv"
	"strings"

	"github.com/beevik/etree"
)

// This file renders events and effects as one line of text each, for
// transcripts, the simulator and failure messages.

var writeSettings = etree.WriteSettings{AttrSingleQuote: true}

// XML renders el as compact XML with single-quoted attributes.
func XML(el *etree.Element) string {
	if el == nil {
		return "<nil>"
	}
	var b strings.Builder
	el.WriteTo(&b, &writeSettings)
	return b.String()
}

type line struct{ strings.Builder }

func (l *line) field(key, value string) {
	if value == "" {
		return
	}
	l.WriteByte(' ')
	l.WriteString(key)
	l.WriteByte('=')
	if strings.ContainsAny(value, " '\"=") || value == "" {
		l.WriteString(strconv.Quote(value))
	} else {
		l.WriteString(value)
	}
}

func (l *line) flag(key string, on bool) {
	if on {
		l.WriteByte(' ')
		l.WriteString(key)
	}
}

func (l *line) elem(el *etree.Element) {
	if el != nil {
		l.WriteByte(' ')
		l.WriteString(XML(el))
	}
}

func (l *line) data(key string, d []byte) {
	switch {
	case d == nil:
	case len(d) == 0:
		l.WriteString(" " + key + "=\"\"")
	default:
		l.WriteString(" " + key + "=" + strconv.Quote(string(d)))
	}
}

// String renders the event: its kind, its fields, and its element.
func (ev Event) String() string {
	var l line
	l.WriteString(ev.Kind.String())
	l.field("conn", ev.Conn)
	l.field("from", ev.From)
	l.field("to", ev.To)
	l.field("id", ev.ID)
	l.flag("secure", ev.Secure)
	if h := ev.Header; h != nil {
		if h.Space != NSStreams || h.Local != "stream" {
			l.field("space", h.Space)
			l.field("local", h.Local)
		}
		if h.Default != NSClient {
			l.field("xmlns", h.Default)
		}
		l.field("to", h.To)
		l.field("from", h.From)
		l.field("version", h.Version)
		l.field("lang", h.Lang)
	}
	l.field("username", ev.Username)
	l.field("resource", ev.Resource)
	if ev.Resources != 0 {
		l.field("resources", strconv.Itoa(ev.Resources))
	}
	l.field("condition", ev.Condition)
	l.field("text", ev.Text)
	l.data("data", ev.Data)
	if ev.Timer != 0 {
		l.field("timer", ev.Timer.String())
	}
	l.elem(ev.Elem)
	return l.String()
}

// String renders the effect: its kind, its fields, and its element.
func (e Effect) String() string {
	var l line
	l.WriteString(e.Kind.String())
	if h := e.Header; h != nil {
		l.field("id", h.ID)
		l.field("from", h.From)
		l.field("to", h.To)
		l.field("version", h.Version)
		l.field("lang", h.Lang)
	}
	l.field("mechanism", e.Mechanism)
	l.data("data", e.Data)
	l.field("username", e.Username)
	l.field("resource", e.Resource)
	l.flag("replace", e.Replace)
	l.flag("initial", e.Initial)
	if e.Timer != 0 {
		l.field("timer", e.Timer.String())
	}
	l.field("from", e.From)
	l.field("to", e.To)
	if len(e.Directed) > 0 {
		l.field("directed", strings.Join(e.Directed, ","))
	}
	l.elem(e.Elem)
	return l.String()
}

// String returns the timer's name.
func (t Timer) String() string {
	switch t {
	case TimerNegotiation:
		return "negotiation"
	case TimerIdle:
		return "idle"
	}
	return "timer(?)"
}

// Field is one named field of a session, as Prosody's notes name it.
type Field struct{ Name, Value string }

// Fields lists the session's fields by Prosody's names (type, username,
// host, resource, full_jid, priority, available, interested) and the
// negotiation state (phase, notopen, secure, sasl, offered, directed).
func (s Session) Fields() []Field {
	b := strconv.FormatBool
	return []Field{
		{"phase", s.Phase.String()},
		{"type", s.Type.String()},
		{"notopen", b(s.NotOpen)},
		{"secure", b(s.Secure)},
		{"username", s.Username},
		{"host", s.Host},
		{"resource", s.Resource},
		{"full_jid", s.FullJID},
		{"priority", strconv.Itoa(int(s.Priority))},
		{"available", b(s.Available())},
		{"interested", b(s.Interested)},
		{"roster", b(s.Roster)},
		{"sasl", s.Mechanism},
		{"failures", strconv.Itoa(int(s.SASLFailures))},
		{"offered", s.Offered.String()},
		{"directed", strings.Join(s.Directed, ",")},
	}
}

// String lists the features by name, joined with "+".
func (fs Features) String() string {
	names := [...]string{"starttls", "required", "mechanisms", "bind", "session", "rosterver", "pre-approval"}
	var parts []string
	for i, n := range names {
		if fs&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, "+")
}

// String renders the user event: its kind, its fields, and its element.
func (ev UserEvent) String() string {
	var l line
	l.WriteString(ev.Kind.String())
	if ev.Kind == UEvStoreFailed {
		l.field("cause", ev.Cause.String())
	}
	l.field("from", ev.From)
	l.field("to", ev.To)
	l.flag("initial", ev.Initial)
	if len(ev.Directed) > 0 {
		l.field("directed", strings.Join(ev.Directed, ","))
	}
	if len(ev.Offline) > 0 {
		l.field("offline", strconv.Itoa(len(ev.Offline)))
	}
	l.elem(ev.Elem)
	return l.String()
}

// String renders the user effect: its kind, its fields, and its element.
func (e UserEffect) String() string {
	var l line
	l.WriteString(e.Kind.String())
	l.field("target", e.Target)
	l.field("from", e.From)
	l.field("to", e.To)
	if e.Kind == UEffSaveItem || e.Kind == UEffRemoveItem {
		l.field("item", e.Item.JID)
		if e.Kind == UEffSaveItem {
			l.field("subscription", e.Item.Sub.String())
			l.flag("ask", e.Item.Ask)
			l.flag("approved", e.Item.Approved)
		}
		l.field("version", strconv.FormatUint(e.Version, 10))
	}
	if e.Count != 0 {
		l.field("count", strconv.Itoa(e.Count))
	}
	if len(e.Directed) > 0 {
		l.field("directed", strings.Join(e.Directed, ","))
	}
	l.elem(e.Elem)
	return l.String()
}
