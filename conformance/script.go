// Package conformance runs scansion scripts (the integration-test format of
// Prosody, see ../../shared/reference/prosody-behaviour.md §8) against an
// XMPP server: in process on the pure machines of package fsm and the
// in-memory hub of impl/hub, or against a server at an address.
//
// Parse reads a script, Match compares an expected stanza with a received
// one, and Run executes a script's actions against a Target. README.md
// beside this file describes the runner's choices and our extensions to
// the format: awaiting a stream error, and raw streams (a client that does
// not log in, writes stream headers and elements itself and reads the
// server's header, features and negotiation elements; timers; shutdown).
package conformance

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// Script is a parsed scansion script.
type Script struct {
	// Name names the script in messages, normally its file name.
	Name string
	// Title is the text of the first "#" line of the metadata, if any;
	// Tags are the "##" lines that follow it ("slow", "status: stable").
	Title string
	Tags  []string
	// Clients are the [Client] declarations, in order.
	Clients []Client
	// Actions are the actions after the separator, in order.
	Actions []Action
}

// Client is one "[Client] Name" declaration.
type Client struct {
	// Name is the character's name: any text, spaces and "'s" included.
	Name string
	// JID, Password, Resource, ConnectHost and ConnectPort are the values
	// of the properties jid, password, resource, connect_host and
	// connect_port ("" when absent). The JID may carry a resource.
	JID, Password, Resource, ConnectHost, ConnectPort string
	// NoLogin is our extension's property "login: no": connects only
	// opens the connection, and the script negotiates the stream itself
	// with "sends raw" (README.md, raw streams). "login: yes" is the
	// default.
	NoLogin bool
	// Line is the line of the "[Client]" header.
	Line int

	loginSet bool
}

// Client returns the declaration named name.
func (s *Script) Client(name string) (Client, bool) {
	for _, c := range s.Clients {
		if c.Name == name {
			return c, true
		}
	}
	return Client{}, false
}

// Verb is what an action does.
type Verb uint8

// The verbs of a client.
const (
	Connects        Verb = iota + 1 // open a stream, authenticate, bind
	Disconnects                     // close the stream
	Sends                           // send the body's stanza
	Receives                        // await a stanza matching the body
	ReceivesNothing                 // "receives: nothing": no stanza is pending

	// Our extension (README.md, raw streams).
	SendsRaw  // "sends raw": write the body to the stream as it is
	TimesOut  // "times out: negotiation" or "times out: idle": a timer fires
	ShutsDown // "Server shuts down": the server stops (no client)

	// "falls behind": the client stops reading until the server's output
	// buffer for it overflows (S-98).
	FallsBehind
)

var verbNames = map[Verb]string{
	Connects: "connects", Disconnects: "disconnects", Sends: "sends",
	Receives: "receives", ReceivesNothing: "receives: nothing",
	SendsRaw: "sends raw", TimesOut: "times out", ShutsDown: "shuts down",
	FallsBehind: "falls behind",
}

// ServerName is the Client of a ShutsDown action: the line "Server shuts
// down" names no declared client.
const ServerName = "Server"

// The timers of "times out:".
const (
	TimerNegotiation = "negotiation"
	TimerIdle        = "idle"
)

// String returns the verb as a script writes it.
func (v Verb) String() string {
	if n, ok := verbNames[v]; ok {
		return n
	}
	return fmt.Sprintf("verb(%d)", uint8(v))
}

// Action is one action of the script.
type Action struct {
	// Line is the line of "<Name> <verb>".
	Line int
	// Client is the name of the acting client.
	Client string
	Verb   Verb
	// XML is the body of sends and receives: the indented lines after the
	// verb line, joined with newlines and with the common indentation
	// removed, variables not yet substituted.
	XML string
	// BodyLine is the line of the body's first line (0 without a body).
	BodyLine int
	// Form is the form of a sends raw body (see ClassifyRaw), and of a
	// receives body that is no element: RawHeader for a stream header,
	// RawClose for </stream:stream>. Zero for a receives of a stanza and
	// for the other verbs.
	Form RawKind
	// Timer is the timer of times out: TimerNegotiation or TimerIdle.
	Timer string
}

// ParseError is an error in a script, at a position.
type ParseError struct {
	File         string
	Line, Column int
	Msg          string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// varPattern matches a variable reference ${...}.
var varPattern = regexp.MustCompile(`\$\{([^}]*)\}`)

// splitVariable splits the inside of ${...} into the character's name and
// the property ("JID" or "full JID"). Names may contain "'s", so the split
// is at the last "'s ".
func splitVariable(v string) (name, prop string, ok bool) {
	i := strings.LastIndex(v, "'s ")
	if i <= 0 {
		return "", "", false
	}
	name, prop = v[:i], v[i+3:]
	if prop != "JID" && prop != "full JID" {
		return "", "", false
	}
	return name, prop, true
}

// Parse parses a scansion script. name is used in error messages and as
// Script.Name. The grammar is that of prosody-behaviour.md §8.1:
//
//   - Lines starting with "#" are comments anywhere; before the first
//     object the first "#" line is the title and "##" lines are tags.
//   - Before the separator (a line of three or more "-"): "[Client] Name"
//     headers, each followed by indented "key: value" lines with key jid,
//     password, resource, connect_host, connect_port or (our extension)
//     login, whose value is "yes" or "no".
//   - After the separator: "<Name> <verb>" lines, where Name is the longest
//     declared client name that prefixes the line followed by a space, and
//     verb is connects, disconnects, sends or receives, with an optional
//     ":" ("receives: nothing" expects no stanza). sends and receives take
//     a body: the following indented lines (tabs or spaces) up to a blank
//     or non-indented line, holding exactly one XML element. Variables
//     ${<Name>'s JID} and ${<Name>'s full JID} must name declared clients.
//   - Our extension (README.md): the verbs "sends raw" (a body of any
//     text: a stream header, one element, </stream:stream>, or bytes a
//     framer must reject) and "times out: negotiation|idle"; the action
//     line "Server shuts down"; a receives body may also be a stream
//     header left open or </stream:stream>.
//
// Errors are *ParseError values carrying file:line:column.
func Parse(name string, src []byte) (*Script, error) {
	p := &parser{file: name, s: &Script{Name: name}}
	text := strings.ReplaceAll(string(src), "\r\n", "\n")
	text = strings.TrimSuffix(text, "\n")
	if text != "" {
		p.lines = strings.Split(text, "\n")
	}
	for i, l := range p.lines {
		// A carriage return ends a line, never belongs to it: "\r\r\n"
		// and a last line ending in "\r" alone are line ends too.
		p.lines[i] = strings.TrimRight(l, "\r")
	}
	if err := p.header(); err != nil {
		return nil, err
	}
	if err := p.actions(); err != nil {
		return nil, err
	}
	return p.s, nil
}

type parser struct {
	file  string
	lines []string
	i     int // index of the current line
	s     *Script
}

func (p *parser) errorf(line, col int, format string, args ...any) error {
	return &ParseError{File: p.file, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

func isBlank(l string) bool    { return strings.TrimSpace(l) == "" }
func isIndented(l string) bool { return l != "" && (l[0] == ' ' || l[0] == '\t') }
func isSeparator(l string) bool {
	t := strings.TrimRight(l, " \t")
	return len(t) >= 3 && strings.Trim(t, "-") == ""
}

// indentOf returns the width in bytes of l's leading whitespace.
func indentOf(l string) int { return len(l) - len(strings.TrimLeft(l, " \t")) }

// header reads metadata and declarations up to and including the separator.
func (p *parser) header() error {
	var cur *Client
	seenObject := false
	for ; p.i < len(p.lines); p.i++ {
		l, n := p.lines[p.i], p.i+1
		switch {
		case isBlank(l):
			continue
		case strings.HasPrefix(l, "##"):
			if !seenObject && p.s.Title != "" {
				p.s.Tags = append(p.s.Tags, strings.TrimSpace(l[2:]))
			}
			continue
		case strings.HasPrefix(l, "#"):
			if !seenObject && p.s.Title == "" {
				p.s.Title = strings.TrimSpace(l[1:])
			}
			continue
		case isSeparator(l):
			p.i++
			return nil
		case strings.HasPrefix(l, "["):
			seenObject = true
			end := strings.Index(l, "]")
			if end < 0 {
				return p.errorf(n, 1, "object header %q lacks \"]\"", l)
			}
			class := l[1:end]
			if class != "Client" {
				return p.errorf(n, 2, "unsupported object class %q (only [Client] is supported)", class)
			}
			name := strings.TrimSpace(l[end+1:])
			if name == "" {
				return p.errorf(n, end+2, "[Client] without a name")
			}
			if _, dup := p.s.Client(name); dup {
				return p.errorf(n, end+2, "client %q declared twice", name)
			}
			p.s.Clients = append(p.s.Clients, Client{Name: name, Line: n})
			cur = &p.s.Clients[len(p.s.Clients)-1]
		case isIndented(l):
			col := indentOf(l) + 1
			if cur == nil {
				return p.errorf(n, col, "property %q outside a [Client] declaration", strings.TrimSpace(l))
			}
			key, value, ok := strings.Cut(strings.TrimSpace(l), ":")
			if !ok {
				return p.errorf(n, col, "property line %q is not \"key: value\"", strings.TrimSpace(l))
			}
			key, value = strings.TrimSpace(key), strings.TrimSpace(value)
			var field *string
			switch key {
			case "jid":
				field = &cur.JID
			case "password":
				field = &cur.Password
			case "resource":
				field = &cur.Resource
			case "connect_host":
				field = &cur.ConnectHost
			case "connect_port":
				field = &cur.ConnectPort
			case "login":
				if value != "yes" && value != "no" {
					return p.errorf(n, col, "property login: want \"yes\" or \"no\", got %q", value)
				}
				if cur.loginSet {
					return p.errorf(n, col, "property %q set twice for client %q", key, cur.Name)
				}
				cur.loginSet, cur.NoLogin = true, value == "no"
				continue
			default:
				return p.errorf(n, col, "unknown client property %q (want jid, password, resource, connect_host, connect_port or login)", key)
			}
			if *field != "" {
				return p.errorf(n, col, "property %q set twice for client %q", key, cur.Name)
			}
			*field = value
		default:
			return p.errorf(n, 1, "unexpected line before the separator: %q (want \"[Client] Name\", an indented property, a comment or a line of dashes)", l)
		}
	}
	return p.errorf(len(p.lines)+1, 1, "missing separator: no line of dashes (\"-----\") between the declarations and the actions")
}

// actions reads the actions after the separator.
func (p *parser) actions() error {
	for _, c := range p.s.Clients {
		if c.JID == "" {
			return p.errorf(c.Line, 1, "client %q has no jid", c.Name)
		}
	}
	for p.i < len(p.lines) {
		l, n := p.lines[p.i], p.i+1
		switch {
		case isBlank(l), strings.HasPrefix(l, "#"):
			p.i++
			continue
		case isIndented(l):
			return p.errorf(n, 1, "indented line outside an action body (a body follows its \"sends\" or \"receives\" line with no blank line between)")
		}
		a, err := p.action(l, n)
		if err != nil {
			return err
		}
		p.i++
		start := p.i
		for p.i < len(p.lines) && isIndented(p.lines[p.i]) && !isBlank(p.lines[p.i]) {
			p.i++
		}
		body := p.lines[start:p.i]
		switch a.Verb {
		case Sends, Receives, SendsRaw:
			if len(body) == 0 {
				return p.errorf(n, len(l)+1, "%q %s needs an XML body on the following indented lines", a.Client, a.Verb)
			}
			a.BodyLine = start + 1
			a.XML = dedent(body)
			if err := p.checkVariables(body, a.BodyLine); err != nil {
				return err
			}
			switch form := ClassifyRaw(a.XML); {
			case a.Verb == SendsRaw:
				a.Form = form // any text
			case a.Verb == Receives && (form == RawHeader || form == RawClose):
				a.Form = form
			default: // one stanza, as scansion has it
				if err := p.checkBody(body, a.BodyLine); err != nil {
					return err
				}
			}
		default:
			if len(body) > 0 {
				return p.errorf(start+1, 1, "%q %s takes no body", a.Client, a.Verb)
			}
		}
		p.s.Actions = append(p.s.Actions, a)
	}
	return nil
}

// action parses a verb line.
func (p *parser) action(l string, n int) (Action, error) {
	if strings.TrimSpace(l) == ServerName+" shuts down" {
		return Action{Line: n, Client: ServerName, Verb: ShutsDown}, nil
	}
	name := ""
	for _, c := range p.s.Clients {
		if len(c.Name) > len(name) && strings.HasPrefix(l, c.Name+" ") {
			name = c.Name
		}
	}
	if name == "" {
		word, _, _ := strings.Cut(l, " ")
		return Action{}, p.errorf(n, 1, "unknown client name at the start of %q (declared: %s)", word, p.clientNames())
	}
	rest := l[len(name)+1:]
	col := len(name) + 2 + indentOf(rest)
	rest = strings.TrimSpace(rest)
	a := Action{Line: n, Client: name}
	// The verb is the longest phrase that starts rest and ends at its
	// end, a colon or a space.
	var phrase string
	for _, v := range [...]struct {
		phrase string
		verb   Verb
	}{
		{"connects", Connects}, {"disconnects", Disconnects},
		{"sends raw", SendsRaw}, {"sends", Sends}, {"receives", Receives},
		{"times out", TimesOut}, {"falls behind", FallsBehind},
	} {
		if after, ok := strings.CutPrefix(rest, v.phrase); ok && (after == "" || strings.ContainsRune(": \t", rune(after[0]))) {
			a.Verb, phrase = v.verb, v.phrase
			break
		}
	}
	if a.Verb == 0 {
		verb, _, _ := strings.Cut(rest, " ")
		verb = strings.TrimSuffix(verb, ":")
		return Action{}, p.errorf(n, col, "unknown verb %q for client %q (want connects, disconnects, sends, receives, or our sends raw, times out and falls behind)", verb, name)
	}
	inline := strings.TrimSpace(rest[len(phrase):])
	inline = strings.TrimSpace(strings.TrimPrefix(inline, ":"))
	switch {
	case a.Verb == Receives && inline == "nothing":
		a.Verb, inline = ReceivesNothing, ""
	case a.Verb == TimesOut:
		if inline != TimerNegotiation && inline != TimerIdle {
			return Action{}, p.errorf(n, col, "%q times out: want \"times out: negotiation\" or \"times out: idle\"", name)
		}
		a.Timer, inline = inline, ""
	}
	if inline != "" {
		return Action{}, p.errorf(n, strings.LastIndex(l, inline)+1, "unexpected %q after %q (only \"receives: nothing\" and \"times out: …\" take text on their line)", inline, phrase)
	}
	return a, nil
}

func (p *parser) clientNames() string {
	var names []string
	for _, c := range p.s.Clients {
		names = append(names, fmt.Sprintf("%q", c.Name))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// checkVariables checks that a body's variables name declared clients.
func (p *parser) checkVariables(body []string, first int) error {
	text := strings.Join(body, "\n")
	for _, m := range varPattern.FindAllStringSubmatchIndex(text, -1) {
		line, col := position(text, m[0])
		inner := text[m[2]:m[3]]
		name, _, ok := splitVariable(inner)
		if !ok {
			return p.errorf(first+line-1, col, "unknown variable ${%s} (want ${<client>'s JID} or ${<client>'s full JID})", inner)
		}
		if _, ok := p.s.Client(name); !ok {
			return p.errorf(first+line-1, col, "variable ${%s} names unknown client %q (declared: %s)", inner, name, p.clientNames())
		}
	}
	return nil
}

// checkBody checks that a body is one well-formed XML element. Positions
// are the file's: the body's lines are decoded as they stand in the file.
func (p *parser) checkBody(body []string, first int) error {
	text := strings.Join(body, "\n")
	dec := xml.NewDecoder(strings.NewReader(text))
	depth, roots := 0, 0
	for {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			// The position is where the offending token starts.
			line, col := position(text, int(off))
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				err = errors.New(se.Msg)
			}
			return p.errorf(first+line-1, col, "bad XML in body: %v", err)
		}
		line, col := position(text, int(off))
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if roots > 1 {
					return p.errorf(first+line-1, col, "body holds more than one element (a body is one stanza)")
				}
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return p.errorf(first+line-1, col+indentOf(string(t)), "text outside the body's element")
			}
		case xml.ProcInst, xml.Directive:
			return p.errorf(first+line-1, col, "processing instruction or directive in a body")
		}
	}
	if roots == 0 {
		return p.errorf(first, 1, "body holds no XML element")
	}
	return nil
}

// position returns the 1-based line and column of byte offset off in text.
func position(text string, off int) (line, col int) {
	before := text[:off]
	line = strings.Count(before, "\n") + 1
	return line, off - (strings.LastIndex(before, "\n") + 1) + 1
}

// dedent removes the indentation common to all lines and joins them.
func dedent(lines []string) string {
	common := -1
	for _, l := range lines {
		w := indentOf(l)
		if common < 0 || w < common {
			common = w
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.TrimRight(l[common:], " \t")
	}
	return strings.Join(out, "\n")
}
