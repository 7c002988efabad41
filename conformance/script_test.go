package conformance

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// prosodyDir holds Prosody's scansion scripts (shared data, read in place).
const prosodyDir = "../../shared/conformance/prosody"

// prosodyScripts returns the paths of Prosody's scripts, or skips t.
func prosodyScripts(t *testing.T) []string {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(prosodyDir, "*.scs"))
	if len(paths) == 0 {
		t.Skipf("no Prosody scansion scripts at %s (the shared conformance data is not checked out beside the repository)", prosodyDir)
	}
	return paths
}

func parseFile(t *testing.T, path string) *Script {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(filepath.Base(path), src)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseProsodyScripts(t *testing.T) {
	for _, path := range prosodyScripts(t) {
		s := parseFile(t, path)
		if s.Title == "" || len(s.Clients) == 0 || len(s.Actions) == 0 {
			t.Errorf("%s: title %q, %d clients, %d actions", s.Name, s.Title, len(s.Clients), len(s.Actions))
		}
		for _, a := range s.Actions {
			if (a.Verb == Sends || a.Verb == Receives) && (a.XML == "" || a.BodyLine != a.Line+1) {
				t.Errorf("%s:%d: %s %s: body %q at line %d", s.Name, a.Line, a.Client, a.Verb, a.XML, a.BodyLine)
			}
		}
	}
}

func TestParseProsodyDetails(t *testing.T) {
	prosodyScripts(t)
	count := func(s *Script, v Verb) int {
		n := 0
		for _, a := range s.Actions {
			if a.Verb == v {
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		file                              string
		title                             string
		clients, actions, sends, receives int
	}{
		{"basic.scs", "Basic login and initial presence", 1, 4, 1, 1},
		{"basic_message.scs", "Basic message routing and delivery", 3, 31, 11, 14},
		{"issue1121.scs", "When removing roster contact, Prosody should send directed \"unavailable\" presence but sends global unavailable presence", 2, 21, 7, 11},
		{"presence_preapproval.scs", "server supports contact subscription pre-approval (RFC 6121 3.4)", 2, 17, 6, 6},
	} {
		s := parseFile(t, filepath.Join(prosodyDir, tc.file))
		if s.Title != tc.title || len(s.Clients) != tc.clients || len(s.Actions) != tc.actions ||
			count(s, Sends) != tc.sends || count(s, Receives) != tc.receives {
			t.Errorf("%s: title %q, %d clients, %d actions, %d sends, %d receives; want %q, %d, %d, %d, %d",
				tc.file, s.Title, len(s.Clients), len(s.Actions), count(s, Sends), count(s, Receives),
				tc.title, tc.clients, tc.actions, tc.sends, tc.receives)
		}
	}

	// Names with "'s": the longest declared name wins, in verb lines and
	// variables.
	s := parseFile(t, filepath.Join(prosodyDir, "basic_message.scs"))
	phone, ok := s.Client("Juliet's phone")
	if !ok || phone.JID != "juliet@localhost" || phone.Resource != "mobile" || phone.Password != "password" || phone.Line != 11 {
		t.Errorf("Juliet's phone = %+v", phone)
	}
	var sawPhone bool
	for _, a := range s.Actions {
		if a.Line == 54 {
			sawPhone = true
			if a.Client != "Juliet's phone" || a.Verb != Receives || !strings.Contains(a.XML, "${Juliet's phone's full JID}") {
				t.Errorf("line 54: %+v", a)
			}
		}
	}
	if !sawPhone {
		t.Error("no action at line 54")
	}

	// Verbs without a colon (issue1121.scs), a JID with a resource
	// (keep_full_sub_req.scs).
	s = parseFile(t, filepath.Join(prosodyDir, "issue1121.scs"))
	if a := s.Actions[1]; a.Line != 15 || a.Client != "Romeo" || a.Verb != Sends || a.XML != "<presence/>" {
		t.Errorf("issue1121.scs second action: %+v", a)
	}
	s = parseFile(t, filepath.Join(prosodyDir, "keep_full_sub_req.scs"))
	if c, _ := s.Client("Bob's phone"); c.JID != "pars-b@localhost/phone" {
		t.Errorf("Bob's phone = %+v", c)
	}
	if a := s.Actions[1]; a.XML != "<presence to=\"${Bob's JID}\" type=\"subscribe\">\n\t<preauth xmlns=\"urn:xmpp:pars:0\" token=\"1tMFqYDdKhfe2pwp\" />\n</presence>" {
		t.Errorf("dedented body: %q", a.XML)
	}
}

func TestParse(t *testing.T) {
	src := "# Title here\n## slow\n# a comment\n\n[Client] Juliet\n\tjid: juliet@localhost\n\tpassword: pw\n" +
		"[Client] Juliet's phone\n  jid: juliet@localhost\n  resource: mobile\n  connect_host: 127.0.0.1\n  connect_port: 5223\n" +
		"---\n\nJuliet's phone connects\nJuliet connects\n# comment\nJuliet receives: nothing\n" +
		"Juliet sends\n  <message to=\"${Juliet's phone's full JID}\">\n    <body>x</body>\n  </message>\n" +
		"Juliet's phone receives:\n\t<message/>\nJuliet disconnects\n"
	s, err := Parse("t.scs", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if s.Title != "Title here" || len(s.Tags) != 1 || s.Tags[0] != "slow" {
		t.Errorf("title %q, tags %q", s.Title, s.Tags)
	}
	want := []Action{
		{Line: 15, Client: "Juliet's phone", Verb: Connects},
		{Line: 16, Client: "Juliet", Verb: Connects},
		{Line: 18, Client: "Juliet", Verb: ReceivesNothing},
		{Line: 19, Client: "Juliet", Verb: Sends, XML: "<message to=\"${Juliet's phone's full JID}\">\n  <body>x</body>\n</message>", BodyLine: 20},
		{Line: 23, Client: "Juliet's phone", Verb: Receives, XML: "<message/>", BodyLine: 24},
		{Line: 25, Client: "Juliet", Verb: Disconnects},
	}
	if len(s.Actions) != len(want) {
		t.Fatalf("actions %+v", s.Actions)
	}
	for i := range want {
		if s.Actions[i] != want[i] {
			t.Errorf("action %d = %+v, want %+v", i, s.Actions[i], want[i])
		}
	}
	phone := s.Clients[1]
	if phone != (Client{Name: "Juliet's phone", JID: "juliet@localhost", Resource: "mobile", ConnectHost: "127.0.0.1", ConnectPort: "5223", Line: 8}) {
		t.Errorf("client %+v", phone)
	}
}

func TestParseErrors(t *testing.T) {
	const head = "[Client] Romeo\n\tjid: romeo@localhost\n\tpassword: pw\n-----\n" // lines 1-4
	checkParseErrors(t, []parseErrorCase{
		{"missing separator", "[Client] Romeo\n\tjid: romeo@localhost\nRomeo connects\n", "3:1: unexpected line before the separator"},
		{"missing separator at end", "[Client] Romeo\n\tjid: romeo@localhost\n", "3:1: missing separator"},
		{"property outside a client", "# t\n\tjid: romeo@localhost\n---\n", "2:2: property \"jid: romeo@localhost\" outside a [Client] declaration"},
		{"unknown property", "[Client] Romeo\n  colour: red\n---\n", "2:3: unknown client property \"colour\""},
		{"unknown class", "[Component] pubsub\n---\n", "1:2: unsupported object class \"Component\""},
		{"no jid", "[Client] Romeo\n\tpassword: pw\n---\n", "1:1: client \"Romeo\" has no jid"},
		{"unknown client", head + "Romeo connects\nMercutio connects\n", "6:1: unknown client name at the start of \"Mercutio\""},
		{"unknown verb", head + "Romeo  dances\n", "5:8: unknown verb \"dances\""},
		{"text after verb", head + "Romeo sends: <presence/>\n", "5:14: unexpected \"<presence/>\" after \"sends\""},
		{"missing body", head + "Romeo connects\nRomeo sends:\n\nRomeo disconnects\n", "6:13: \"Romeo\" sends needs an XML body"},
		{"body on connects", head + "Romeo connects\n\t<presence/>\n", "6:1: \"Romeo\" connects takes no body"},
		{"stray indented line", head + "\n\t<presence/>\n", "6:1: indented line outside an action body"},
		{"bad XML", head + "Romeo sends:\n\t<presence>\n\t\t<status>hi</stat>\n\t</presence>\n", "7:13: bad XML in body: element <status> closed by </stat>"},
		{"unclosed XML", head + "Romeo sends:\n\t<presence>\n", "6:12: bad XML in body: unexpected EOF"},
		{"two elements", head + "Romeo sends:\n\t<presence/>\n\t<presence/>\n", "7:2: body holds more than one element"},
		{"text outside", head + "Romeo sends:\n\t<presence/> hello\n", "6:14: text outside the body's element"},
		{"unknown variable client", head + "Romeo sends:\n\t<message to=\"${Tybalt's JID}\"/>\n", "6:15: variable ${Tybalt's JID} names unknown client \"Tybalt\""},
		{"unknown variable", head + "Romeo sends:\n\t<message to=\"${Romeo's nickname}\"/>\n", "6:15: unknown variable ${Romeo's nickname}"},
	})
}

// parseErrorCase is a script that Parse must refuse: want is the start of
// the error after "bad.scs:" (line:column: message).
type parseErrorCase struct{ name, src, want string }

// checkParseErrors parses each case's src as bad.scs and checks that Parse
// refuses it with a *ParseError whose text starts with its want.
func checkParseErrors(t *testing.T, cases []parseErrorCase) {
	t.Helper()
	for _, tc := range cases {
		_, err := Parse("bad.scs", []byte(tc.src))
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%s: error %v, want a *ParseError", tc.name, err)
			continue
		}
		if want := "bad.scs:" + tc.want; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s:\n got %v\nwant %s…", tc.name, err, want)
		}
	}
}

func TestSplitVariable(t *testing.T) {
	for _, tc := range []struct{ in, name, prop string }{
		{"Romeo's JID", "Romeo", "JID"},
		{"Romeo's full JID", "Romeo", "full JID"},
		{"Juliet's phone's full JID", "Juliet's phone", "full JID"},
		{"Juliet's phone's JID", "Juliet's phone", "JID"},
		{"Romeo's nickname", "", ""},
		{"Romeo", "", ""},
	} {
		name, prop, ok := splitVariable(tc.in)
		if name != tc.name || prop != tc.prop || ok != (tc.name != "") {
			t.Errorf("splitVariable(%q) = %q, %q, %v", tc.in, name, prop, ok)
		}
	}
}
