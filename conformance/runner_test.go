package conformance

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// knownDifferences are the Prosody core scripts that fail in process for a
// genuine difference between our server and Prosody, with their first
// failure. The test fails when one of them starts passing (remove it then)
// or fails elsewhere.
var knownDifferences = map[string]struct {
	line int
	kind FailureKind
	why  string
}{}

// TestProsodyExtrasArePolicies shows that issue1121.scs passes only with
// the two Prosody extras that RFC 6121 does not ask for
// (fsm.Policy.SubscribeAck, fsm.Policy.ProbeOnApproval): under the RFC's
// default it fails where Prosody acknowledges the subscription request.
func TestProsodyExtrasArePolicies(t *testing.T) {
	prosodyScripts(t)
	s := parseFile(t, filepath.Join(prosodyDir, "issue1121.scs"))
	p := ProsodyTestPolicy()
	p.SubscribeAck, p.ProbeOnApproval = false, false
	run := func() Result {
		target, err := NewInProcess(s, p)
		if err != nil {
			t.Fatal(err)
		}
		return Run(s, target)
	}
	res := run()
	if res.Passed() || res.Failures[0].Line != 32 || res.Failures[0].Kind != FailNothingReceived {
		t.Errorf("issue1121.scs under the RFC's defaults: want nothing received at line 32, got:\n%s", res)
	}
	p.SubscribeAck = true
	res = run()
	if res.Passed() || res.Failures[0].Line != 59 {
		t.Errorf("issue1121.scs without ProbeOnApproval: want a failure at line 59, got:\n%s", res)
	}
}

// TestProsodyCore runs Prosody's core c2s scripts in process.
func TestProsodyCore(t *testing.T) {
	prosodyScripts(t)
	for _, name := range []string{"basic", "basic_message", "basic_roster", "presence_preapproval", "keep_full_sub_req", "issue1121"} {
		t.Run(name, func(t *testing.T) {
			s := parseFile(t, filepath.Join(prosodyDir, name+".scs"))
			res, target := RunInProcess(s)
			known, isKnown := knownDifferences[s.Name]
			switch {
			case res.Passed() && isKnown:
				t.Errorf("%s passes now: remove it from knownDifferences\n%s", s.Name, res)
			case res.Passed():
				t.Log(res)
			case !isKnown:
				t.Errorf("%s\ntrace:\n%s", res, target.Trace())
			case res.Failures[0].Line != known.line || res.Failures[0].Kind != known.kind:
				t.Errorf("%s fails at line %d (%s), known difference at line %d (%s):\n%s",
					s.Name, res.Failures[0].Line, res.Failures[0].Kind, known.line, known.kind, res)
			default:
				t.Logf("known difference: %s\n%s", known.why, res)
			}
		})
	}
}

// TestFailScripts proves the runner can fail: each script in testdata/fail
// holds one deliberately wrong expectation and must fail exactly there.
func TestFailScripts(t *testing.T) {
	want := map[string]struct {
		line     int
		kind     FailureKind
		mismatch MismatchKind
	}{
		"wrong_attribute.scs":                 {15, FailMismatch, MismatchAttrValue},
		"missing_child.scs":                   {24, FailMismatch, MismatchMissingChild},
		"strict_order.scs":                    {39, FailMismatch, MismatchOrder},
		"extra_attribute_strict.scs":          {31, FailMismatch, MismatchExtraAttr},
		"never_arrives.scs":                   {29, FailNothingReceived, 0},
		"receives_nothing.scs":                {15, FailUnexpectedStanza, 0},
		"unexpected_stream_error.scs":         {20, FailUnexpectedStreamError, 0},
		"unexpected_stream_error_receive.scs": {24, FailUnexpectedStreamError, 0},
	}
	paths, _ := filepath.Glob("testdata/fail/*.scs")
	if len(paths) != len(want) {
		t.Errorf("testdata/fail has %d scripts, the table %d", len(paths), len(want))
	}
	for _, path := range paths {
		s := parseFile(t, path)
		w, ok := want[s.Name]
		if !ok {
			t.Errorf("%s: no expected failure in the table", s.Name)
			continue
		}
		res, _ := RunInProcess(s)
		if len(res.Failures) != 1 {
			t.Errorf("%s: %d failures, want 1:\n%s", s.Name, len(res.Failures), res)
			continue
		}
		f := res.Failures[0]
		if f.Line != w.line || f.Kind != w.kind {
			t.Errorf("%s: failed at line %d (%s), want line %d (%s):\n%s", s.Name, f.Line, f.Kind, w.line, w.kind, res)
		}
		if w.mismatch != 0 {
			var me *MismatchError
			if !errors.As(f.Err, &me) || me.Kind != w.mismatch {
				t.Errorf("%s: error %v, want a %s mismatch", s.Name, f.Err, w.mismatch)
			}
			if f.Diff == "" {
				t.Errorf("%s: no diff", s.Name)
			}
		}
		t.Logf("%s", res)
	}
}

// TestPassScripts runs the scripts that must pass: our stream-error
// extension and the strictness override.
func TestPassScripts(t *testing.T) {
	paths, _ := filepath.Glob("testdata/pass/*.scs")
	if len(paths) == 0 {
		t.Fatal("no testdata/pass scripts")
	}
	for _, path := range paths {
		s := parseFile(t, path)
		res, target := RunInProcess(s)
		if !res.Passed() {
			t.Errorf("%s\ntrace:\n%s", res, target.Trace())
		}
	}
}

func TestResultString(t *testing.T) {
	s := parseFile(t, "testdata/fail/wrong_attribute.scs")
	res, _ := RunInProcess(s)
	// go-cmp randomly writes some spaces as U+00A0 so that nobody relies
	// on its exact output: compare with plain spaces.
	out := strings.ReplaceAll(res.String(), "\u00a0", " ")
	for _, want := range []string{
		"FAIL wrong_attribute.scs:15: Romeo receives: mismatch",
		"/presence (non-strict): attribute value: attribute from: want \"romeo@localhost\", got \"romeo@localhost/",
		"expected:\n    <presence from='romeo@localhost'/>",
		"received:\n    <presence from='romeo@localhost/",
		"diff (-expected +received):",
		"- \t\"<presence from='romeo@localhost'/>\",",
		"+ ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Result.String() lacks %q:\n%s", want, out)
		}
	}
}

// fake is a Target whose server is a script of its own: a stanza a client
// sends holds <deliver to='Name'>X</deliver> children, and X is queued for
// the connection of client Name. It checks the runner alone.
type fake struct{ conns map[string]*fakeConn }

type fakeConn struct {
	f      *fake
	name   string
	queue  []*etree.Element
	closed bool
}

func (f *fake) Connect(c Client) (Conn, error) {
	conn := &fakeConn{f: f, name: c.Name}
	f.conns[c.Name] = conn
	return conn, nil
}

func (c *fakeConn) FullJID() string { return strings.ToLower(c.name) + "@localhost/fake" }
func (c *fakeConn) Send(el *etree.Element) error {
	if c.closed {
		return ErrClosed
	}
	for _, d := range el.SelectElements("deliver") {
		to := c.f.conns[d.SelectAttrValue("to", "")]
		for _, x := range d.ChildElements() {
			to.queue = append(to.queue, x.Copy())
			if isStreamError(x) {
				to.closed = true
			}
		}
	}
	return nil
}
func (c *fakeConn) Receive() (*etree.Element, error) {
	if len(c.queue) == 0 {
		if c.closed {
			return nil, ErrClosed
		}
		return nil, ErrNoStanza
	}
	el := c.queue[0]
	c.queue = c.queue[1:]
	return el, nil
}
func (c *fakeConn) Pending() int { return len(c.queue) }
func (c *fakeConn) Close() error { c.closed, c.queue = true, nil; return nil }

func runFake(t *testing.T, body string) Result {
	t.Helper()
	src := "# fake\n[Client] A\n\tjid: a@localhost\n[Client] B\n\tjid: b@localhost\n---\nA connects\nB connects\n" + body
	s, err := Parse("fake.scs", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return Run(s, &fake{conns: map[string]*fakeConn{}})
}

// TestRunnerWindows checks the handling of unawaited stanzas.
func TestRunnerWindows(t *testing.T) {
	// Line numbers: actions start at line 9.
	for _, tc := range []struct {
		name, body string
		line       int // 0: passes
		kind       FailureKind
		dropped    int
	}{
		{"stanzas of one burst, awaited in order", `A sends:
	<x><deliver to="A"><m n="1"/><m n="2"/></deliver></x>
A receives:
	<m n="1"/>
A receives:
	<m n="2"/>
`, 0, 0, 0},
		{"two clients in one window, any client order", `A sends:
	<x><deliver to="B"><m n="1"/></deliver><deliver to="A"><m n="2"/></deliver></x>
A receives:
	<m n="2"/>
B receives:
	<m n="1"/>
`, 0, 0, 0},
		{"the rest of a burst is dropped when the window ends (basic_message.scs 99-137)", `A sends:
	<x><deliver to="A"><m n="1"/><m n="2"/></deliver><deliver to="B"><m n="3"/></deliver></x>
A receives:
	<m n="1"/>
B receives:
	<m n="3"/>
B sends:
	<x><deliver to="A"><m n="4"/></deliver></x>
A receives:
	<m n="4"/>
`, 0, 0, 1},
		{"receives compares the next stanza, it does not skip", `A sends:
	<x><deliver to="A"><m n="1"/><m n="2"/></deliver></x>
A receives:
	<m n="2"/>
`, 11, FailMismatch, 0},
		{"several sends before a window: all kept", `A sends:
	<x><deliver to="B"><m n="1"/></deliver></x>
A sends:
	<x><deliver to="B"><m n="2"/></deliver></x>
B receives:
	<m n="1"/>
B receives:
	<m n="2"/>
B receives: nothing
`, 0, 0, 0},
		{"receives: nothing after the awaited ones", `A sends:
	<x><deliver to="B"><m n="1"/><m n="2"/></deliver></x>
B receives:
	<m n="1"/>
B receives: nothing
`, 13, FailUnexpectedStanza, 0},
		{"an unawaited stream error fails when the window ends", `A sends:
	<x><deliver to="B"><m n="1"/><stream:error><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error></deliver></x>
B receives:
	<m n="1"/>
A sends:
	<x/>
`, 13, FailUnexpectedStreamError, 0},
		{"an awaited stream error disconnects the client", `A sends:
	<x><deliver to="B"><stream:error><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error></deliver></x>
B receives:
	<stream:error><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>
B disconnects
B connects
B receives: nothing
`, 0, 0, 0},
		{"an unawaited stream error at the end of the script", `A sends:
	<x><deliver to="B"><stream:error><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error></deliver></x>
`, 9, FailUnexpectedStreamError, 0},
		{"full JID variable", `A sends:
	<x><deliver to="B"><m from="${A's full JID}" to="${B's JID}"/></deliver></x>
B receives:
	<m from="a@localhost/fake" to="b@localhost"/>
`, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runFake(t, tc.body)
			switch {
			case tc.line == 0 && !res.Passed():
				t.Errorf("want a pass:\n%s", res)
			case tc.line != 0 && (res.Passed() || res.Failures[0].Line != tc.line || res.Failures[0].Kind != tc.kind):
				t.Errorf("want a failure at line %d (%s):\n%s", tc.line, tc.kind, res)
			case len(res.Dropped) != tc.dropped:
				t.Errorf("dropped %d stanzas, want %d:\n%+v", len(res.Dropped), tc.dropped, res.Dropped)
			}
		})
	}
}

func ExampleRun() {
	src := []byte(`# Reflection
[Client] Romeo
	jid: romeo@localhost
	password: pw
	resource: balcony
---
Romeo connects
Romeo sends:
	<presence/>
Romeo receives:
	<presence from="romeo@localhost/garden"/>
`)
	s, err := Parse("example.scs", src)
	if err != nil {
		panic(err)
	}
	res, _ := RunInProcess(s)
	for _, f := range res.Failures {
		fmt.Printf("%s:%d: %s: %s\n%v\n", s.Name, f.Line, f.Client, f.Kind, f.Err)
	}
	// Output:
	// example.scs:10: Romeo: mismatch
	// /presence (non-strict): attribute value: attribute from: want "romeo@localhost/garden", got "romeo@localhost/balcony"
}
