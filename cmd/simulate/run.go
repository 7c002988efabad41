package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/conformance"
	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/hub"
)

// The kinds of trace run reads.
const (
	kindScansion = "scansion" // a scansion script (.scs)
	kindXMLLog   = "xml-log"  // what one client sent, as its XML console shows it
)

// tableFields are the session fields run shows after each step of a
// session, by the names fsm.Session.Fields gives them (Prosody's names, and
// the phase).
var tableFields = []string{"phase", "type", "username", "host", "resource", "full_jid", "priority", "available", "interested"}

// isTerminal reports whether w is a terminal, where changed fields are
// highlighted. Tests replace it.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// runTraces is `simulate run`: it runs each trace through the pure machines
// on a fresh in-memory hub (impl/hub) and prints every step: the machine,
// its event and effects, the session's fields after it, and whether every
// session of the hub still holds its invariants (fsm.Session.Check).
//
//   - A file ending in .scs is a scansion script, run by conformance.Run on
//     the in-process target (conformance.NewInProcess, under
//     conformance.LoopbackPolicy: the RFC's defaults): its expectations
//     must pass.
//   - Any other file is a client's raw XML log (see parseLog): its elements
//     are fed to one connection, with an account made from its PLAIN auth.
//
// Every file is read and parsed before anything runs. It exits 0 when every
// trace passed and no invariant broke, 1 on a failed expectation or a broken
// invariant, 2 on bad usage or bad input (an unreadable file, a script or a
// log that does not parse: file:line:column).
func runTraces(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one machine-readable report")
	noColor := fs.Bool("no-color", false, "never highlight changed fields (they are highlighted only on a terminal)")
	var live addrFlags
	live.register(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: simulate run [--json] [--no-color] TRACE...
       simulate run --addr HOST:PORT [--ca FILE | --insecure-skip-verify] [--json] SCRIPT...

Runs each trace through the session and user machines on a fresh in-memory
hub and prints every step. TRACE is a scansion script (*.scs), or a client's
raw XML log (anything else): the elements one client sent, as its XML
console shows them, stream headers optional.

With --addr, runs scansion scripts against the live XMPP server at
HOST:PORT instead (conformance's TCP target: STARTTLS when offered,
SCRAM-SHA-256, SCRAM-SHA-1 or PLAIN, then bind) and prints each action's
outcome. The accounts the scripts declare (jid and password) must exist on
that server; nothing creates them.

`)
		fs.PrintDefaults()
	}
	files, code := parseInterleaved(fs, args)
	if code >= 0 {
		return code
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "simulate run: no trace given")
		fs.Usage()
		return 2
	}
	if live.addr != "" {
		return runAgainst(&live, files, *asJSON, stdout, stderr)
	}
	if n := live.setWithoutAddr(fs); n != "" {
		fmt.Fprintf(stderr, "simulate run: --%s needs --addr\n", n)
		return 2
	}

	// Read and parse every trace first: bad input exits 2 before any output.
	var traces []*loadedTrace
	for _, f := range files {
		t, err := loadTrace(f)
		if err != nil {
			fmt.Fprintf(stderr, "simulate run: %v\n", err)
			return 2
		}
		traces = append(traces, t)
	}

	rep := runReport{Passed: true}
	for _, t := range traces {
		tr := t.run()
		rep.Passed = rep.Passed && tr.Result.Passed
		rep.Traces = append(rep.Traces, tr)
	}

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // the XML stays readable
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "simulate run: %v\n", err)
			return 2
		}
	} else {
		color := !*noColor && os.Getenv("NO_COLOR") == "" && isTerminal(stdout)
		rep.writeText(stdout, color)
	}
	if !rep.Passed {
		return 1
	}
	return 0
}

// runReport is what run prints; --json prints it as it is.
type runReport struct {
	Traces []traceReport `json:"traces"`
	// Passed is true when every trace passed.
	Passed bool `json:"passed"`
}

// traceReport is the run of one trace.
type traceReport struct {
	File  string `json:"file"`
	Kind  string `json:"kind"`
	Title string `json:"title,omitempty"`
	// Steps are the steps of the machines, in the order the hub ran them.
	Steps  []stepReport `json:"steps"`
	Result resultReport `json:"result"`
}

// stepReport is one step of one machine.
type stepReport struct {
	N int `json:"n"`
	// Section is what caused the step: the script's action or the log's
	// element ("line 14: Romeo connects").
	Section string `json:"section"`
	// Machine is the hub's name of the machine: "conn c1" or
	// "user romeo@localhost"; Client the script's client (or the log's
	// user) on that connection.
	Machine string   `json:"machine"`
	Client  string   `json:"client,omitempty"`
	Event   string   `json:"event"`
	Effects []string `json:"effects"`
	// Fields are the session's fields after the step (session steps only),
	// and Changed those that the step changed.
	Fields  fieldList `json:"fields,omitempty"`
	Changed []string  `json:"changed,omitempty"`
	// Sessions is the number of sessions checked after the step, and
	// Violations what their invariants broke ("conn c1: SI-3 …").
	Sessions   int      `json:"sessions"`
	Violations []string `json:"violations"`

	sectionLine   int
	sectionClient string
}

// fieldList is a session's fields in table order; JSON writes it as an
// object in that order.
type fieldList []fsm.Field

func (fl fieldList) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fl {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.Name)
		v, _ := json.Marshal(f.Value)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (fl fieldList) get(name string) string {
	for _, f := range fl {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// resultReport is the verdict on one trace.
type resultReport struct {
	// Passed: the script's expectations passed (a log has none) and no
	// invariant broke.
	Passed bool `json:"passed"`
	// Summary is one line: the step count and the invariants' verdict.
	Summary string `json:"summary"`
	// Script is the runner's report for a scansion script
	// (conformance.Result's text).
	Script string `json:"script,omitempty"`
	// Failures are the script's failed expectations.
	Failures []failureReport `json:"failures"`
	// Violations counts the steps after which an invariant was broken.
	Violations int `json:"violations"`
	// Notes say how a log ended (the server closed the stream, elements
	// left unsent).
	Notes []string `json:"notes,omitempty"`
}

// failureReport is one conformance.Failure.
type failureReport struct {
	Line     int      `json:"line"`
	Client   string   `json:"client"`
	Kind     string   `json:"kind"`
	Error    string   `json:"error,omitempty"`
	Expected string   `json:"expected,omitempty"`
	Received string   `json:"received,omitempty"`
	Diff     string   `json:"diff,omitempty"`
	Pending  []string `json:"pending,omitempty"`
}

// loadedTrace is a trace read and parsed, ready to run.
type loadedTrace struct {
	file   string
	script *conformance.Script
	target *conformance.InProcess
	log    *xmlLog
}

// loadTrace reads and parses one trace. Its errors name the file and, for
// parse errors, the line and column.
func loadTrace(file string) (*loadedTrace, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("cannot read %s: %v", file, pe.Err)
		}
		return nil, fmt.Errorf("cannot read %s: %v", file, err)
	}
	t := &loadedTrace{file: file}
	if filepath.Ext(file) == ".scs" {
		s, err := conformance.Parse(file, src)
		if err != nil {
			return nil, err // *ParseError: file:line:column: message
		}
		t.script = s
		if t.target, err = conformance.NewInProcess(s, conformance.LoopbackPolicy()); err != nil {
			return nil, err
		}
		return t, nil
	}
	if t.log, err = parseLog(file, src); err != nil {
		return nil, err
	}
	return t, nil
}

// run runs the trace. A panic in a machine or the hub is a defect of the
// server: it fails the trace with a message, not a stack trace.
func (t *loadedTrace) run() (tr traceReport) {
	rec := &recorder{}
	defer func() {
		if p := recover(); p != nil {
			tr = rec.report(t.file, t.kind(), "")
			tr.Result.Passed = false
			tr.Result.Summary = fmt.Sprintf("%d steps, then the server panicked: %v", len(rec.steps), p)
		}
	}()
	if t.script != nil {
		return runScript(t.file, t.script, t.target, rec)
	}
	return runLog(t.file, t.log, rec)
}

func (t *loadedTrace) kind() string {
	if t.script != nil {
		return kindScansion
	}
	return kindXMLLog
}

// recorder records the hub's steps through its Trace hook.
type recorder struct {
	hub *hub.Hub
	// section is the current cause of steps.
	section     string
	sectionLine int
	sectionWho  string
	// names are the client names of the connections; nextName names the
	// next new connection.
	names    map[string]string
	nextName string
	lastConn string // the last connection seen for the first time
	initial  fieldList
	prev     map[string]fieldList // each session's fields after its last step
	closed   map[string]bool      // connections the server closed
	// streamErrors are the conditions of the stream errors the server sent.
	streamErrors map[string]string
	steps        []stepReport
}

// attach hooks the recorder to h, after the hooks already set.
func (r *recorder) attach(h *hub.Hub) {
	r.hub = h
	r.names, r.prev, r.closed = map[string]string{}, map[string]fieldList{}, map[string]bool{}
	r.streamErrors = map[string]string{}
	r.initial = pickFields(fsm.New(h.Policy))
	trace, output := h.Trace, h.Output
	h.Trace = func(machine, event string, effects []string) {
		if trace != nil {
			trace(machine, event, effects)
		}
		r.step(machine, event, effects)
	}
	h.Output = func(o hub.Output) {
		if output != nil {
			output(o)
		}
		switch e := o.Effect; e.Kind {
		case fsm.EffClose, fsm.EffAbort:
			r.closed[o.Conn] = true
		case fsm.EffSend:
			if el := e.Elem; el != nil && el.Tag == "error" && el.Space == "stream" && r.streamErrors[o.Conn] == "" {
				r.streamErrors[o.Conn] = "<stream:error/>"
				if c := el.ChildElements(); len(c) > 0 {
					r.streamErrors[o.Conn] = "<" + c[0].Tag + "/>"
				}
			}
		}
	}
}

// enter starts a section: the steps that follow are caused by it.
func (r *recorder) enter(line int, who, text string) {
	r.section, r.sectionLine, r.sectionWho = text, line, who
}

func pickFields(s fsm.Session) fieldList {
	all := s.Fields()
	out := make(fieldList, 0, len(tableFields))
	for _, name := range tableFields {
		for _, f := range all {
			if f.Name == name {
				out = append(out, f)
			}
		}
	}
	return out
}

func (r *recorder) step(machine, event string, effects []string) {
	st := stepReport{
		N: len(r.steps) + 1, Section: r.section, Machine: machine, Event: event,
		Effects: append([]string{}, effects...), Violations: []string{},
		sectionLine: r.sectionLine, sectionClient: r.sectionWho,
	}
	if conn, ok := strings.CutPrefix(machine, "conn "); ok {
		if _, known := r.names[conn]; !known {
			r.names[conn], r.lastConn = r.nextName, conn
		}
		st.Client = r.names[conn]
		s, _ := r.hub.Session(conn)
		st.Fields = pickFields(s)
		prev, seen := r.prev[conn]
		if !seen {
			prev = r.initial
		}
		for i, f := range st.Fields {
			if prev[i].Value != f.Value {
				st.Changed = append(st.Changed, f.Name)
			}
		}
		r.prev[conn] = st.Fields
	}
	conns := r.hub.Conns()
	sortConns(conns)
	st.Sessions = len(conns)
	for _, c := range conns {
		s, _ := r.hub.Session(c)
		if err := s.Check(); err != nil {
			for _, l := range strings.Split(err.Error(), "\n") {
				st.Violations = append(st.Violations, "conn "+c+": "+l)
			}
		}
	}
	r.steps = append(r.steps, st)
}

// sortConns sorts connection ids c1, c2, …, c10 in numeric order.
func sortConns(cs []string) {
	sort.Slice(cs, func(i, j int) bool {
		if len(cs[i]) != len(cs[j]) {
			return len(cs[i]) < len(cs[j])
		}
		return cs[i] < cs[j]
	})
}

// report turns the recorded steps into a trace report, with the summary.
func (r *recorder) report(file, kind, title string) traceReport {
	tr := traceReport{File: file, Kind: kind, Title: title, Steps: r.steps}
	if tr.Steps == nil {
		tr.Steps = []stepReport{}
	}
	tr.Result.Failures = []failureReport{}
	for _, st := range r.steps {
		if len(st.Violations) > 0 {
			tr.Result.Violations++
		}
	}
	tr.Result.Passed = tr.Result.Violations == 0
	if tr.Result.Violations == 0 {
		tr.Result.Summary = fmt.Sprintf("%d steps, invariants held after every step", len(r.steps))
	} else {
		tr.Result.Summary = fmt.Sprintf("%d steps, invariants broken after %d %s", len(r.steps),
			tr.Result.Violations, plural(tr.Result.Violations, "step", "steps"))
	}
	return tr
}

// runScript runs a scansion script on its in-process target.
func runScript(file string, s *conformance.Script, ip *conformance.InProcess, rec *recorder) traceReport {
	rec.attach(ip.Hub)
	t := &scriptTarget{ip: ip, rec: rec, actions: s.Actions}
	res := conformance.Run(s, t)
	if !res.Passed() {
		// Connections the runner closed after the failing action were not
		// closed by a later action.
		stop := res.Failures[0].Line
		for i := range rec.steps {
			if st := &rec.steps[i]; st.sectionLine > stop {
				st.Section = fmt.Sprintf("after the failure at line %d: the runner closes %s's stream", stop, st.sectionClient)
			}
		}
	}
	tr := rec.report(file, kindScansion, s.Title)
	tr.Result.Passed = tr.Result.Passed && res.Passed()
	tr.Result.Script = res.String()
	for _, f := range res.Failures {
		tr.Result.Failures = append(tr.Result.Failures, newFailureReport(f))
	}
	return tr
}

// newFailureReport reports a failed action of a script.
func newFailureReport(f conformance.Failure) failureReport {
	fr := failureReport{Line: f.Line, Client: f.Client, Kind: f.Kind.String(),
		Expected: f.Want, Received: f.Got, Diff: f.Diff, Pending: f.Pending}
	if f.Err != nil {
		fr.Error = f.Err.Error()
	}
	return fr
}

// scriptTarget is the in-process target, watched: each call that makes the
// hub step (connects, sends, disconnects; receiving never does) starts a
// section named after the script's action. conformance.Run runs the actions
// in order, so the action is the next one of that verb and client.
type scriptTarget struct {
	ip      *conformance.InProcess
	rec     *recorder
	actions []conformance.Action
	next    int // the first action not yet matched
}

func (t *scriptTarget) enter(v conformance.Verb, client string) {
	for i := t.next; i < len(t.actions); i++ {
		if a := t.actions[i]; a.Verb == v && a.Client == client {
			t.next = i + 1
			t.rec.enter(a.Line, client, fmt.Sprintf("line %d: %s %s", a.Line, client, v))
			return
		}
	}
	// No action left: the runner closes what is still open at the end.
	t.rec.enter(1<<31-1, client, "end of script: the runner closes "+client+"'s stream")
}

func (t *scriptTarget) Connect(c conformance.Client) (conformance.Conn, error) {
	t.enter(conformance.Connects, c.Name)
	t.rec.nextName, t.rec.lastConn = c.Name, ""
	conn, err := t.ip.Connect(c)
	if err != nil {
		return nil, err
	}
	return &scriptConn{Conn: conn, t: t, name: c.Name, id: t.rec.lastConn}, nil
}

// scriptConn is a connection of scriptTarget.
type scriptConn struct {
	conformance.Conn
	t        *scriptTarget
	name, id string
}

func (c *scriptConn) Send(el *etree.Element) error {
	if !c.t.rec.closed[c.id] {
		c.t.enter(conformance.Sends, c.name)
	}
	return c.Conn.Send(el)
}

func (c *scriptConn) Close() error {
	// A connection the server closed does not step: the runner closes it
	// after an awaited stream error, which is no action of the script.
	if !c.t.rec.closed[c.id] {
		c.t.enter(conformance.Disconnects, c.name)
	}
	return c.Conn.Close()
}

// The items of a raw XML log.
const (
	itemHeader  = iota // <stream:stream …>: EvStreamOpen
	itemElement        // a top-level element: EvElement
	itemEnd            // </stream:stream>: EvStreamEnd
)

// logItem is one thing the client sent.
type logItem struct {
	line, col int
	kind      int
	header    *fsm.StreamHeader
	elem      *etree.Element
}

// xmlLog is a parsed raw XML log.
type xmlLog struct {
	items []logItem
	// user and password come from the first SASL PLAIN <auth/>, if any.
	user, password string
	// host is the first header's to ("localhost" without one).
	host    string
	headers int
}

// parseLog parses a client's raw XML log: the elements one client sent, as
// a client's XML console shows them. It reads the file token by token
// (encoding/xml), so a stream header needs no end tag:
//
//   - A leading <?xml …?> declaration, comments and whitespace between
//     elements are skipped.
//   - <stream:stream …> at the top level is a stream header: the first one
//     opens the stream, a later one restarts it (after SASL or TLS).
//   - </stream:stream> ends the stream; anything after it is not sent.
//   - Any other top-level element, with its children, is one element the
//     client sent. Namespace prefixes declared on the header (stream:) are
//     declared on the element, as the stream declared them for it.
//
// Errors carry file:line:column: where the decoder stopped for XML that is
// not well formed, or the start of the offending token.
func parseLog(name string, src []byte) (*xmlLog, error) {
	dec := xml.NewDecoder(bytes.NewReader(src))
	lg := &xmlLog{}
	at := func(off int64, format string, args ...any) error {
		line, col := position(src, off)
		return fmt.Errorf("%s:%d:%d: %s", name, line, col, fmt.Sprintf(format, args...))
	}
	var (
		stack     []*etree.Element
		rootOff   int64
		headerNS  = map[string]string{} // prefix → namespace declared on the current header
		streamEnd = false
	)
	for {
		off := dec.InputOffset()
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			msg := err.Error()
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				msg = se.Msg
			}
			// The decoder stops just after the byte it rejects, or at the
			// end of the input.
			stop := dec.InputOffset()
			if stop > off && !strings.Contains(msg, "EOF") {
				stop--
			}
			return nil, at(stop, "not well-formed XML: %s", msg)
		}
		if streamEnd {
			if cd, ok := tok.(xml.CharData); ok && len(bytes.TrimSpace(cd)) == 0 {
				continue
			}
			if _, ok := tok.(xml.Comment); ok {
				continue
			}
			return nil, at(off, "content after </stream:stream>: the stream has ended")
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 && isStreamTag(t) {
				h := &fsm.StreamHeader{Local: t.Name.Local}
				headerNS = map[string]string{}
				for _, a := range t.Attr {
					switch {
					case a.Name.Space == "xmlns":
						headerNS[a.Name.Local] = a.Value
					case a.Name.Space == "" && a.Name.Local == "xmlns":
						h.Default = a.Value
					case a.Name.Space == "" && a.Name.Local == "to":
						h.To = a.Value
					case a.Name.Space == "" && a.Name.Local == "from":
						h.From = a.Value
					case a.Name.Space == "" && a.Name.Local == "version":
						h.Version = a.Value
					case a.Name.Space == "xml" && a.Name.Local == "lang":
						h.Lang = a.Value
					}
				}
				if t.Name.Space == "" {
					h.Space = h.Default
				} else {
					h.Space = headerNS[t.Name.Space]
				}
				if lg.headers == 0 {
					lg.host = strings.ToLower(h.To)
				}
				lg.headers++
				line, col := position(src, off)
				lg.items = append(lg.items, logItem{line: line, col: col, kind: itemHeader, header: h})
				continue
			}
			el := etree.NewElement(qualified(t.Name))
			for _, a := range t.Attr {
				el.CreateAttr(qualified(a.Name), a.Value)
			}
			if len(stack) == 0 {
				rootOff = off
			} else {
				stack[len(stack)-1].AddChild(el)
			}
			stack = append(stack, el)
		case xml.EndElement:
			if len(stack) == 0 {
				if t.Name.Local == "stream" {
					line, col := position(src, off)
					lg.items = append(lg.items, logItem{line: line, col: col, kind: itemEnd})
					streamEnd = true
					continue
				}
				return nil, at(off, "</%s> closes no open element", qualified(t.Name))
			}
			top := stack[len(stack)-1]
			if top.FullTag() != qualified(t.Name) {
				return nil, at(off, "</%s> does not close <%s>", qualified(t.Name), top.FullTag())
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				declareStreamPrefixes(top, headerNS)
				line, col := position(src, rootOff)
				lg.items = append(lg.items, logItem{line: line, col: col, kind: itemElement, elem: top})
				lg.noteAuth(top)
			}
		case xml.CharData:
			if len(stack) == 0 {
				if trimmed := bytes.TrimLeft(t, " \t\r\n"); len(trimmed) > 0 {
					return nil, at(off+int64(len(t)-len(trimmed)), "text outside any element")
				}
				continue
			}
			stack[len(stack)-1].CreateText(string(t))
		case xml.Directive:
			return nil, at(off, "a directive (<!…>) is not allowed in an XMPP stream")
		}
		// Comments and processing instructions (<?xml …?>) are skipped.
	}
	if len(stack) > 0 {
		line, col := position(src, rootOff)
		return nil, at(int64(len(src)), "the log ends inside <%s> (opened at %d:%d)", stack[0].FullTag(), line, col)
	}
	if len(lg.items) == 0 {
		return nil, at(int64(len(src)), "no XML element: not a client's XML log")
	}
	if lg.host == "" {
		lg.host = "localhost"
	}
	return lg, nil
}

// isStreamTag reports whether a top-level start tag is a stream header:
// <stream:stream>, or <stream> in the streams namespace.
func isStreamTag(t xml.StartElement) bool {
	if t.Name.Local != "stream" {
		return false
	}
	if t.Name.Space == "stream" {
		return true
	}
	for _, a := range t.Attr {
		if a.Name.Space == "" && a.Name.Local == "xmlns" {
			return a.Value == fsm.NSStreams
		}
	}
	return false
}

func qualified(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// declareStreamPrefixes declares on el the prefixes it (or a descendant)
// uses that the stream header declared and el does not.
func declareStreamPrefixes(el *etree.Element, headerNS map[string]string) {
	used := map[string]bool{}
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		if e.Space != "" {
			used[e.Space] = true
		}
		for _, a := range e.Attr {
			if a.Space != "" && a.Space != "xmlns" && a.Space != "xml" {
				used[a.Space] = true
			}
		}
		for _, c := range e.ChildElements() {
			walk(c)
		}
	}
	walk(el)
	var prefixes []string
	for p := range used {
		if ns, ok := headerNS[p]; ok && el.SelectAttr("xmlns:"+p) == nil && ns != "" {
			prefixes = append(prefixes, p)
		}
	}
	sort.Strings(prefixes)
	for _, p := range prefixes {
		el.CreateAttr("xmlns:"+p, headerNS[p])
	}
}

// noteAuth takes the account from the first SASL PLAIN <auth/>.
func (lg *xmlLog) noteAuth(el *etree.Element) {
	if lg.user != "" || el.Tag != "auth" || el.NamespaceURI() != fsm.NSSASL || el.SelectAttrValue("mechanism", "") != "PLAIN" {
		return
	}
	data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(el.Text()))
	if err != nil {
		return
	}
	parts := strings.Split(string(data), "\x00")
	if len(parts) != 3 || parts[1] == "" {
		return
	}
	lg.user, lg.password = parts[1], parts[2]
}

// position returns the 1-based line and byte column of offset off in src.
func position(src []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(src)))
	before := src[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	return line, int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
}

// logConn is the connection a log runs on.
const logConn = "c1"

// runLog feeds a raw XML log to one connection of a fresh hub under
// conformance.LoopbackPolicy serving the log's host, with the account of
// its PLAIN auth (none without one). When the log shows no stream header at
// all (some consoles hide them), the headers are implied: whenever the
// session waits for one and the log goes on with an element, a header to
// the host is sent first. Once the server closes the stream, the rest of
// the log is not sent.
func runLog(file string, lg *xmlLog, rec *recorder) traceReport {
	p := conformance.LoopbackPolicy()
	p.Hosts = []string{lg.host}
	h := hub.New(p)
	if lg.user != "" {
		h.Store.AddAccount(lg.user, lg.password)
	}
	rec.attach(h)
	who := lg.user
	if who == "" {
		who = "client"
	}
	rec.nextName = who
	rec.enter(0, who, who+" connects")
	h.Connect(logConn)
	var notes []string
	headers := 0
	for i, it := range lg.items {
		if rec.closed[logConn] {
			n := len(lg.items) - i
			notes = append(notes, fmt.Sprintf("not sent: the %d %s of the log from line %d on (the stream was closed)",
				n, plural(n, "item", "items"), it.line))
			break
		}
		if it.kind == itemElement && lg.headers == 0 {
			if s, _ := h.Session(logConn); s.Phase == fsm.WaitForStream {
				rec.enter(it.line, who, fmt.Sprintf("before line %d: %s %s the stream (header implied)", it.line, who, openVerb(headers)))
				headers++
				h.Send(logConn, hub.Header(lg.host))
			}
		}
		switch it.kind {
		case itemHeader:
			rec.enter(it.line, who, fmt.Sprintf("line %d: %s %s the stream", it.line, who, openVerb(headers)))
			headers++
			h.Send(logConn, fsm.Event{Kind: fsm.EvStreamOpen, Header: it.header})
		case itemElement:
			rec.enter(it.line, who, fmt.Sprintf("line %d: %s sends %s", it.line, who, describe(it.elem)))
			h.Send(logConn, fsm.Event{Kind: fsm.EvElement, Elem: it.elem})
		case itemEnd:
			rec.enter(it.line, who, fmt.Sprintf("line %d: %s closes the stream", it.line, who))
			h.Send(logConn, fsm.Event{Kind: fsm.EvStreamEnd})
		}
		if rec.closed[logConn] {
			how := "closed the stream"
			if c := rec.streamErrors[logConn]; c != "" {
				how = "closed the stream with the stream error " + c
			}
			notes = append(notes, fmt.Sprintf("line %d: the server %s", it.line, how))
		}
	}
	if !rec.closed[logConn] {
		if last := lg.items[len(lg.items)-1]; last.kind != itemEnd {
			notes = append(notes, "the log ends with the stream open")
		}
	}
	tr := rec.report(file, kindXMLLog, "")
	if lg.user != "" {
		tr.Title = fmt.Sprintf("%s's XML log, account %s@%s from its PLAIN auth", who, lg.user, lg.host)
	} else {
		tr.Title = fmt.Sprintf("a client's XML log to %s, no PLAIN auth: no account", lg.host)
	}
	tr.Result.Notes = notes
	return tr
}

// describe names an element for a section heading: its tag, its type and
// its first child's tag ("<iq type='set'> <bind>").
func describe(el *etree.Element) string {
	d := "<" + el.FullTag()
	if t := el.SelectAttrValue("type", ""); t != "" {
		d += fmt.Sprintf(" type='%s'", t)
	}
	d += ">"
	if c := el.ChildElements(); len(c) > 0 {
		d += " <" + c[0].FullTag() + ">"
	}
	return d
}

func openVerb(headersSoFar int) string {
	if headersSoFar == 0 {
		return "opens"
	}
	return "restarts"
}

// Colours, on a terminal only.
const (
	ansiChanged = "\x1b[1;33m" // bold yellow: a field the step changed
	ansiBad     = "\x1b[1;31m" // bold red: a broken invariant, a failure
	ansiGood    = "\x1b[32m"
	ansiTitle   = "\x1b[1m"
	ansiReset   = "\x1b[0m"
)

type painter bool

func (p painter) paint(code, s string) string {
	if !p || s == "" {
		return s
	}
	return code + s + ansiReset
}

// writeText prints the report for people: per trace, a section per cause
// (the script's action, the log's line), in it a table row per step (the
// step, the machine, the session's fields after the step and the
// invariants' verdict), the event (←) and the effects (→) below it.
func (r runReport) writeText(w io.Writer, color bool) {
	p := painter(color)
	for i, tr := range r.Traces {
		if i > 0 {
			fmt.Fprintln(w)
		}
		tr.writeText(w, p)
	}
	if len(r.Traces) > 1 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, tally(r.Traces, func(tr traceReport) bool { return !tr.Result.Passed }, "traces", "all passed", "failed"))
	}
}

// tally is the last line of a report on several items: how many, then
// ok when none is bad, or how many are bad.
func tally[T any](items []T, isBad func(T) bool, what, ok, bad string) string {
	n := 0
	for _, it := range items {
		if isBad(it) {
			n++
		}
	}
	if n == 0 {
		return fmt.Sprintf("%d %s: %s", len(items), what, ok)
	}
	return fmt.Sprintf("%d %s: %d %s", len(items), what, n, bad)
}

func (tr traceReport) writeText(w io.Writer, p painter) {
	kind := "scansion script"
	if tr.Kind == kindXMLLog {
		kind = "raw XML log"
	}
	head := fmt.Sprintf("%s (%s)", tr.File, kind)
	if tr.Title != "" {
		head += ": " + tr.Title
	}
	fmt.Fprintln(w, p.paint(ansiTitle, head))

	// The table's columns, as wide as their widest cell in the trace.
	cols := append([]string{"step", "machine"}, tableFields...)
	cols = append(cols, "invariants")
	width := make([]int, len(cols))
	cells := make([][]string, len(tr.Steps))
	for i, c := range cols {
		width[i] = len(c)
	}
	for n, st := range tr.Steps {
		row := []string{fmt.Sprint(st.N), machineName(st)}
		for _, f := range tableFields {
			v := ""
			if st.Fields != nil {
				if v = st.Fields.get(f); v == "" {
					v = "-"
				}
			}
			row = append(row, v)
		}
		row = append(row, verdict(st))
		for i, c := range row {
			width[i] = max(width[i], len(c))
		}
		cells[n] = row
	}
	line := func(row []string, paint func(i int, cell string) string) string {
		var b strings.Builder
		b.WriteString("  ")
		for i, c := range row {
			pad := strings.Repeat(" ", width[i]-len(c))
			if i == len(row)-1 {
				pad = ""
			}
			b.WriteString(paint(i, c) + pad)
			if i < len(row)-1 {
				b.WriteString("  ")
			}
		}
		return strings.TrimRight(b.String(), " ")
	}
	indent := "  " + strings.Repeat(" ", width[0]+2)

	section := "\x00"
	for n, st := range tr.Steps {
		if st.Section != section {
			section = st.Section
			fmt.Fprintf(w, "\n%s\n", p.paint(ansiTitle, section))
			fmt.Fprintln(w, line(cols, func(_ int, c string) string { return c }))
		}
		fmt.Fprintln(w, line(cells[n], func(i int, c string) string {
			switch {
			case i == len(cols)-1 && len(st.Violations) > 0:
				return p.paint(ansiBad, c)
			case i >= 2 && i < len(cols)-1 && contains(st.Changed, cols[i]):
				return p.paint(ansiChanged, c)
			}
			return c
		}))
		fmt.Fprintf(w, "%s← %s\n", indent, oneLine(st.Event, indent+"  "))
		for _, e := range st.Effects {
			fmt.Fprintf(w, "%s→ %s\n", indent, oneLine(e, indent+"  "))
		}
		for _, v := range st.Violations {
			fmt.Fprintf(w, "%s%s\n", indent, p.paint(ansiBad, "✗ "+v))
		}
	}

	fmt.Fprintln(w)
	res := tr.Result
	summary := tr.File + ": " + res.Summary
	if res.Violations > 0 {
		summary = p.paint(ansiBad, summary)
	}
	fmt.Fprintln(w, summary)
	for _, n := range res.Notes {
		fmt.Fprintln(w, tr.File+": "+n)
	}
	if res.Script != "" {
		text := res.Script
		if len(res.Failures) > 0 {
			text = p.paint(ansiBad, text)
		} else {
			text = p.paint(ansiGood, text)
		}
		fmt.Fprintln(w, text)
	}
}

// betweenTags is whitespace with a line break between two tags: the
// indentation of a script's body.
var betweenTags = regexp.MustCompile(`>[ \t\r]*\n[ \t\r\n]*<`)

// oneLine renders an event or effect for the text report: whitespace with a
// line break between tags (insignificant in XMPP) is left out, and a line
// break left in text continues on an indented line. --json keeps the text
// as the hub rendered it.
func oneLine(s, indent string) string {
	s = betweenTags.ReplaceAllString(s, "><")
	return strings.ReplaceAll(s, "\n", "\n"+indent)
}

// machineName is the machine with the client on its connection.
func machineName(st stepReport) string {
	if st.Client != "" {
		return st.Machine + " (" + st.Client + ")"
	}
	return st.Machine
}

// verdict is the invariants' verdict after a step, over every session.
func verdict(st stepReport) string {
	if len(st.Violations) > 0 {
		return "BROKEN"
	}
	return "held"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
