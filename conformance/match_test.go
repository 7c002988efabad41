package conformance

import (
	"errors"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

func mustParse(t *testing.T, text string) *etree.Element {
	t.Helper()
	el, err := ParseStanza(text)
	if err != nil {
		t.Fatalf("ParseStanza(%q): %v", text, err)
	}
	return el
}

// TestMatch has, for each rule of Match, cases that match and cases that
// must not. kind 0 means the received element matches.
func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		rule, want, got string
		kind            MismatchKind
		path            string // for failures: the reported path
	}{
		// 1. Names and namespaces.
		{"same name", `<presence/>`, `<presence/>`, 0, ""},
		{"other name", `<presence/>`, `<message/>`, MismatchName, "/presence"},
		{"jabber:client declared or not", `<presence/>`, `<presence xmlns='jabber:client'/>`, 0, ""},
		{"jabber:client declared in the expectation", `<presence xmlns='jabber:client'/>`, `<presence/>`, 0, ""},
		{"other namespace", `<iq><query xmlns='jabber:iq:roster'/></iq>`, `<iq><query xmlns='jabber:iq:private'/></iq>`, MismatchMissingChild, "/iq"},
		{"a prefixed namespace is the same namespace", `<iq><query xmlns='jabber:iq:roster'/></iq>`, `<iq xmlns:r='jabber:iq:roster'><r:query/></iq>`, 0, ""},
		{"xmlns is no attribute, even strict", `<query xmlns='jabber:iq:roster' scansion:strict='true'/>`, `<r:query xmlns:r='jabber:iq:roster'/>`, 0, ""},
		{"stream: prefix undeclared on both sides", `<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`,
			`<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`, 0, ""},
		{"stream: prefix declared on the received side", `<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`,
			`<s:error xmlns:s='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></s:error>`, 0, ""},
		{"stream error is not a stanza", `<presence/>`, `<stream:error/>`, MismatchName, "/presence"},

		// 2. Mode: jabber:client non-strict, namespaced strict, override.
		{"jabber:client: extra attribute ignored", `<presence/>`, `<presence from='a@localhost/r' xml:lang='en'/>`, 0, ""},
		{"namespaced: extra attribute fails", `<iq><query xmlns='jabber:iq:roster'/></iq>`, `<iq><query xmlns='jabber:iq:roster' ver='1'/></iq>`, MismatchExtraAttr, "/iq/{jabber:iq:roster}query"},
		{"children of a namespaced element are strict", `<query xmlns='jabber:iq:roster'><item jid='a@b'/></query>`,
			`<query xmlns='jabber:iq:roster'><item jid='a@b' subscription='none'/></query>`, MismatchExtraAttr, "/{jabber:iq:roster}query/{jabber:iq:roster}item"},
		{"un-namespaced children of a stanza are non-strict", `<message><error type='cancel'/></message>`,
			`<message><error type='cancel' by='localhost'/></message>`, 0, ""},
		{"scansion:strict='false' on a namespaced element", `<query xmlns='jabber:iq:roster' scansion:strict='false'/>`, `<query xmlns='jabber:iq:roster' ver='1'/>`, 0, ""},
		{"scansion:strict='true' on a stanza", `<presence scansion:strict='true'/>`, `<presence from='a@localhost/r'/>`, MismatchExtraAttr, "/presence"},
		{"scansion:strict='true': equal attributes", `<presence scansion:strict='true' from='a@localhost/r'/>`, `<presence from='a@localhost/r'/>`, 0, ""},
		{"the override is for that element only", `<x xmlns='urn:x' scansion:strict='false'><item a='1'/></x>`,
			`<x xmlns='urn:x' extra='1'><item a='1' b='2'/></x>`, MismatchExtraAttr, "/{urn:x}x/{urn:x}item"},
		{"a bad scansion:strict", `<presence scansion:strict='yes'/>`, `<presence/>`, MismatchBadExpectation, "/presence"},

		// 3. Attributes.
		{"attribute subset", `<presence from='a@localhost/r'/>`, `<presence type='unavailable' from='a@localhost/r' to='b@localhost'/>`, 0, ""},
		{"missing attribute", `<presence type='unavailable'/>`, `<presence/>`, MismatchMissingAttr, "/presence"},
		{"attribute value", `<presence from='a@localhost'/>`, `<presence from='a@localhost/r'/>`, MismatchAttrValue, "/presence"},
		{"attribute values are exact", `<presence type='Subscribe'/>`, `<presence type='subscribe'/>`, MismatchAttrValue, "/presence"},
		{"strict: same attribute set in another order", `<item xmlns='jabber:iq:roster' subscription='none' jid='a@b'/>`, `<item xmlns='jabber:iq:roster' jid='a@b' subscription='none'/>`, 0, ""},
		{"strict: missing attribute", `<item xmlns='jabber:iq:roster' subscription='none' jid='a@b'/>`, `<item xmlns='jabber:iq:roster' jid='a@b'/>`, MismatchMissingAttr, "/{jabber:iq:roster}item"},
		{"xml:lang is an attribute", `<presence xml:lang='en'/>`, `<presence xml:lang='fr'/>`, MismatchAttrValue, "/presence"},
		{"a namespaced attribute is named by its namespace", `<m xmlns='urn:m' xmlns:a='urn:a' a:k='1'/>`, `<m xmlns='urn:m' xmlns:b='urn:a' b:k='1'/>`, 0, ""},

		// 4. {scansion:any}.
		{"any value", `<iq id='{scansion:any}'/>`, `<iq id='x1'/>`, 0, ""},
		{"any empty value", `<iq id='{scansion:any}'/>`, `<iq id=''/>`, 0, ""},
		{"any needs the attribute", `<iq id='{scansion:any}'/>`, `<iq/>`, MismatchMissingAttr, "/iq"},
		{"any in strict mode", `<query xmlns='jabber:iq:roster' ver='{scansion:any}'/>`, `<query xmlns='jabber:iq:roster' ver='7'/>`, 0, ""},
		{"any in strict mode needs the attribute", `<query xmlns='jabber:iq:roster' ver='{scansion:any}'/>`, `<query xmlns='jabber:iq:roster'/>`, MismatchMissingAttr, "/{jabber:iq:roster}query"},

		// 5. Children.
		{"children in any order, extras ignored", `<message><body>hi</body><thread>t</thread></message>`,
			`<message><x xmlns='urn:x'/><thread>t</thread><delay xmlns='urn:xmpp:delay' stamp='s'/><body>hi</body></message>`, 0, ""},
		{"missing child", `<message><body>hi</body><subject>s</subject></message>`, `<message><body>hi</body></message>`, MismatchMissingChild, "/message"},
		{"a child's own mismatch is reported", `<message><body>hi</body></message>`, `<message><body>ho</body></message>`, MismatchText, "/message/body"},
		{"distinct children", `<presence><status>a</status><status>a</status></presence>`, `<presence><status>a</status></presence>`, MismatchMissingChild, "/presence"},
		{"distinct children found", `<presence><status/><status>a</status></presence>`, `<presence><status>a</status><status>b</status></presence>`, 0, ""},
		{"non-strict payload in any order (issue978-multi.scs:91)",
			`<x xmlns='urn:x' scansion:strict='false'><item j='2'/><item j='1'/></x>`, `<x xmlns='urn:x'><item j='1'/><item j='2'/></x>`, 0, ""},
		{"strict children in order", `<query xmlns='jabber:iq:roster'><item jid='a'/><item jid='b'/></query>`,
			`<query xmlns='jabber:iq:roster'><item jid='a'/><item jid='b'/></query>`, 0, ""},
		{"strict children in another order", `<query xmlns='jabber:iq:roster'><item jid='b'/><item jid='a'/></query>`,
			`<query xmlns='jabber:iq:roster'><item jid='a'/><item jid='b'/></query>`, MismatchOrder, "/{jabber:iq:roster}query"},
		{"strict extra child", `<query xmlns='jabber:iq:roster'><item jid='a'/></query>`,
			`<query xmlns='jabber:iq:roster'><item jid='a'/><item jid='b'/></query>`, MismatchExtraChild, "/{jabber:iq:roster}query"},
		{"strict missing child", `<query xmlns='jabber:iq:roster'><item jid='a'/><item jid='b'/></query>`,
			`<query xmlns='jabber:iq:roster'><item jid='a'/></query>`, MismatchMissingChild, "/{jabber:iq:roster}query"},
		{"strict: a stanza error's condition is exact", `<iq type='error'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`,
			`<iq type='error'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>x</text></error></iq>`, 0, ""},
		{"strict: a stanza error's condition", `<iq type='error'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`,
			`<iq type='error'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`, MismatchMissingChild, "/iq/error"},
		{"strict stream error: the text counts", `<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`,
			`<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Replaced</text></stream:error>`, MismatchExtraChild, "/stream:error"},

		// 6. Text.
		{"text trimmed", "<message><body>  Hello Juliet!\n\t</body></message>", `<message><body>Hello Juliet!</body></message>`, 0, ""},
		{"inner white space counts", `<message><body>Hello  Juliet!</body></message>`, `<message><body>Hello Juliet!</body></message>`, MismatchText, "/message/body"},
		{"text differs", `<presence><priority>-1</priority></presence>`, `<presence><priority>1</priority></presence>`, MismatchText, "/presence/priority"},
		{"no expected text, non-strict: received text ignored", `<message><body/></message>`, `<message><body>hi</body></message>`, 0, ""},
		{"whitespace-only text ignored in strict mode (presence_preapproval.scs:33)", "<query xmlns='jabber:iq:roster' ver='{scansion:any}'>\n\t\t</query>", `<query xmlns='jabber:iq:roster' ver='1'/>`, 0, ""},
		{"whitespace-only received text ignored in strict mode", `<query xmlns='jabber:iq:roster'/>`, "<query xmlns='jabber:iq:roster'>\n  </query>", 0, ""},
		{"no expected text, strict: received text fails", `<x xmlns='urn:x'/>`, `<x xmlns='urn:x'>data</x>`, MismatchText, "/{urn:x}x"},
		{"indentation between children", "<iq type='result'>\n\t<query xmlns='jabber:iq:roster'>\n\t\t<item jid='a'/>\n\t</query>\n</iq>",
			`<iq type='result' id='1'><query xmlns='jabber:iq:roster'><item jid='a'/></query></iq>`, 0, ""},
	} {
		want, got := mustParse(t, tc.want), mustParse(t, tc.got)
		err := Match(want, got)
		if tc.kind == 0 {
			if err != nil {
				t.Errorf("%s: %v\n  want %s\n  got  %s", tc.rule, err, tc.want, tc.got)
			}
			continue
		}
		var me *MismatchError
		if !errors.As(err, &me) {
			t.Errorf("%s: matched, want a %s mismatch\n  want %s\n  got  %s", tc.rule, tc.kind, tc.want, tc.got)
			continue
		}
		if me.Kind != tc.kind || me.Path != tc.path {
			t.Errorf("%s: %v, want a %s mismatch at %s", tc.rule, err, tc.kind, tc.path)
		}
	}
}

func TestMatchNil(t *testing.T) {
	if err := Match(mustParse(t, `<presence/>`), nil); err == nil {
		t.Error("matched nothing")
	}
}

func TestCanonicalAndDiff(t *testing.T) {
	a := mustParse(t, "<iq type='result' id='1'>\n\t<query xmlns='jabber:iq:roster' ver='2'>\n\t\t<item subscription='none' jid='a@b'/>\n\t</query>\n</iq>")
	b := mustParse(t, `<iq id="1" type="result"><r:query xmlns:r="jabber:iq:roster" ver="2"><r:item jid="a@b" subscription="none"></r:item></r:query></iq>`)
	want := "<iq id='1' type='result'>\n  <query xmlns='jabber:iq:roster' ver='2'>\n    <item jid='a@b' subscription='none'/>\n  </query>\n</iq>"
	if got := Canonical(a); got != want {
		t.Errorf("Canonical:\n%s\nwant\n%s", got, want)
	}
	if d := Diff(a, b); d != "" {
		t.Errorf("Diff of equal elements written differently:\n%s", d)
	}
	c := mustParse(t, `<iq id='1' type='result'><query xmlns='jabber:iq:roster' ver='3'><item jid='a@b' subscription='both'/></query></iq>`)
	d := strings.ReplaceAll(Diff(a, c), "\u00a0", " ")
	for _, s := range []string{"ver='2'", "ver='3'", "subscription='none'", "subscription='both'", "-", "+"} {
		if !strings.Contains(d, s) {
			t.Errorf("Diff lacks %q:\n%s", s, d)
		}
	}
	se := mustParse(t, `<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>a &amp; b</text></stream:error>`)
	want = "<stream:error>\n  <conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\n  <text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>a &amp; b</text>\n</stream:error>"
	if got := Canonical(se); got != want {
		t.Errorf("Canonical:\n%s\nwant\n%s", got, want)
	}
}
