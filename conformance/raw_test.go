package conformance

import (
	"errors"
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
)

// Tests of our raw-stream extension (README.md): the body forms, the
// parser, the policy tags and the runner's failures.

const testHeader = `<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" to="localhost" version="1.0">`

func TestClassifyRaw(t *testing.T) {
	for _, tc := range []struct {
		text string
		want RawKind
	}{
		{testHeader, RawHeader},
		{"  " + testHeader + "\n", RawHeader},
		{"<?xml version='1.0'?>" + testHeader, RawHeader},
		{"<stream:stream to='localhost'>", RawHeader}, // an undeclared prefix is still a header
		{"</stream:stream>", RawClose},
		{"\t</stream:stream>\n", RawClose},
		{"<presence/>", RawElement},
		{"<message>\n\t<body>hi</body>\n</message>", RawElement},
		{"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>", RawElement},
		{"<message><body>hi</message>", RawBytes},
		{"<message><body>hi</body></message><presence/>", RawBytes},
		{"<a></b>", RawBytes},
		{"<!-- hello -->", RawBytes},
		{"<presence><!-- hello --></presence>", RawBytes},
		{"<?php echo 1; ?>", RawBytes},
		{"hello", RawBytes},
		{testHeader + "<presence/>", RawBytes},
		{"<stream:stream to='localhost'", RawBytes},
	} {
		if got := ClassifyRaw(tc.text); got != tc.want {
			t.Errorf("ClassifyRaw(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
	for text, want := range map[string]string{
		"<message><body>hi</message>":     "not-well-formed",
		"hello":                           "not-well-formed",
		"<!-- hello -->":                  "restricted-xml",
		"<presence><!-- x --></presence>": "restricted-xml",
		"<?php echo 1; ?>":                "restricted-xml",
		"<!DOCTYPE x>":                    "restricted-xml",
	} {
		if got := rawXMLError(text); got != want {
			t.Errorf("rawXMLError(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestHeaderEvent(t *testing.T) {
	ev, err := headerEvent(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' from='romeo@localhost' version='1.0' xml:lang='fr'>`)
	if err != nil {
		t.Fatal(err)
	}
	want := fsm.StreamHeader{Space: fsm.NSStreams, Local: "stream", Default: fsm.NSClient,
		To: "localhost", From: "romeo@localhost", Version: "1.0", Lang: "fr"}
	if ev.Kind != fsm.EvStreamOpen || ev.Header == nil || *ev.Header != want {
		t.Errorf("headerEvent = %+v, header %+v", ev, ev.Header)
	}
	// No prefix: the default namespace is the element's.
	ev, _ = headerEvent(`<stream xmlns='jabber:client' to='localhost'>`)
	if ev.Header == nil || ev.Header.Space != fsm.NSClient || ev.Header.Local != "stream" {
		t.Errorf("unprefixed header: %+v", ev.Header)
	}
	// An undeclared prefix is the framer's bad-namespace-prefix.
	ev, _ = headerEvent(`<stream:stream xmlns='jabber:client' to='localhost' version='1.0'>`)
	if ev.Kind != fsm.EvXMLError || ev.Condition != "bad-namespace-prefix" {
		t.Errorf("undeclared prefix: %+v", ev)
	}
}

func TestParseExtension(t *testing.T) {
	src := "# S-1: raw\n## policy: rfc tls\n[Client] Romeo\n\tjid: romeo@localhost\n\tpassword: pw\n\tlogin: no\n" +
		"[Client] Juliet\n\tjid: juliet@localhost\n\tlogin: yes\n---\n" + // lines 1-10
		"Romeo connects\n" + // 11
		"Romeo sends raw:\n\t" + testHeader + "\n" + // 12-13
		"Romeo receives:\n\t<stream:stream from='localhost' id='{scansion:any}'>\n" + // 14-15
		"Romeo sends raw\n\t<message><body>x</message>\n" + // 16-17
		"Romeo receives:\n\t</stream:stream>\n" + // 18-19
		"Romeo times out: negotiation\n" + // 20
		"Juliet times out:idle\n" + // 21
		"Server shuts down\n" // 22
	s, err := Parse("x.scs", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Clients[0]; !c.NoLogin {
		t.Errorf("Romeo: %+v, want NoLogin", c)
	}
	if c := s.Clients[1]; c.NoLogin {
		t.Errorf("Juliet: %+v, want login", c)
	}
	if len(s.Tags) != 1 || s.Tags[0] != "policy: rfc tls" {
		t.Errorf("tags %q", s.Tags)
	}
	want := []Action{
		{Line: 11, Client: "Romeo", Verb: Connects},
		{Line: 12, Client: "Romeo", Verb: SendsRaw, XML: testHeader, BodyLine: 13, Form: RawHeader},
		{Line: 14, Client: "Romeo", Verb: Receives, XML: "<stream:stream from='localhost' id='{scansion:any}'>", BodyLine: 15, Form: RawHeader},
		{Line: 16, Client: "Romeo", Verb: SendsRaw, XML: "<message><body>x</message>", BodyLine: 17, Form: RawBytes},
		{Line: 18, Client: "Romeo", Verb: Receives, XML: "</stream:stream>", BodyLine: 19, Form: RawClose},
		{Line: 20, Client: "Romeo", Verb: TimesOut, Timer: TimerNegotiation},
		{Line: 21, Client: "Juliet", Verb: TimesOut, Timer: TimerIdle},
		{Line: 22, Client: ServerName, Verb: ShutsDown},
	}
	if len(s.Actions) != len(want) {
		t.Fatalf("actions %+v", s.Actions)
	}
	for i := range want {
		if s.Actions[i] != want[i] {
			t.Errorf("action %d = %+v, want %+v", i, s.Actions[i], want[i])
		}
	}

	const head = "[Client] Romeo\n\tjid: romeo@localhost\n\tpassword: pw\n-----\n" // lines 1-4
	checkParseErrors(t, []parseErrorCase{
		{"bad login", "[Client] Romeo\n\tjid: romeo@localhost\n\tlogin: maybe\n---\n", "3:2: property login: want \"yes\" or \"no\""},
		{"login twice", "[Client] Romeo\n\tjid: romeo@localhost\n\tlogin: no\n\tlogin: no\n---\n", "4:2: property \"login\" set twice"},
		{"bad timer", head + "Romeo times out: lunch\n", "5:7: \"Romeo\" times out: want"},
		{"timer missing", head + "Romeo times out\n", "5:7: \"Romeo\" times out: want"},
		{"raw without body", head + "Romeo sends raw:\n", "5:17: \"Romeo\" sends raw needs an XML body"},
		{"receives bytes", head + "Romeo receives:\n\t<a><b></a>\n", "6:8: bad XML in body"},
		{"shut down takes no body", head + "Server shuts down\n\t<x/>\n", "6:1: \"Server\" shuts down takes no body"},
		{"raw variable", head + "Romeo sends raw:\n\t<message to=\"${Tybalt's JID}\"/>\n", "6:15: variable ${Tybalt's JID} names unknown client"},
	})
}

func TestPolicyFor(t *testing.T) {
	parse := func(tags string) *Script {
		s, err := Parse("p.scs", []byte("# S-1: policy\n"+tags+"[Client] Romeo\n\tjid: romeo@localhost\n---\n"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	p, err := PolicyFor(parse(""), nil)
	if err != nil || p.TLS || len(p.Mechanisms) != 1 || p.Mechanisms[0] != (fsm.Mechanism{Name: "PLAIN"}) {
		t.Errorf("no tag: %+v, %v; want LoopbackPolicy", p, err)
	}
	p, err = PolicyFor(parse("## slow\n## policy: rfc require-tls\n## policy: unauth-stanza-error max-sasl-failures=5\n"), nil)
	switch {
	case err != nil:
		t.Fatal(err)
	case !p.TLS || !p.RequireTLS || p.UnauthStanza != fsm.UnauthStanzaError || p.MaxSASLFailures != 5:
		t.Errorf("policy %+v", p)
	case len(p.Mechanisms) != 3 || !p.Mechanisms[2].NeedsTLS || len(p.Hosts) != 1 || p.Hosts[0] != "localhost":
		t.Errorf("rfc base: %+v", p)
	}
	p, _ = PolicyFor(parse("## policy: plain-needs-tls\n"), nil)
	if !p.Mechanisms[0].NeedsTLS || LoopbackPolicy().Mechanisms[0].NeedsTLS {
		t.Errorf("plain-needs-tls: %+v (and the base must not change)", p.Mechanisms)
	}
	p, _ = PolicyFor(parse("## policy: prosody\n"), nil)
	if !p.SubscribeAck || !p.ProbeOnApproval {
		t.Errorf("prosody: %+v", p)
	}
	for _, bad := range []string{"## policy: colourful\n", "## policy: max-sasl-failures=0\n", "## policy: max-sasl-failures=x\n",
		"## policy: max-sasl-failures=256\n", "## policy: max-resources=0\n", "## policy: colour=1\n"} {
		if _, err := PolicyFor(parse(bad), nil); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	res, _ := RunScript(parse("## policy: colourful\n"))
	if res.Passed() || res.Failures[0].Kind != FailScript {
		t.Errorf("RunScript with a bad tag: %s", res)
	}
	res, _ = RunScript(parse("## fault: disk-full\n"))
	if res.Passed() || !errors.Is(res.Failures[0].Err, ErrUnsupported) {
		t.Errorf("RunScript with an unknown fault tag: %s", res)
	}
}

// runRaw runs an in-process script with a raw client Romeo and a logged-in
// client Juliet; the actions start at line 10.
func runRaw(t *testing.T, body string) Result {
	t.Helper()
	src := "# S-1: raw\n[Client] Romeo\n\tjid: romeo@localhost\n\tpassword: pw\n\tlogin: no\n" +
		"[Client] Juliet\n\tjid: juliet@localhost\n\tpassword: pw\n---\n" + body
	s, err := Parse("raw.scs", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	res, _ := RunScript(s)
	return res
}

func TestRunRaw(t *testing.T) {
	const (
		open   = "Romeo connects\nRomeo sends raw:\n\t" + testHeader + "\n" // lines 10-12
		header = "Romeo receives:\n\t<stream:stream from='localhost' id='{scansion:any}' version='1.0' xml:lang='en'>\n"
	)
	for _, tc := range []struct {
		name, body string
		line       int // 0: passes
		kind       FailureKind
	}{
		{"the server's header and features", open + header + // 13-14
			"Romeo receives:\n\t<stream:features scansion:strict='false'/>\n", 0, 0},
		{"a header attribute that differs", open + // 13-14
			"Romeo receives:\n\t<stream:stream from='localhost' id='{scansion:any}' version='1.0' xml:lang='fr'>\n", 13, FailMismatch},
		{"a header is strict", open + // 13-14
			"Romeo receives:\n\t<stream:stream from='localhost' id='{scansion:any}' version='1.0'>\n", 13, FailMismatch},
		{"the end of an open stream", open + header + // 13-14
			"Romeo receives:\n\t<stream:features scansion:strict='false'/>\nRomeo receives:\n\t</stream:stream>\n", 17, FailNothingReceived},
		{"the end, while elements are queued", open + header + // 13-14
			"Romeo receives:\n\t</stream:stream>\n", 15, FailMismatch},
		{"the end after the client's", open + header + // 13-14
			"Romeo sends raw:\n\t</stream:stream>\nRomeo receives:\n\t</stream:stream>\nRomeo receives: nothing\n", 0, 0},
		{"the end after an awaited stream error", open + header + // 13-14
			"Romeo sends raw:\n\t<nonsense/>\nRomeo receives:\n\t<stream:error scansion:strict='false'/>\nRomeo receives:\n\t</stream:stream>\n", 0, 0},
		{"the end of a client that never connected", "Romeo receives:\n\t</stream:stream>\n", 10, FailNothingReceived},
		{"an unawaited stream error after bytes", open + "Romeo sends raw:\n\t<a><b></a>\nRomeo disconnects\n", 15, FailUnexpectedStreamError},
		{"the full JID before a bind", open + "Romeo sends raw:\n\t<message to=\"${Romeo's full JID}\"/>\n", 13, FailScript},
		{"sends raw while not connected", "Romeo sends raw:\n\t<presence/>\n", 10, FailSend},
		{"times out while not connected", "Romeo times out: idle\n", 10, FailScript},
		{"the negotiation timer of a bound client", "Juliet connects\nJuliet times out: negotiation\nJuliet receives: nothing\n", 0, 0},
		{"shutdown", "Juliet connects\nServer shuts down\nJuliet receives:\n\t<stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>\n", 0, 0},
		{"an unawaited shutdown", "Juliet connects\nServer shuts down\n", 11, FailUnexpectedStreamError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runRaw(t, tc.body)
			switch {
			case tc.line == 0 && !res.Passed():
				t.Errorf("want a pass:\n%s", res)
			case tc.line != 0 && (res.Passed() || res.Failures[0].Line != tc.line || res.Failures[0].Kind != tc.kind):
				t.Errorf("want a failure at line %d (%s):\n%s", tc.line, tc.kind, res)
			}
		})
	}
}

// TestRunExtensionUnsupported: a target without the extension's
// interfaces fails the script where it is used.
func TestRunExtensionUnsupported(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"sends raw", "A sends raw:\n\t<presence/>\n"},
		{"times out", "A times out: idle\n"},
		{"shuts down", "Server shuts down\n"},
	} {
		res := runFake(t, tc.body)
		if res.Passed() || res.Failures[0].Line != 9 || res.Failures[0].Kind != FailScript {
			t.Errorf("%s: want a script failure at line 9:\n%s", tc.name, res)
		}
	}
}
