package main

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xmppfsm/xmppfsm/fsm"
)

// The traces that ship with the repository, from this directory.
const (
	loginChat    = "../../traces/login-chat.scs"
	gajimConsole = "../../traces/gajim-console.xml"
)

// row is one step of the text report, read back by the column positions of
// the table header above it.
type row struct {
	section string
	step    int
	machine string            // "conn c1 (Romeo)" or "user romeo@localhost"
	fields  map[string]string // the session's fields; nil for a user step
	verdict string            // the invariants column
	event   string            // the "←" line
	effects []string          // the "→" lines
}

var stepHeader = regexp.MustCompile(`^  step  machine +phase +type +username +host +resource +full_jid +priority +available +interested +invariants$`)

// parseRows reads the steps of a text report. It fails the test when a
// section has no header, when a cell does not start at its column in the
// header (the table is not aligned), or when the step numbers skip.
func parseRows(t *testing.T, out string) []row {
	t.Helper()
	var (
		rows    []row
		section string
		cols    []string
		pos     []int // the column of each header name
	)
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		switch {
		case stepHeader.MatchString(l):
			section = lines[i-1]
			cols, pos = nil, nil
			for _, m := range regexp.MustCompile(`\S+`).FindAllStringIndex(l, -1) {
				cols, pos = append(cols, l[m[0]:m[1]]), append(pos, m[0])
			}
		case regexp.MustCompile(`^  \d`).MatchString(l):
			if pos == nil {
				t.Fatalf("step row before any table header: %q", l)
			}
			cells := map[string]string{}
			for k, p := range pos {
				if p >= len(l) {
					continue
				}
				end := len(l)
				if k+1 < len(pos) && pos[k+1] < end {
					end = pos[k+1]
				}
				cell := l[p:end]
				if l[p-1] != ' ' || (strings.TrimSpace(cell) != "" && cell[0] == ' ') {
					t.Fatalf("column %s not aligned with the header in %q (section %q)", cols[k], l, section)
				}
				cells[cols[k]] = strings.TrimSpace(cell)
			}
			n, err := strconv.Atoi(cells["step"])
			if err != nil {
				t.Fatalf("bad step number in %q", l)
			}
			r := row{section: section, step: n, machine: cells["machine"], verdict: cells["invariants"]}
			if strings.HasPrefix(r.machine, "conn ") {
				r.fields = map[string]string{}
				for _, f := range tableFields {
					r.fields[f] = cells[f]
				}
			}
			rows = append(rows, r)
		case strings.HasPrefix(strings.TrimLeft(l, " "), "← ") && len(rows) > 0:
			rows[len(rows)-1].event = strings.TrimPrefix(strings.TrimLeft(l, " "), "← ")
		case strings.HasPrefix(strings.TrimLeft(l, " "), "→ ") && len(rows) > 0:
			r := &rows[len(rows)-1]
			r.effects = append(r.effects, strings.TrimPrefix(strings.TrimLeft(l, " "), "→ "))
		}
	}
	for i, r := range rows {
		if r.step != i+1 {
			t.Fatalf("step %d is numbered %d", i+1, r.step)
		}
	}
	return rows
}

// in returns the rows of section whose machine is machine.
func in(rows []row, section, machine string) []row {
	var out []row
	for _, r := range rows {
		if r.section == section && r.machine == machine {
			out = append(out, r)
		}
	}
	return out
}

// wantFields checks the named fields of a session row.
func wantFields(t *testing.T, r row, want map[string]string) {
	t.Helper()
	if r.fields == nil {
		t.Errorf("step %d (%s) has no session fields", r.step, r.machine)
		return
	}
	for k, v := range want {
		if r.fields[k] != v {
			t.Errorf("step %d (%s, %q): %s = %q, want %q", r.step, r.machine, r.section, k, r.fields[k], v)
		}
	}
}

func last(t *testing.T, rows []row, what string) row {
	t.Helper()
	if len(rows) == 0 {
		t.Fatalf("no rows for %s", what)
	}
	return rows[len(rows)-1]
}

func checkNoInternals(t *testing.T, stderr string) {
	t.Helper()
	for _, bad := range []string{"goroutine", "panic"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("stderr shows %q:\n%s", bad, stderr)
		}
	}
}

// TestRunLoginChat: the shipped scansion script passes. Romeo's session
// reaches established with his full JID at the end of his login (on
// roster-loaded, the bind result sent), becomes interested on his roster
// get while still unavailable, available on his initial presence, and is
// closed and destroyed when he disconnects, while Juliet's session, still
// available, is sent his unavailable presence. Every step holds the
// invariants, and the report ends with the step count and the runner's PASS.
func TestRunLoginChat(t *testing.T) {
	code, out, errOut := runCmd(t, "run", loginChat)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q\n%s", code, errOut, out)
	}
	if !strings.HasPrefix(out, loginChat+" (scansion script): Romeo and Juliet log in, subscribe to each other, chat, and Romeo leaves\n") {
		t.Errorf("title line:\n%s", out[:min(len(out), 200)])
	}
	rows := parseRows(t, out)
	const romeo, juliet = "conn c1 (Romeo)", "conn c2 (Juliet)"

	login := in(rows, "line 15: Romeo connects", romeo)
	if len(login) != 8 {
		t.Fatalf("Romeo's login: %d session steps, want 8 (connect, header, auth, success, header, bind, granted, roster)", len(login))
	}
	wantFields(t, login[0], map[string]string{"phase": "wait-for-stream", "type": "c2s_unauthed", "full_jid": "-"})
	wantFields(t, login[3], map[string]string{"phase": "wait-for-stream", "type": "c2s_unbound", "username": "romeo"})
	for _, r := range login[:7] {
		if r.fields["phase"] == "established" {
			t.Errorf("step %d: established before the roster is loaded", r.step)
		}
	}
	est := login[7]
	wantFields(t, est, map[string]string{
		"phase": "established", "type": "c2s", "username": "romeo", "host": "localhost",
		"resource": "balcony", "full_jid": "romeo@localhost/balcony", "priority": "0",
		"available": "false", "interested": "false",
	})
	if est.event != "roster-loaded" || len(est.effects) == 0 ||
		est.effects[0] != "send <iq type='result' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>romeo@localhost/balcony</jid></bind></iq>" {
		t.Errorf("step %d: event %q, effects %q", est.step, est.event, est.effects)
	}
	wantFields(t, last(t, in(rows, "line 17: Juliet connects", juliet), "Juliet's login"), map[string]string{
		"phase": "established", "full_jid": "juliet@localhost/garden", "available": "false", "interested": "false"})

	// The roster get makes Romeo interested; he is not yet available.
	roster := in(rows, "line 19: Romeo sends", romeo)
	wantFields(t, last(t, roster, "the roster get"), map[string]string{"phase": "established", "interested": "true", "available": "false"})
	if !strings.HasPrefix(roster[0].event, "element <iq type='get' id='roster1'><query xmlns='jabber:iq:roster'/></iq>") {
		t.Errorf("roster get event: %q", roster[0].event)
	}
	// The initial presence makes him available.
	presence := in(rows, "line 39: Romeo sends", romeo)
	wantFields(t, presence[0], map[string]string{"available": "true", "interested": "true", "priority": "0"})
	if presence[0].event != "element <presence/>" || !cmp.Equal(presence[0].effects, []string{"broadcast initial from=romeo@localhost/balcony <presence/>"}) {
		t.Errorf("initial presence: %q → %q", presence[0].event, presence[0].effects)
	}

	// Romeo leaves: destroyed; Juliet gets his unavailable presence.
	bye := in(rows, "line 154: Romeo disconnects", romeo)
	wantFields(t, last(t, bye, "Romeo's disconnect"), map[string]string{
		"phase": "closed", "type": "c2s_destroyed", "full_jid": "-", "available": "false", "interested": "false"})
	toJuliet := last(t, in(rows, "line 154: Romeo disconnects", juliet), "the unavailable presence")
	wantFields(t, toJuliet, map[string]string{"phase": "established", "available": "true"})
	if !cmp.Equal(toJuliet.effects, []string{"send from=romeo@localhost/balcony to=juliet@localhost <presence type='unavailable'/>"}) {
		t.Errorf("Juliet is sent %q", toJuliet.effects)
	}

	// User-machine steps are listed, without fields.
	users := in(rows, "line 132: Romeo sends", "user juliet@localhost")
	if len(users) != 1 || users[0].fields != nil || !strings.HasPrefix(users[0].event, "inbound from=romeo@localhost/balcony to=juliet@localhost <message") {
		t.Errorf("Juliet's user machine on the chat message: %+v", users)
	}

	for _, r := range rows {
		if r.verdict != "held" {
			t.Errorf("step %d: invariants %q", r.step, r.verdict)
		}
	}
	wantEnd := fmt.Sprintf("\n%s: %d steps, invariants held after every step\nPASS %s (33 actions, 0 unawaited stanzas dropped)\n",
		loginChat, len(rows), loginChat)
	if !strings.HasSuffix(out, wantEnd) {
		t.Errorf("does not end with %q:\n%s", wantEnd, out[max(0, len(out)-400):])
	}
}

// TestRunGajimConsole: the shipped raw log logs juliet in with the password
// of its PLAIN auth (the account is made from it), over the two stream
// headers of the log; the bind makes the session established with the
// requested resource, the roster get interested, and the presence
// available with its priority.
func TestRunGajimConsole(t *testing.T) {
	code, out, errOut := runCmd(t, "run", gajimConsole)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q\n%s", code, errOut, out)
	}
	if !strings.HasPrefix(out, gajimConsole+" (raw XML log): juliet's XML log, account juliet@localhost from its PLAIN auth\n") {
		t.Errorf("title line:\n%s", out[:min(len(out), 200)])
	}
	rows := parseRows(t, out)
	const c = "conn c1 (juliet)"
	wantFields(t, last(t, in(rows, "line 2: juliet opens the stream", c), "the header"),
		map[string]string{"phase": "wait-for-feature", "host": "localhost"})
	auth := in(rows, "line 3: juliet sends <auth>", c)
	if len(auth) != 2 || auth[1].event != "sasl-success username=juliet" {
		t.Fatalf("auth steps: %+v", auth)
	}
	wantFields(t, auth[1], map[string]string{"phase": "wait-for-stream", "type": "c2s_unbound", "username": "juliet"})
	wantFields(t, last(t, in(rows, "line 4: juliet restarts the stream", c), "the restart"),
		map[string]string{"phase": "wait-for-bind"})

	bind := last(t, in(rows, "line 5: juliet sends <iq type='set'> <bind>", c), "the bind")
	wantFields(t, bind, map[string]string{
		"phase": "established", "type": "c2s", "resource": "gajim.7F3K2Q",
		"full_jid": "juliet@localhost/gajim.7F3K2Q", "available": "false", "interested": "false"})
	wantFields(t, last(t, in(rows, "line 10: juliet sends <iq type='set'> <session>", c), "the session request"),
		map[string]string{"phase": "established", "interested": "false"})
	wantFields(t, last(t, in(rows, "line 13: juliet sends <iq type='get'> <query>", c), "the roster get"),
		map[string]string{"interested": "true", "available": "false"})
	pres := in(rows, "line 16: juliet sends <presence> <priority>", c)
	wantFields(t, pres[0], map[string]string{"available": "true", "interested": "true", "priority": "5"})
	for _, r := range rows {
		if r.verdict != "held" {
			t.Errorf("step %d: invariants %q", r.step, r.verdict)
		}
	}
	wantEnd := fmt.Sprintf("%s: %d steps, invariants held after every step\n%s: the log ends with the stream open\n", gajimConsole, len(rows), gajimConsole)
	if !strings.HasSuffix(out, wantEnd) {
		t.Errorf("does not end with %q:\n%s", wantEnd, out[max(0, len(out)-300):])
	}
}

// TestRunFailedExpectation: a script whose expectation fails exits 1 and
// prints the failing line with the expected and the received XML; the
// runner's closing of the connection after the failure is labelled so.
func TestRunFailedExpectation(t *testing.T) {
	code, out, errOut := runCmd(t, "run", "testdata/wrong-reflection.scs")
	if code != 1 || errOut != "" {
		t.Fatalf("exit %d, stderr %q, want 1\n%s", code, errOut, out)
	}
	for _, want := range []string{
		"\nFAIL testdata/wrong-reflection.scs:16: Romeo receives: mismatch\n" +
			"  /presence (non-strict): attribute value: attribute from: want \"romeo@localhost\", got \"romeo@localhost/balcony\"\n" +
			"  expected:\n    <presence from='romeo@localhost'/>\n" +
			"  received:\n    <presence from='romeo@localhost/balcony' to='romeo@localhost/balcony'/>\n",
		"\ntestdata/wrong-reflection.scs: 15 steps, invariants held after every step\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	rows := parseRows(t, out)
	closing := in(rows, "after the failure at line 16: the runner closes Romeo's stream", "conn c1 (Romeo)")
	if len(closing) != 1 || closing[0].event != "stream-end" {
		t.Errorf("the runner's close: %+v", closing)
	}
	wantFields(t, last(t, closing, "the close"), map[string]string{"phase": "closed"})
}

// TestRunStanzaBeforeAuth: a raw log with a message before auth: the
// session closes with the not-authorized stream error, the rest of the log
// is not sent, and the output says so. No expectation failed and no
// invariant broke: exit 0.
func TestRunStanzaBeforeAuth(t *testing.T) {
	const file = "testdata/stanza-before-auth.xml"
	code, out, errOut := runCmd(t, "run", file)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q\n%s", code, errOut, out)
	}
	rows := parseRows(t, out)
	if len(rows) != 3 {
		t.Fatalf("%d steps, want 3 (connect, header, message)", len(rows))
	}
	r := rows[2]
	if r.section != "line 2: juliet sends <message type='chat'> <body>" ||
		r.event != "element <message to='romeo@localhost' type='chat'><body>too early</body></message>" {
		t.Errorf("step 3: %q: %q", r.section, r.event)
	}
	wantFields(t, r, map[string]string{"phase": "closed", "type": "c2s_destroyed"})
	wantEffects := []string{
		"send <stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
		"close",
		"stop-timer timer=negotiation",
	}
	if diff := cmp.Diff(wantEffects, r.effects); diff != "" {
		t.Errorf("effects (-want +got):\n%s", diff)
	}
	wantEnd := file + ": 3 steps, invariants held after every step\n" +
		file + ": line 2: the server closed the stream with the stream error <not-authorized/>\n" +
		file + ": not sent: the 1 item of the log from line 3 on (the stream was closed)\n"
	if !strings.HasSuffix(out, wantEnd) {
		t.Errorf("does not end with %q:\n%s", wantEnd, out)
	}
	if strings.Contains(out, "sasl-start") {
		t.Errorf("the auth after the close was sent:\n%s", out)
	}
}

// TestRunImpliedHeaders: a log without stream headers (a console that hides
// them) gets a header before its first element and the restart after auth,
// and reaches established; its </stream:stream> closes the session.
func TestRunImpliedHeaders(t *testing.T) {
	code, out, errOut := runCmd(t, "run", "testdata/no-headers.xml")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q\n%s", code, errOut, out)
	}
	rows := parseRows(t, out)
	const c = "conn c1 (juliet)"
	wantFields(t, last(t, in(rows, "before line 1: juliet opens the stream (header implied)", c), "the first header"),
		map[string]string{"phase": "wait-for-feature"})
	wantFields(t, last(t, in(rows, "before line 2: juliet restarts the stream (header implied)", c), "the restart"),
		map[string]string{"phase": "wait-for-bind", "username": "juliet"})
	wantFields(t, last(t, in(rows, "line 2: juliet sends <iq type='set'> <bind>", c), "the bind"),
		map[string]string{"phase": "established", "full_jid": "juliet@localhost/console"})
	wantFields(t, in(rows, "line 3: juliet sends <presence>", c)[0], map[string]string{"available": "true"})
	wantFields(t, in(rows, "line 4: juliet closes the stream", c)[0], map[string]string{"phase": "closed"})
}

// TestRunBadInput: bad usage and bad input exit 2 with a clear message on
// stderr (file:line:column for parse errors), nothing on stdout, and never
// a stack trace; a bad file among good ones stops the run before anything
// runs.
func TestRunBadInput(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no trace", []string{"run"}, "simulate run: no trace given\nusage: simulate run"},
		{"unknown flag", []string{"run", "--bogus", loginChat}, "flag provided but not defined: -bogus"},
		{"missing file", []string{"run", "testdata/nope.scs"}, "simulate run: cannot read testdata/nope.scs: no such file or directory\n"},
		{"directory", []string{"run", "testdata"}, "simulate run: cannot read testdata: is a directory\n"},
		{"script that does not parse", []string{"run", "testdata/bad-body.scs"},
			"simulate run: testdata/bad-body.scs:13:13: bad XML in body: element <show> closed by </shw>\n"},
		{"unknown client", []string{"run", "testdata/unknown-client.scs"},
			`simulate run: testdata/unknown-client.scs:11:1: unknown client name at the start of "Mercutio" (declared: "Romeo")` + "\n"},
		{"log that does not parse", []string{"run", "testdata/bad-log.xml"},
			"simulate run: testdata/bad-log.xml:3:56: </iq> does not close <query>\n"},
		{"bad file after a good one", []string{"run", loginChat, "testdata/bad-log.xml"}, "testdata/bad-log.xml:3:56:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tt.args...)
			if code != 2 || out != "" || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errOut, tt.want)
			}
			checkNoInternals(t, errOut)
		})
	}
}

// TestParseLogErrors: the raw log parser reports where the input goes
// wrong, line and column from the decoder (for a syntax error, the byte
// the decoder rejected).
func TestParseLogErrors(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{"<presence>\n  <show>away</presence>", "x.xml:2:13: </presence> does not close <show>"},
		{"<iq type=get/>", "x.xml:1:10: not well-formed XML: unquoted or missing attribute value in element"},
		{"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>\n<presence>", "x.xml:2:11: the log ends inside <presence> (opened at 2:1)"},
		{"<presence/>\nhello <presence/>", "x.xml:2:1: text outside any element"},
		{"</stream:stream>\n<presence/>", "x.xml:2:1: content after </stream:stream>: the stream has ended"},
		{"</presence>", "x.xml:1:1: </presence> closes no open element"},
		{"<?xml version='1.0'?>\n  \n", "x.xml:3:1: no XML element: not a client's XML log"},
		// A syntax error points at the byte the decoder rejected.
		{"<presence>\n<show>a</show><<</presence>", "x.xml:2:15: not well-formed XML: expected element name after <"},
		{"<message>\n  <body>a & b</body></message>", "x.xml:2:11: not well-formed XML: invalid character entity & (no semicolon)"},
		{"<presence", "x.xml:1:10: not well-formed XML: unexpected EOF"},
	} {
		_, err := parseLog("x.xml", []byte(tt.src))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q: error %v, want %q", tt.src, err, tt.want)
		}
	}
}

// TestParseLogStream: headers (prefixed or not), restarts and the end of
// the stream are told apart from elements; the stream prefix declared on
// the header reaches the elements that use it; PLAIN gives the account.
func TestParseLogStream(t *testing.T) {
	src := `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='Example.ORG' version='1.0' xml:lang='en'>
<!-- a comment -->
<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + "AHJvbWVvAHBhc3M=" + `</auth>
<stream xmlns='http://etherx.jabber.org/streams' to='example.org'>
<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>
</stream:stream>`
	lg, err := parseLog("x.xml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if lg.user != "romeo" || lg.password != "pass" || lg.host != "example.org" || lg.headers != 2 {
		t.Errorf("user %q password %q host %q headers %d", lg.user, lg.password, lg.host, lg.headers)
	}
	var kinds []string
	for _, it := range lg.items {
		kinds = append(kinds, fmt.Sprintf("%d:%d %d", it.line, it.col, it.kind))
	}
	want := []string{
		fmt.Sprintf("1:22 %d", itemHeader), fmt.Sprintf("3:1 %d", itemElement), fmt.Sprintf("4:1 %d", itemHeader),
		fmt.Sprintf("5:1 %d", itemElement), fmt.Sprintf("6:1 %d", itemEnd),
	}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Fatalf("items (-want +got):\n%s", diff)
	}
	h := lg.items[0].header
	if h.Space != "http://etherx.jabber.org/streams" || h.Local != "stream" || h.Default != "jabber:client" ||
		h.To != "Example.ORG" || h.Version != "1.0" || h.Lang != "en" {
		t.Errorf("header %+v", *h)
	}
	if h := lg.items[2].header; h.Space != "http://etherx.jabber.org/streams" || h.To != "example.org" {
		t.Errorf("unprefixed header %+v", *h)
	}
	// The second header declares no stream: prefix; the first one did, but a
	// restart starts a new stream, so <stream:error> stays undeclared.
	if el := lg.items[3].elem; el.NamespaceURI() != "" {
		t.Errorf("stream:error after an unprefixed header is in %q", el.NamespaceURI())
	}
	lg, err = parseLog("x.xml", []byte(`<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><stream:error/>`))
	if err != nil {
		t.Fatal(err)
	}
	if el := lg.items[1].elem; el.NamespaceURI() != "http://etherx.jabber.org/streams" {
		t.Errorf("stream:error is in %q, want the header's streams namespace", el.NamespaceURI())
	}
}

// jsonReport is what --json prints, decoded independently of the types
// that write it.
type jsonReport struct {
	Passed bool `json:"passed"`
	Traces []struct {
		File  string `json:"file"`
		Kind  string `json:"kind"`
		Steps []struct {
			N          int               `json:"n"`
			Section    string            `json:"section"`
			Machine    string            `json:"machine"`
			Client     string            `json:"client"`
			Event      string            `json:"event"`
			Effects    []string          `json:"effects"`
			Fields     map[string]string `json:"fields"`
			Changed    []string          `json:"changed"`
			Violations []string          `json:"violations"`
		} `json:"steps"`
		Result struct {
			Passed   bool   `json:"passed"`
			Summary  string `json:"summary"`
			Script   string `json:"script"`
			Failures []struct {
				Line     int    `json:"line"`
				Client   string `json:"client"`
				Kind     string `json:"kind"`
				Expected string `json:"expected"`
				Received string `json:"received"`
			} `json:"failures"`
		} `json:"result"`
	} `json:"traces"`
}

// TestRunJSON: --json (also after the files) prints one document with both
// shipped traces: every step numbered, with its machine, event and effects,
// session steps with exactly the table's fields (in the table's order in
// the document) and what changed, violations as an empty list, and the
// verdicts; a failed expectation is a failure with its line, kind and XML.
func TestRunJSON(t *testing.T) {
	code, out, errOut := runCmd(t, "run", loginChat, gajimConsole, "--json")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var rep jsonReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if !rep.Passed || len(rep.Traces) != 2 || rep.Traces[0].Kind != "scansion" || rep.Traces[1].Kind != "xml-log" ||
		rep.Traces[0].File != loginChat || rep.Traces[1].File != gajimConsole {
		t.Fatalf("passed %v, %d traces", rep.Passed, len(rep.Traces))
	}
	if !strings.Contains(out, `"fields": {
            "phase": "wait-for-stream",
            "type": "c2s_unauthed",
            "username": "",
            "host": "",
            "resource": "",
            "full_jid": "",
            "priority": "0",
            "available": "false",
            "interested": "false"
          },`) {
		t.Errorf("the first fields are not in the table's order:\n%s", out[:min(len(out), 1500)])
	}
	for _, tr := range rep.Traces {
		if len(tr.Steps) == 0 || !tr.Result.Passed || tr.Result.Failures == nil || len(tr.Result.Failures) != 0 {
			t.Errorf("%s: %d steps, result %+v", tr.File, len(tr.Steps), tr.Result)
		}
		for i, st := range tr.Steps {
			if st.N != i+1 || st.Machine == "" || st.Event == "" || st.Effects == nil || st.Violations == nil || len(st.Violations) != 0 {
				t.Errorf("%s: step %d: %+v", tr.File, i+1, st)
			}
			isSession := strings.HasPrefix(st.Machine, "conn ")
			if isSession != (st.Fields != nil) || (st.Fields != nil && len(st.Fields) != len(tableFields)) {
				t.Errorf("%s: step %d (%s): fields %v", tr.File, st.N, st.Machine, st.Fields)
			}
		}
	}
	if want := fmt.Sprintf("%d steps, invariants held after every step", len(rep.Traces[0].Steps)); rep.Traces[0].Result.Summary != want ||
		rep.Traces[0].Result.Script != "PASS "+loginChat+" (33 actions, 0 unawaited stanzas dropped)" {
		t.Errorf("result %+v", rep.Traces[0].Result)
	}
	// The step that establishes juliet's session in the log.
	found := false
	for _, st := range rep.Traces[1].Steps {
		if st.Fields["phase"] == "established" {
			found = true
			if st.N != 8 || st.Client != "juliet" || st.Event != "roster-loaded" || st.Fields["full_jid"] != "juliet@localhost/gajim.7F3K2Q" ||
				!cmp.Equal(st.Changed, []string{"phase", "type", "resource", "full_jid"}) ||
				st.Section != "line 5: juliet sends <iq type='set'> <bind>" {
				t.Errorf("the establishing step: %+v", st)
			}
			break
		}
	}
	if !found {
		t.Error("no step reaches established")
	}

	code, out, _ = runCmd(t, "run", "--json", "testdata/wrong-reflection.scs")
	if code != 1 {
		t.Fatalf("failing script: exit %d, want 1", code)
	}
	rep = jsonReport{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	res := rep.Traces[0].Result
	if rep.Passed || res.Passed || len(res.Failures) != 1 {
		t.Fatalf("result %+v", res)
	}
	if f := res.Failures[0]; f.Line != 16 || f.Client != "Romeo" || f.Kind != "mismatch" ||
		f.Expected != "<presence from='romeo@localhost'/>" || f.Received != "<presence from='romeo@localhost/balcony' to='romeo@localhost/balcony'/>" {
		t.Errorf("failure %+v", f)
	}
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// TestRunColor: on a terminal the fields a step changed are highlighted and
// nothing else moves (the text without the colour codes is the plain
// report); --no-color, and any output that is not a terminal, has no colour
// code at all.
func TestRunColor(t *testing.T) {
	_, plain, _ := runCmd(t, "run", gajimConsole)
	if strings.Contains(plain, "\x1b") {
		t.Fatalf("colour codes in output that is not a terminal")
	}
	saved := isTerminal
	isTerminal = func(io.Writer) bool { return true }
	t.Cleanup(func() { isTerminal = saved })
	t.Setenv("NO_COLOR", "")

	_, colored, _ := runCmd(t, "run", gajimConsole)
	if ansi.ReplaceAllString(colored, "") != plain {
		t.Errorf("the coloured report is not the plain one with colour codes")
	}
	// Step 8 (roster-loaded) changes phase, type, resource and full_jid.
	var step8 string
	for _, l := range strings.Split(colored, "\n") {
		if strings.HasPrefix(l, "  8 ") {
			step8 = l
		}
	}
	hl := func(s string) string { return ansiChanged + s + ansiReset }
	for _, want := range []string{hl("established"), hl("c2s"), hl("gajim.7F3K2Q"), hl("juliet@localhost/gajim.7F3K2Q")} {
		if !strings.Contains(step8, want) {
			t.Errorf("step 8 does not highlight %q: %q", want, step8)
		}
	}
	for _, unchanged := range []string{hl("juliet "), hl("localhost "), hl("false")} {
		if strings.Contains(step8, unchanged) {
			t.Errorf("step 8 highlights the unchanged %q", unchanged)
		}
	}
	if _, out, _ := runCmd(t, "run", "--no-color", gajimConsole); out != plain {
		t.Errorf("--no-color on a terminal is not the plain report")
	}
	t.Setenv("NO_COLOR", "1")
	if _, out, _ := runCmd(t, "run", gajimConsole); out != plain {
		t.Errorf("NO_COLOR on a terminal is not the plain report")
	}
}

// TestRunSeveralTraces: several traces are reported in turn, with a count
// at the end; one failing trace makes the run exit 1.
func TestRunSeveralTraces(t *testing.T) {
	code, out, _ := runCmd(t, "run", gajimConsole, "testdata/wrong-reflection.scs")
	if code != 1 || !strings.HasSuffix(out, "\n\n2 traces: 1 failed\n") {
		t.Errorf("exit %d, output ends %q", code, out[max(0, len(out)-100):])
	}
	code, out, _ = runCmd(t, "run", gajimConsole, "testdata/no-headers.xml")
	if code != 0 || !strings.HasSuffix(out, "\n\n2 traces: all passed\n") {
		t.Errorf("exit %d, output ends %q", code, out[max(0, len(out)-100):])
	}
}

// TestRunReportsViolations: a step after which a session breaks an
// invariant fails the trace; the text marks the step BROKEN and lists
// the violation under it.
func TestRunReportsViolations(t *testing.T) {
	ok := stepReport{N: 1, Section: "line 1: x", Machine: "user a@localhost", Event: "bound", Effects: []string{}, Violations: []string{}, Sessions: 1}
	bad := stepReport{N: 2, Section: "line 1: x", Machine: "conn c1", Client: "x", Event: "roster-loaded", Effects: []string{"close"},
		Fields: pickFields(fsm.Session{}), Sessions: 1, Violations: []string{"conn c1: SI-3 full JID \"\", resource \"\" and roster true disagree"}}
	tr := (&recorder{steps: []stepReport{ok, bad}}).report("x.xml", kindXMLLog, "")
	if tr.Result.Passed || tr.Result.Violations != 1 || tr.Result.Summary != "2 steps, invariants broken after 1 step" {
		t.Fatalf("result %+v", tr.Result)
	}
	var b strings.Builder
	runReport{Traces: []traceReport{tr}}.writeText(&b, false)
	out := b.String()
	rows := parseRows(t, out)
	if len(rows) != 2 || rows[0].verdict != "held" || rows[1].verdict != "BROKEN" {
		t.Errorf("rows %+v", rows)
	}
	for _, want := range []string{
		"\n        ✗ conn c1: SI-3 full JID \"\", resource \"\" and roster true disagree\n",
		"\nx.xml: 2 steps, invariants broken after 1 step\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}

// TestRunPanicIsAFailure: a machine that panics on a trace fails the trace
// with a message, not a stack trace.
func TestRunPanicIsAFailure(t *testing.T) {
	lt := &loadedTrace{file: "x.xml", log: &xmlLog{host: "localhost", headers: 1, items: []logItem{
		{line: 1, col: 1, kind: itemHeader, header: &fsm.StreamHeader{Space: fsm.NSStreams, Local: "stream", Default: fsm.NSClient, To: "localhost", Version: "1.0"}},
		{line: 2, col: 1, kind: itemElement}, // no element: the machine cannot classify it
	}}}
	tr := lt.run()
	if tr.Result.Passed || !strings.HasPrefix(tr.Result.Summary, "2 steps, then the server panicked: ") || tr.Kind != kindXMLLog {
		t.Errorf("result %+v", tr.Result)
	}
}
