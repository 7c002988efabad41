package conformance

import (
	"errors"
	"fmt"
	"html"
	"strings"

	"github.com/beevik/etree"
)

// Target is a server the runner can connect clients to.
type Target interface {
	// Connect opens a connection for c, authenticates with c's JID and
	// password, and binds c.Resource (else the JID's resource, else one the
	// server generates). No presence and no roster request are sent. What
	// the server wrote during this login is not returned by Receive.
	//
	// For a client with c.NoLogin ("login: no", our raw-stream
	// extension) it only opens the connection and writes nothing; the
	// Conn must then be a RawConn, and Receive returns everything the
	// server writes: its stream header (as the element <stream:stream/>
	// with its attributes), <stream:features>, the TLS and SASL elements,
	// stanzas and stream errors.
	Connect(c Client) (Conn, error)
}

// RawConn is a Conn that can write text of its own to the stream, for
// "sends raw": a stream header, an element, </stream:stream>, or bytes a
// framer must reject (README.md, raw streams).
type RawConn interface {
	Conn
	SendRaw(text string) error
}

// TimerConn is a Conn whose server-side timers a script can fire, for
// "times out: negotiation" and "times out: idle" (TimerNegotiation,
// TimerIdle). A network target waits for the server's own timer.
type TimerConn interface {
	Conn
	Timeout(timer string) error
}

// OverflowConn is a Conn whose output buffer a script can overflow, for
// "falls behind" (S-98): as if the client stopped reading until the
// server's buffer for it is full.
type OverflowConn interface {
	Conn
	Overflow() error
}

// Stopper is a Target that can stop its server, for "Server shuts down".
type Stopper interface {
	Shutdown() error
}

// Conn is one client connection of a Target.
//
// Elements given to Send and returned by Receive stand alone: an element
// with no namespace declared is in jabber:client, and a stream error is an
// element <stream:error> whose undeclared "stream:" prefix means
// http://etherx.jabber.org/streams.
type Conn interface {
	// FullJID is the JID the server bound: at login, or for a NoLogin
	// connection the JID of the latest bind result Receive returned ("",
	// before one).
	FullJID() string
	// Send writes a stanza. It fails with ErrClosed after the server
	// closed the stream.
	Send(*etree.Element) error
	// Receive returns the next stanza (or stream error) the server wrote
	// and Receive has not returned yet. When none arrives it returns
	// ErrNoStanza (in process: when none is queued; on a network: after the
	// target's timeout); after the last element of a closed stream,
	// ErrClosed.
	Receive() (*etree.Element, error)
	// Pending is the number of elements Receive would return without
	// waiting (a network target may first wait a short quiet period so
	// that elements in flight are counted).
	Pending() int
	// Close ends the stream from the client side (</stream:stream>) and
	// releases the connection; elements not yet received are discarded.
	// Closing a connection the server closed is not an error.
	Close() error
}

// ErrNoStanza is Receive's error when no stanza arrives.
var ErrNoStanza = errors.New("no stanza received")

// ErrClosed is the error of Send and Receive on a stream the server closed.
var ErrClosed = errors.New("stream closed by the server")

// FailureKind says why an action failed.
type FailureKind uint8

// The kinds of failure.
const (
	// FailMismatch: a received stanza does not match the expected one.
	FailMismatch FailureKind = iota + 1
	// FailNothingReceived: "receives" found no stanza.
	FailNothingReceived
	// FailUnexpectedStanza: "receives: nothing" found a stanza.
	FailUnexpectedStanza
	// FailUnexpectedStreamError: the server sent a stream error the
	// script did not await.
	FailUnexpectedStreamError
	// FailConnect: "connects" failed (or the client was connected).
	FailConnect
	// FailSend: "sends" failed (the client is not connected, or the body
	// is not XML after substitution).
	FailSend
	// FailDisconnect: "disconnects" failed.
	FailDisconnect
	// FailScript: the action cannot run (a variable of a client that is
	// not connected, or an extension the target does not support).
	FailScript
)

var failureNames = map[FailureKind]string{
	FailMismatch: "mismatch", FailNothingReceived: "nothing received",
	FailUnexpectedStanza: "unexpected stanza", FailUnexpectedStreamError: "unexpected stream error",
	FailConnect: "connect failed", FailSend: "send failed", FailDisconnect: "disconnect failed",
	FailScript: "script error",
}

func (k FailureKind) String() string {
	if n, ok := failureNames[k]; ok {
		return n
	}
	return fmt.Sprintf("failure(%d)", uint8(k))
}

// Failure is one failed action.
type Failure struct {
	// Line is the line of the failed action; Client its client.
	Line   int
	Client string
	Kind   FailureKind
	// Want and Got are the expected and the received XML, rendered by
	// Canonical ("" when there is none); Diff is Diff(want, got).
	Want, Got string
	Diff      string
	// Err says what went wrong: a *MismatchError for FailMismatch.
	Err error
	// Pending lists the elements still queued for the client after Got,
	// rendered on one line each: context for a mismatch.
	Pending []string
}

// Dropped is a stanza the runner discarded because no "receives" awaited
// it (see Run).
type Dropped struct {
	// Line is the line of the action before which it was discarded.
	Line   int
	Client string
	XML    string
}

// Result is the outcome of running a script.
type Result struct {
	Script *Script
	// Failures holds the failure that stopped the script, if any (a script
	// stops at its first failure, as scansion does).
	Failures []Failure
	// Dropped lists the unawaited stanzas, in order.
	Dropped []Dropped
	// Actions is the number of actions that ran successfully.
	Actions int
}

// Passed reports whether the script ran without failure.
func (r Result) Passed() bool { return len(r.Failures) == 0 }

// String reports the result: "PASS name", or for each failure the script,
// the line and its source, the expected and received XML, and the diff.
func (r Result) String() string {
	name := "(script)"
	if r.Script != nil {
		name = r.Script.Name
	}
	if r.Passed() {
		return fmt.Sprintf("PASS %s (%d actions, %d unawaited stanzas dropped)", name, r.Actions, len(r.Dropped))
	}
	var b strings.Builder
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "FAIL %s:%d: %s%s: %s\n", name, f.Line, f.Client, r.verbAt(f.Line, f.Client), f.Kind)
		if f.Err != nil {
			fmt.Fprintf(&b, "  %v\n", f.Err)
		}
		if f.Want != "" {
			fmt.Fprintf(&b, "  expected:\n%s\n", indentLines(f.Want, "    "))
		}
		if f.Got != "" {
			fmt.Fprintf(&b, "  received:\n%s\n", indentLines(f.Got, "    "))
		}
		if f.Diff != "" {
			fmt.Fprintf(&b, "  diff (-expected +received):\n%s\n", indentLines(strings.TrimRight(f.Diff, "\n"), "    "))
		}
		for _, p := range f.Pending {
			fmt.Fprintf(&b, "  then pending: %s\n", p)
		}
	}
	for _, d := range r.Dropped {
		fmt.Fprintf(&b, "  (dropped before line %d, unawaited by %s: %s)\n", d.Line, d.Client, d.XML)
	}
	return strings.TrimRight(b.String(), "\n")
}

// verbAt returns " <verb>" of the action of client at line, or "" when the
// failure was found for another client's action (an unawaited stream
// error found when dropping stanzas).
func (r Result) verbAt(line int, client string) string {
	if r.Script != nil {
		for _, a := range r.Script.Actions {
			if a.Line == line && a.Client == client {
				return " " + a.Verb.String()
			}
		}
	}
	return ""
}

func indentLines(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// oneLine renders an element compactly for lists.
func oneLine(el *etree.Element) string {
	lines := strings.Split(Canonical(el), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "")
}

// isStreamError reports whether el is <stream:error>.
func isStreamError(el *etree.Element) bool {
	return el != nil && el.Tag == "error" && elemNS(el) == nsStreams
}

// Run executes the script's actions in order against t and stops at the
// first failure. At the end, every connection still open is closed.
//
//   - connects: t.Connect with the client's declaration.
//   - disconnects: Conn.Close (</stream:stream>); a client that is not
//     connected is left alone (presence_preapproval.scs disconnects Bob
//     twice, lines 58 and 74).
//   - sends: the body, variables substituted, parsed and sent as is
//     (indentation whitespace included: a server must tolerate it).
//   - receives: the next stanza queued for the client is compared with the
//     body by Match; a stanza that does not match fails the script, it is
//     not skipped. No stanza fails with FailNothingReceived.
//   - receives: nothing: passes when no stanza is pending for the client.
//
// Variables: ${Name's JID} is the declared jid, ${Name's full JID} the JID
// the server bound at Name's latest connects. Values are escaped for XML.
//
// Unawaited stanzas. A run of consecutive receives actions (of any
// clients) is a receive window. When the script leaves a window (the next
// action is a sends, connects or disconnects) every stanza still queued on
// any connection is dropped, and so is everything still queued at the end
// of the script. This is what scansion's timing produces: it reads a
// client's stanzas only while a "receives" of that client is waiting, the
// stanzas a server writes in answer to one action arrive together, and the
// next action starts as soon as a stanza matched. So in basic_message.scs
// 99-137, Juliet's reflected presence satisfies "Juliet receives", the
// stored presence of her phone that follows it in the same burst arrives
// while the script is already waiting for "Juliet's phone receives" and is
// lost, and the next "Juliet receives" (line 134) sees the message. Within
// a window each client's stanzas are read in order, whatever the order in
// which the server wrote to the different clients (issue1121.scs 53-60:
// Juliet's then Romeo's, both answers to Romeo's action; over a network
// that order is not observable either). A dropped stanza is listed in
// Result.Dropped.
//
// Stream errors (our extension, README.md): a body <stream:error>…
// </stream:error> expects the server's stream error, matched like a
// stanza; the client is disconnected after it. A stream error no receives
// awaited fails the script (FailUnexpectedStreamError) where it is found:
// at a receives expecting a stanza, when dropping unawaited stanzas, or at
// the client's next sends or disconnects.
//
// Raw streams (our extension, README.md):
//
//   - sends raw: the body, variables substituted, written as it is
//     (RawConn.SendRaw).
//   - receives with a stream header left open as its body: the header is
//     read as the element it opens, with no children, and matched with
//     the next element like a stanza (the server's header is an element
//     <stream:stream/> in the streams namespace: strict).
//   - receives: </stream:stream>: the server ended the stream and nothing
//     is left to receive (Receive returns ErrClosed); the client is
//     disconnected after it. It also passes right after an awaited stream
//     error, which ended the stream already.
//   - times out: TimerConn.Timeout; falls behind: OverflowConn.Overflow;
//     Server shuts down: Stopper.Shutdown. They leave a receive window, as
//     sends does.
func Run(s *Script, t Target) Result {
	r := &runner{s: s, t: t, conns: map[string]Conn{}, full: map[string]string{}, ended: map[string]bool{}, res: Result{Script: s}}
	r.run()
	return r.res
}

type runner struct {
	s     *Script
	t     Target
	conns map[string]Conn   // open connections by client name
	full  map[string]string // the last full JID bound for each client
	ended map[string]bool   // clients whose stream the server ended, as awaited
	order []string          // clients in the order they first connected
	res   Result
}

func (r *runner) fail(a Action, f Failure) {
	f.Line, f.Client = a.Line, a.Client
	r.res.Failures = append(r.res.Failures, f)
}

func (r *runner) run() {
	defer r.closeAll()
	inWindow := false
	for _, a := range r.s.Actions {
		receiving := a.Verb == Receives || a.Verb == ReceivesNothing
		if inWindow && !receiving {
			if !r.dropAll(a) {
				return
			}
		}
		inWindow = receiving
		if !r.do(a) {
			return
		}
		r.res.Actions++
	}
	end := Action{Client: "(end)"}
	if n := len(r.s.Actions); n > 0 {
		end.Line = r.s.Actions[n-1].Line
	}
	r.dropAll(end)
}

// dropAll discards every queued stanza before action a; it fails on an
// unawaited stream error.
func (r *runner) dropAll(a Action) bool {
	for _, name := range r.order {
		if c, ok := r.conns[name]; ok && !r.drop(a, name, c) {
			return false
		}
	}
	return true
}

// drop discards the stanzas queued for one client before action a.
func (r *runner) drop(a Action, name string, c Conn) bool {
	for c.Pending() > 0 {
		el, err := c.Receive()
		if err != nil {
			return true
		}
		if isStreamError(el) {
			r.res.Failures = append(r.res.Failures, Failure{Line: a.Line, Client: name, Kind: FailUnexpectedStreamError,
				Got: Canonical(el), Err: fmt.Errorf("%s received a stream error no \"receives\" awaited", name)})
			delete(r.conns, name)
			return false
		}
		r.res.Dropped = append(r.res.Dropped, Dropped{Line: a.Line, Client: name, XML: oneLine(el)})
	}
	return true
}

func (r *runner) do(a Action) bool {
	c, connected := r.conns[a.Client]
	switch a.Verb {
	case Connects:
		if connected {
			r.fail(a, Failure{Kind: FailConnect, Err: fmt.Errorf("%s is already connected", a.Client)})
			return false
		}
		decl, _ := r.s.Client(a.Client)
		conn, err := r.t.Connect(decl)
		if err != nil {
			r.fail(a, Failure{Kind: FailConnect, Err: err})
			return false
		}
		r.conns[a.Client] = conn
		delete(r.ended, a.Client)
		if j := conn.FullJID(); j != "" {
			r.full[a.Client] = j
		}
		if !contains(r.order, a.Client) {
			r.order = append(r.order, a.Client)
		}
		return true

	case Disconnects:
		if !connected {
			// Already disconnected (presence_preapproval.scs disconnects
			// Bob at lines 58 and 74), or closed by an awaited stream error.
			return true
		}
		if !r.drop(a, a.Client, c) {
			return false
		}
		delete(r.conns, a.Client)
		if err := c.Close(); err != nil && !errors.Is(err, ErrClosed) {
			r.fail(a, Failure{Kind: FailDisconnect, Err: err})
			return false
		}
		return true

	case Sends:
		if !connected {
			r.fail(a, Failure{Kind: FailSend, Err: fmt.Errorf("%s is not connected", a.Client)})
			return false
		}
		el, ok := r.body(a)
		if !ok {
			return false
		}
		if err := c.Send(el); err != nil {
			if errors.Is(err, ErrClosed) && !r.drop(a, a.Client, c) {
				return false
			}
			r.fail(a, Failure{Kind: FailSend, Want: Canonical(el), Err: err})
			return false
		}
		return true

	case SendsRaw:
		if !connected {
			r.fail(a, Failure{Kind: FailSend, Err: fmt.Errorf("%s is not connected", a.Client)})
			return false
		}
		rc, ok := c.(RawConn)
		if !ok {
			r.fail(a, Failure{Kind: FailScript, Err: errors.New("the target cannot send raw text (sends raw)")})
			return false
		}
		text, err := r.substitute(a.XML)
		if err != nil {
			r.fail(a, Failure{Kind: FailScript, Err: err})
			return false
		}
		if err := rc.SendRaw(text); err != nil {
			if errors.Is(err, ErrClosed) && !r.drop(a, a.Client, c) {
				return false
			}
			r.fail(a, Failure{Kind: FailSend, Want: text, Err: err})
			return false
		}
		return true

	case TimesOut:
		if !connected {
			r.fail(a, Failure{Kind: FailScript, Err: fmt.Errorf("%s is not connected", a.Client)})
			return false
		}
		tc, ok := c.(TimerConn)
		if !ok {
			r.fail(a, Failure{Kind: FailScript, Err: errors.New("the target cannot fire timers (times out)")})
			return false
		}
		if err := tc.Timeout(a.Timer); err != nil {
			r.fail(a, Failure{Kind: FailScript, Err: err})
			return false
		}
		return true

	case FallsBehind:
		if !connected {
			r.fail(a, Failure{Kind: FailScript, Err: fmt.Errorf("%s is not connected", a.Client)})
			return false
		}
		oc, ok := c.(OverflowConn)
		if !ok {
			r.fail(a, Failure{Kind: FailScript, Err: errors.New("the target cannot overflow an output buffer (falls behind)")})
			return false
		}
		if err := oc.Overflow(); err != nil {
			r.fail(a, Failure{Kind: FailScript, Err: err})
			return false
		}
		return true

	case ShutsDown:
		st, ok := r.t.(Stopper)
		if !ok {
			r.fail(a, Failure{Kind: FailScript, Err: errors.New("the target cannot stop its server (Server shuts down)")})
			return false
		}
		if err := st.Shutdown(); err != nil {
			r.fail(a, Failure{Kind: FailScript, Err: err})
			return false
		}
		return true

	case Receives:
		if a.Form == RawClose {
			return r.receiveEnd(a, c, connected)
		}
		want, ok := r.expected(a)
		if !ok {
			return false
		}
		if !connected {
			r.fail(a, Failure{Kind: FailNothingReceived, Want: Canonical(want), Err: fmt.Errorf("%s is not connected", a.Client)})
			return false
		}
		got, err := c.Receive()
		if err != nil {
			r.fail(a, Failure{Kind: FailNothingReceived, Want: Canonical(want), Err: err})
			return false
		}
		f := Failure{Kind: FailMismatch, Want: Canonical(want), Got: Canonical(got)}
		if isStreamError(got) && !isStreamError(want) {
			f.Kind = FailUnexpectedStreamError
		}
		if err := Match(want, got); err != nil {
			f.Err, f.Diff = err, Diff(want, got)
			for c.Pending() > 0 {
				el, err := c.Receive()
				if err != nil {
					break
				}
				f.Pending = append(f.Pending, oneLine(el))
			}
			r.fail(a, f)
			return false
		}
		if j := c.FullJID(); j != "" {
			r.full[a.Client] = j
		}
		if isStreamError(got) {
			// The server ended the stream: the client is disconnected.
			delete(r.conns, a.Client)
			c.Close()
			r.ended[a.Client] = true
		}
		return true

	case ReceivesNothing:
		if !connected || c.Pending() == 0 {
			return true
		}
		got, err := c.Receive()
		if err != nil {
			return true
		}
		kind := FailUnexpectedStanza
		if isStreamError(got) {
			kind = FailUnexpectedStreamError
		}
		r.fail(a, Failure{Kind: kind, Got: Canonical(got), Err: errors.New("expected no stanza")})
		return false
	}
	r.fail(a, Failure{Kind: FailScript, Err: fmt.Errorf("unknown verb %v", a.Verb)})
	return false
}

// receiveEnd runs "receives: </stream:stream>".
func (r *runner) receiveEnd(a Action, c Conn, connected bool) bool {
	if !connected {
		if r.ended[a.Client] {
			return true // an awaited stream error ended the stream
		}
		r.fail(a, Failure{Kind: FailNothingReceived, Want: streamEnd, Err: fmt.Errorf("%s is not connected", a.Client)})
		return false
	}
	got, err := c.Receive()
	switch {
	case errors.Is(err, ErrClosed):
		delete(r.conns, a.Client)
		c.Close()
		r.ended[a.Client] = true
		return true
	case err != nil:
		r.fail(a, Failure{Kind: FailNothingReceived, Want: streamEnd, Err: err})
		return false
	}
	kind := FailMismatch
	if isStreamError(got) {
		kind = FailUnexpectedStreamError
	}
	r.fail(a, Failure{Kind: kind, Want: streamEnd, Got: Canonical(got), Err: errors.New("expected the end of the stream")})
	return false
}

// expected returns the expected element of a receives: its body, or the
// element a stream header opens.
func (r *runner) expected(a Action) (*etree.Element, bool) {
	if a.Form != RawHeader {
		return r.body(a)
	}
	text, err := r.substitute(a.XML)
	if err == nil {
		var el *etree.Element
		if el, err = headerElement(text); err == nil {
			return el, true
		}
	}
	r.fail(a, Failure{Kind: FailScript, Err: err})
	return nil, false
}

// body substitutes the variables of a's body and parses it.
func (r *runner) body(a Action) (*etree.Element, bool) {
	text, err := r.substitute(a.XML)
	if err != nil {
		r.fail(a, Failure{Kind: FailScript, Err: err})
		return nil, false
	}
	el, err := ParseStanza(text)
	if err != nil {
		kind := FailSend
		if a.Verb == Receives {
			kind = FailScript
		}
		r.fail(a, Failure{Kind: kind, Err: fmt.Errorf("body after substitution: %v", err)})
		return nil, false
	}
	return el, true
}

// substitute replaces ${Name's JID} and ${Name's full JID}.
func (r *runner) substitute(text string) (string, error) {
	var err error
	out := varPattern.ReplaceAllStringFunc(text, func(m string) string {
		inner := m[2 : len(m)-1]
		name, prop, ok := splitVariable(inner)
		c, declared := r.s.Client(name)
		if !ok || !declared {
			err = fmt.Errorf("unknown variable %s", m)
			return m
		}
		if prop == "JID" {
			return html.EscapeString(c.JID)
		}
		full, ok := r.full[name]
		if !ok {
			err = fmt.Errorf("%s: %s has not connected (or bound a resource) yet", m, name)
			return m
		}
		return html.EscapeString(full)
	})
	return out, err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// closeAll closes the connections still open.
func (r *runner) closeAll() {
	for _, name := range r.order {
		if c, ok := r.conns[name]; ok {
			c.Close()
			delete(r.conns, name)
		}
	}
}
