package stream_test

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/stream"
)

const (
	eof        = "io: EOF"
	unexpected = "io: unexpected EOF"
	open       = "open {streams}stream"
)

const billionLaughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'><message><body>&lol9;</body></message>`

// manyAttrs returns n empty attributes, a0 to a(n-1), for a start tag.
func manyAttrs(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, " a%d=''", i)
	}
	return b.String()
}

// decls is the namespace declarations xmlns:p<from>='u' … xmlns:p<to-1>='u'.
func decls(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, " xmlns:p%d='u'", i)
	}
	return b.String()
}

// bigMessage is a stanza longer than hdr.
var bigMessage = `<message><body>` + strings.Repeat("a", 200) + `</body></message>`

func nest(depth int) string {
	return strings.Repeat("<x>", depth) + strings.Repeat("</x>", depth)
}

type readerCase struct {
	name string
	in   string
	opts stream.ReaderOptions
	want []string
}

var readerCases = []readerCase{
	// Accepted input.
	{name: "header only", in: hdr, want: []string{open, eof}},
	{name: "empty input", in: "", want: []string{eof}},
	{name: "whole stream with XML declaration",
		in:   `<?xml version='1.0'?>` + hdr + `<presence/></stream:stream>`,
		want: []string{open, "elem <presence/>", "end"}},
	{name: "XML declaration with encoding and standalone",
		in:   `<?xml version="1.0" encoding="utf-8" standalone='yes' ?>` + "\n" + hdr + `</stream:stream>`,
		want: []string{open, "end"}},
	{name: "whitespace before the header", in: " \r\n\t" + hdr + `</stream:stream>`, want: []string{open, "end"}},
	{name: "whitespace keepalives between stanzas",
		in:   hdr + " \n\t<presence/>  \r\n <message/>   \n",
		want: []string{open, "elem <presence/>", "elem <message/>", eof}},
	{name: "stanza with attributes and text",
		in:   hdr + `<message to='juliet@example.com' type="chat" id='a"b'><body>Wherefore art thou?</body></message>`,
		want: []string{open, `elem <message to='juliet@example.com' type='chat' id='a&quot;b'><body>Wherefore art thou?</body></message>`, eof}},
	{name: "predefined entities and character references",
		in:   hdr + `<message><body>&lt;&gt;&amp;&apos;&quot;&#65;&#x42;&#x1F600;</body></message>`,
		want: []string{open, `elem <message><body>&lt;&gt;&amp;&apos;&quot;AB😀</body></message>`, eof}},
	{name: "CDATA joins the text around it",
		in:   hdr + `<message><body>a<![CDATA[<b>&amp;]]>c</body></message>`,
		want: []string{open, `elem <message><body>a&lt;b&gt;&amp;amp;c</body></message>`, eof}},
	{name: "UTF-8 text and names",
		in:   hdr + "<message><body>Ромео ❤ Джульетта \ufeff</body><ñ xmlns='urn:x'/></message>",
		want: []string{open, "elem <message><body>Ромео ❤ Джульетта \ufeff</body><ñ xmlns='urn:x'/></message>", eof}},
	{name: "stream:error gets xmlns:stream",
		in:   hdr + `<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`,
		want: []string{open, `elem <stream:error xmlns:stream='http://etherx.jabber.org/streams'><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`, eof}},
	{name: "header prefix used by a descendant is declared on the top-level element",
		in:   `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' xmlns:x='urn:x'><message><x:y x:a='1'/></message><iq/>`,
		want: []string{open, `elem <message xmlns:x='urn:x'><x:y x:a='1'/></message>`, "elem <iq/>", eof}},
	{name: "own declarations shadow the header's",
		in:   hdr + `<stream:features xmlns:stream='urn:other'/><p:x xmlns:p='urn:p'><p:y/></p:x>`,
		want: []string{open, `elem <stream:features xmlns:stream='urn:other'/>`, `elem <p:x xmlns:p='urn:p'><p:y/></p:x>`, eof}},
	{name: "content namespace other than jabber:client is declared",
		in:   `<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'><message/><db:result xmlns:db='jabber:server:dialback'/>`,
		want: []string{open, `elem <message xmlns='jabber:server'/>`, `elem <db:result xmlns:db='jabber:server:dialback'/>`, eof}},
	{name: "header without a default namespace",
		in:   `<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><message/>`,
		want: []string{open, `elem <message/>`, eof}},
	{name: "xml:lang needs no declaration, and lang is another attribute",
		in:   hdr + `<message lang='x' xml:lang='en'><body xml:lang='fr'/></message>`,
		want: []string{open, `elem <message lang='x' xml:lang='en'><body xml:lang='fr'/></message>`, eof}},
	{name: "same local name in two namespaces",
		in:   hdr + `<a xmlns:p='urn:1' xmlns:q='urn:2' p:x='1' q:x='2' x='3'/>`,
		want: []string{open, `elem <a xmlns:p='urn:1' xmlns:q='urn:2' p:x='1' q:x='2' x='3'/>`, eof}},
	{name: "self-closing header", in: `<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>`, want: []string{open, "end"}},
	{name: "unprefixed header in the streams namespace",
		in:   `<stream xmlns='http://etherx.jabber.org/streams'></stream>`,
		want: []string{open, "end"}},
	{name: "a header in another namespace is reported (fsm decides)",
		in:   `<stream:stream xmlns:stream='urn:wrong'><presence/>`,
		want: []string{"open {urn:wrong}stream", "elem <presence/>", eof}},
	{name: "a first element that is no header is reported (fsm decides)",
		in:   `<message xmlns='jabber:client'/>`,
		want: []string{"open {jabber:client}message", "end"}},
	{name: "whitespace CDATA between stanzas", in: hdr + `<![CDATA[ ]]><presence/>`, want: []string{open, "elem <presence/>", eof}},
	{name: "many attributes", in: hdr + `<x` + manyAttrs(40) + `/>`, want: []string{open, "elem <x" + manyAttrs(40) + "/>", eof}},
	{name: "stanza of exactly MaxStanza bytes",
		in: hdr + bigMessage, opts: stream.ReaderOptions{MaxStanza: len(bigMessage)},
		want: []string{open, "elem " + bigMessage, eof}},
	{name: "nesting of exactly MaxDepth",
		in: hdr + nest(5), opts: stream.ReaderOptions{MaxDepth: 5},
		want: []string{open, "elem " + strings.Repeat("<x>", 4) + "<x/>" + strings.Repeat("</x>", 4), eof}},
	{name: "connection ends inside a stanza", in: hdr + `<message><body>hi`, want: []string{open, unexpected}},
	{name: "connection ends inside a start tag", in: hdr + `<message to='a`, want: []string{open, unexpected}},
	{name: "connection ends inside a UTF-8 sequence", in: hdr + "<message><body>\xe2\x82", want: []string{open, unexpected}},

	// restricted-xml (RFC 6120 §11.1).
	{name: "DOCTYPE", in: `<!DOCTYPE stream>` + hdr, want: []string{"error restricted-xml"}},
	{name: "DOCTYPE after the XML declaration", in: `<?xml version='1.0'?><!DOCTYPE x>` + hdr, want: []string{"error restricted-xml"}},
	{name: "billion laughs", in: billionLaughs, want: []string{"error restricted-xml"}},
	{name: "DOCTYPE between stanzas", in: hdr + `<presence/><!DOCTYPE x>`, want: []string{open, "elem <presence/>", "error restricted-xml"}},
	{name: "DOCTYPE inside a stanza", in: hdr + `<message><!DOCTYPE x></message>`, want: []string{open, "error restricted-xml"}},
	{name: "comment before the header", in: `<!-- hi -->` + hdr, want: []string{"error restricted-xml"}},
	{name: "comment between stanzas", in: hdr + `<presence/><!-- hi --><presence/>`, want: []string{open, "elem <presence/>", "error restricted-xml"}},
	{name: "comment inside a stanza", in: hdr + `<message><!-- hi --></message>`, want: []string{open, "error restricted-xml"}},
	{name: "processing instruction before the header", in: `<?php echo 1; ?>` + hdr, want: []string{"error restricted-xml"}},
	{name: "processing instruction between stanzas", in: hdr + `<?foo?>`, want: []string{open, "error restricted-xml"}},
	{name: "processing instruction inside a stanza", in: hdr + `<message><?foo bar?></message>`, want: []string{open, "error restricted-xml"}},
	{name: "XML declaration after whitespace", in: ` <?xml version='1.0'?>` + hdr, want: []string{"error restricted-xml"}},
	{name: "second XML declaration", in: `<?xml version='1.0'?><?xml version='1.0'?>` + hdr, want: []string{"error restricted-xml"}},
	{name: "XML declaration inside the stream", in: hdr + `<?xml version='1.0'?>`, want: []string{open, "error restricted-xml"}},
	{name: "XML declaration in upper case", in: `<?XML version='1.0'?>` + hdr, want: []string{"error restricted-xml"}},
	{name: "undeclared entity", in: hdr + `<message><body>&lol;</body></message>`, want: []string{open, "error restricted-xml"}},
	{name: "undeclared entity in an attribute", in: hdr + `<message to='&lol;'/>`, want: []string{open, "error restricted-xml"}},

	// not-well-formed.
	{name: "XML declaration without version", in: `<?xml encoding='UTF-8'?>` + hdr, want: []string{"error not-well-formed"}},
	{name: "XML declaration version 1.1", in: `<?xml version='1.1'?>` + hdr, want: []string{"error not-well-formed"}},
	{name: "XML declaration with junk", in: `<?xml version='1.0' foo='bar'?>` + hdr, want: []string{"error not-well-formed"}},
	{name: "duplicate attribute", in: hdr + `<message to='a' to='b'/>`, want: []string{open, "error not-well-formed"}},
	{name: "duplicate attribute in a child", in: hdr + `<iq><query a='1' b='2' a='3'/></iq>`, want: []string{open, "error not-well-formed"}},
	{name: "duplicate attribute on the header", in: `<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='a' to='b'>`, want: []string{"error not-well-formed"}},
	{name: "duplicate attribute among many", in: hdr + `<x` + manyAttrs(40) + ` a7='x'/>`, want: []string{open, "error not-well-formed"}},
	{name: "duplicate namespace declaration", in: hdr + `<x xmlns='urn:a' xmlns='urn:b'/>`, want: []string{open, "error not-well-formed"}},
	{name: "duplicate expanded attribute name", in: hdr + `<x xmlns:p='urn:1' xmlns:q='urn:1' p:a='1' q:a='2'/>`, want: []string{open, "error not-well-formed"}},
	{name: "prefix undeclared", in: hdr + `<x xmlns:p=''/>`, want: []string{open, "error not-well-formed"}},
	{name: "xml prefix rebound", in: hdr + `<x xmlns:xml='urn:x'/>`, want: []string{open, "error not-well-formed"}},
	{name: "xmlns prefix declared", in: hdr + `<x xmlns:xmlns='urn:x'/>`, want: []string{open, "error not-well-formed"}},
	{name: "name with two colons", in: hdr + `<a:b:c/>`, want: []string{open, "error not-well-formed"}},
	{name: "name starting with a colon", in: hdr + `<:a/>`, want: []string{open, "error not-well-formed"}},
	{name: "mismatched end tag", in: hdr + `<message></presence>`, want: []string{open, "error not-well-formed"}},
	{name: "mismatched prefix in end tag", in: hdr + `<p:x xmlns:p='urn:p'></q:x>`, want: []string{open, "error not-well-formed"}},
	{name: "mismatched stream end", in: hdr + `</stream:features>`, want: []string{open, "error not-well-formed"}},
	{name: "unquoted attribute", in: hdr + `<message to=a/>`, want: []string{open, "error not-well-formed"}},
	{name: "attribute without value", in: hdr + `<message to/>`, want: []string{open, "error not-well-formed"}},
	{name: "< in an attribute value", in: hdr + `<message to='<'/>`, want: []string{open, "error not-well-formed"}},
	{name: "]]> in text", in: hdr + `<message>]]></message>`, want: []string{open, "error not-well-formed"}},
	{name: "NUL character", in: hdr + "<message>\x00</message>", want: []string{open, "error not-well-formed"}},
	{name: "character reference to NUL", in: hdr + `<message>&#0;</message>`, want: []string{open, "error not-well-formed"}},
	{name: "empty character reference", in: hdr + `<message>&#;</message>`, want: []string{open, "error not-well-formed"}},
	{name: "entity without semicolon", in: hdr + `<message>&amp</message>`, want: []string{open, "error not-well-formed"}},
	{name: "bare ampersand", in: hdr + `<message>a & b</message>`, want: []string{open, "error not-well-formed"}},
	{name: "< followed by space", in: hdr + `< message/>`, want: []string{open, "error not-well-formed"}},
	{name: "text before the header", in: `hello` + hdr, want: []string{"error not-well-formed"}},
	{name: "UTF-8 BOM is text before the header (RFC 6120 §11.6)", in: "\ufeff" + hdr, want: []string{"error not-well-formed"}},
	{name: "CDATA before the header", in: `<![CDATA[x]]>` + hdr, want: []string{"error not-well-formed"}},

	// bad-namespace-prefix.
	{name: "undeclared element prefix", in: hdr + `<foo:bar/>`, want: []string{open, "error bad-namespace-prefix"}},
	{name: "undeclared attribute prefix", in: hdr + `<message foo:x='1'/>`, want: []string{open, "error bad-namespace-prefix"}},
	{name: "undeclared prefix on the header", in: `<stream:stream xmlns='jabber:client'>`, want: []string{"error bad-namespace-prefix"}},
	{name: "prefix declared on a sibling only", in: hdr + `<iq><p:a xmlns:p='urn:p'/><p:b/></iq>`, want: []string{open, "error bad-namespace-prefix"}},
	{name: "prefix declared on an earlier stanza only", in: hdr + `<p:a xmlns:p='urn:p'/><p:b/>`, want: []string{open, "elem <p:a xmlns:p='urn:p'/>", "error bad-namespace-prefix"}},
	{name: "xmlns prefix on an element", in: hdr + `<xmlns:a/>`, want: []string{open, "error bad-namespace-prefix"}},

	// bad-format.
	{name: "text between stanzas", in: hdr + `<presence/>hello<presence/>`, want: []string{open, "elem <presence/>", "error bad-format"}},
	{name: "CDATA text between stanzas", in: hdr + `<![CDATA[hello]]>`, want: []string{open, "error bad-format"}},

	// unsupported-encoding (RFC 6120 §11.6).
	{name: "encoding ISO-8859-1", in: `<?xml version='1.0' encoding='ISO-8859-1'?>` + hdr, want: []string{"error unsupported-encoding"}},
	{name: "encoding UTF-16", in: `<?xml version='1.0' encoding='UTF-16'?>` + hdr, want: []string{"error unsupported-encoding"}},
	{name: "UTF-16 input", in: "\xff\xfe<\x00s\x00", want: []string{"error unsupported-encoding"}},
	{name: "Latin-1 byte in text", in: hdr + "<message><body>caf\xe9</body></message>", want: []string{open, "error unsupported-encoding"}},
	{name: "invalid byte in a name", in: hdr + "<m\xffessage/>", want: []string{open, "error unsupported-encoding"}},
	{name: "invalid byte in an attribute", in: hdr + "<message to='\x80'/>", want: []string{open, "error unsupported-encoding"}},
	{name: "overlong encoding", in: hdr + "<message>\xc0\xaf</message>", want: []string{open, "error unsupported-encoding"}},
	{name: "encoded surrogate", in: hdr + "<message>\xed\xa0\x80</message>", want: []string{open, "error unsupported-encoding"}},
	{name: "invalid byte between stanzas", in: hdr + "<presence/>\xff", want: []string{open, "elem <presence/>", "error unsupported-encoding"}},

	// policy-violation.
	{name: "stanza one byte over MaxStanza",
		in: hdr + bigMessage, opts: stream.ReaderOptions{MaxStanza: len(bigMessage) - 1},
		want: []string{open, "error policy-violation"}},
	{name: "big text", in: hdr + `<message><body>` + strings.Repeat("a", 200) + `</body></message>`,
		opts: stream.ReaderOptions{MaxStanza: 200}, want: []string{open, "error policy-violation"}},
	{name: "big start tag", in: hdr + `<message` + manyAttrs(40) + `/>`,
		opts: stream.ReaderOptions{MaxStanza: 200}, want: []string{open, "error policy-violation"}},
	{name: "big header", in: hdr, opts: stream.ReaderOptions{MaxStanza: 50}, want: []string{"error policy-violation"}},
	{name: "limit applies to each stanza, not the stream",
		in: hdr + strings.Repeat(`<presence/>`, 20), opts: stream.ReaderOptions{MaxStanza: 200},
		want: append(append([]string{open}, slices.Repeat([]string{"elem <presence/>"}, 20)...), eof)},
	{name: "256 namespace declarations in scope (2 on the header)", in: hdr + `<x` + decls(0, 252) + `><y` + decls(252, 254) + `/></x>`,
		want: []string{open, "elem <x" + decls(0, 252) + "><y" + decls(252, 254) + "/></x>", eof}},
	{name: "257 namespace declarations in scope", in: hdr + `<x` + decls(0, 252) + `><y` + decls(252, 255) + `/></x>`,
		want: []string{open, "error policy-violation"}},
	{name: "nesting deeper than MaxDepth", in: hdr + nest(6), opts: stream.ReaderOptions{MaxDepth: 5}, want: []string{open, "error policy-violation"}},
	{name: "nesting deeper than the default", in: hdr + nest(101), want: []string{open, "error policy-violation"}},
}

func TestReaderCases(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range readerCases {
		t.Run(tc.name, func(t *testing.T) {
			if seen[tc.name] {
				t.Fatalf("duplicate case name")
			}
			seen[tc.name] = true
			got := read(t, strings.NewReader(tc.in), tc.opts)
			if !slices.Equal(got.lines, tc.want) {
				t.Errorf("input %q\ngot:\n\t%s\nwant:\n\t%s\nerror texts: %q", tc.in,
					strings.Join(got.lines, "\n\t"), strings.Join(tc.want, "\n\t"), got.texts)
			}
		})
	}
}

// TestReaderSplits feeds every case in two chunks split at every byte (at
// every few bytes for the longest), one byte at a time, and through the
// iotest readers: the events are the same.
func TestReaderSplits(t *testing.T) {
	for _, tc := range readerCases {
		t.Run(tc.name, func(t *testing.T) {
			want := read(t, strings.NewReader(tc.in), tc.opts).lines
			check := func(how string, src io.Reader) {
				t.Helper()
				if got := read(t, src, tc.opts).lines; !slices.Equal(got, want) {
					t.Fatalf("%s: got %q, want %q", how, got, want)
				}
			}
			check("one byte at a time", iotest.OneByteReader(strings.NewReader(tc.in)))
			check("half reads", iotest.HalfReader(strings.NewReader(tc.in)))
			check("EOF with the data", iotest.DataErrReader(strings.NewReader(tc.in)))
			// Every split of the short inputs, a sample of the long ones.
			step := max(1, len(tc.in)/1024)
			for i := 1; i < len(tc.in); i += step {
				check(fmt.Sprintf("split at %d", i), &chunkReader{chunks: [][]byte{[]byte(tc.in[:i]), []byte(tc.in[i:])}})
			}
		})
	}
}

func TestReaderErrorTexts(t *testing.T) {
	for _, tc := range []struct {
		in, text string
		max      int
	}{
		{`<!DOCTYPE x>`, "DTDs and other declarations are not allowed", 0},
		{`<!-- x -->`, "comments are not allowed", 0},
		{`<?x?>`, "processing instructions are not allowed", 0},
		{hdr + `<a>&x;</a>`, "entity references are not allowed", 0},
		{hdr + `<x:a/>`, "undeclared namespace prefix x", 0},
		{hdr + `<a x='1' x='2'/>`, "duplicate attribute", 0},
		{hdr + "<a>\xff</a>", "invalid UTF-8", 0},
		{`<?xml version='1.0' encoding='latin1'?>`, "encoding latin1 is not supported: use UTF-8", 0},
		{hdr + `<a>` + strings.Repeat("x", 300) + `</a>`, "stanza too big", 300},
		{hdr + nest(101), "elements nested too deeply", 0},
		{hdr, "stream header too big", 100},
		{hdr + `<a></b>`, "end tag does not match start tag", 0},
		{hdr + `x`, "text between top-level elements", 0},
		{hdr + `<:é` + strings.Repeat("a", 200) + `/>`, "invalid element name :é" + strings.Repeat("a", 76) + "…", 0},
		{hdr + `<:` + strings.Repeat("a", 75) + `éé/>`, "invalid element name :" + strings.Repeat("a", 75) + "é…", 0},
	} {
		res := read(t, strings.NewReader(tc.in), stream.ReaderOptions{MaxStanza: tc.max})
		if len(res.texts) != 1 || res.texts[0] != tc.text {
			t.Errorf("%q: texts %q, want %q", tc.in, res.texts, tc.text)
		}
	}
}

func TestReaderHeader(t *testing.T) {
	in := `<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' from='juliet@im.example.com' to='im.example.com' version='1.0' xml:lang='en' xmlns='jabber:client' lang='x' foo:to='y' xmlns:foo='urn:foo'>`
	res := read(t, strings.NewReader(in), stream.ReaderOptions{})
	if len(res.events) != 1 {
		t.Fatalf("got %q", res.lines)
	}
	want := fsm.StreamHeader{
		Space: fsm.NSStreams, Local: "stream", Default: fsm.NSClient,
		To: "im.example.com", From: "juliet@im.example.com", Version: "1.0", Lang: "en",
	}
	if got := *res.events[0].Header; got != want {
		t.Errorf("header %+v, want %+v", got, want)
	}

	res = read(t, strings.NewReader(`<s:x xmlns:s='urn:s'>`), stream.ReaderOptions{})
	if got := *res.events[0].Header; got != (fsm.StreamHeader{Space: "urn:s", Local: "x"}) {
		t.Errorf("header %+v", got)
	}
}

// TestReaderNamespaces checks that fsm reads the elements as they were
// meant in the stream.
func TestReaderNamespaces(t *testing.T) {
	in := hdr + `<stream:error><bad-format xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>` +
		`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AA==</auth>` +
		`<message/><cl:message xmlns:cl='jabber:client'/><x:message xmlns:x='urn:other'/>` +
		`<iq><query xmlns='jabber:iq:roster'/></iq>`
	res := read(t, strings.NewReader(in), stream.ReaderOptions{})
	want := []fsm.Class{fsm.ClassStreamError, fsm.ClassAuth, fsm.ClassMessage, fsm.ClassMessage, fsm.ClassUnknown, fsm.ClassIQ}
	var got []fsm.Class
	for _, ev := range res.events {
		if ev.Kind == fsm.EvElement {
			got = append(got, fsm.Classify(ev.Elem))
			if ev.Elem.Parent() != nil {
				t.Errorf("%s has a parent", fsm.XML(ev.Elem))
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("classes %v, want %v", got, want)
	}
	q := res.events[len(res.events)-1].Elem.SelectElement("query")
	if ns := q.NamespaceURI(); ns != "jabber:iq:roster" {
		t.Errorf("query namespace %q", ns)
	}
}

func TestReaderRestart(t *testing.T) {
	// After SASL success the client's next header may already be buffered:
	// Reset on the same reader keeps it.
	in := `<?xml version='1.0'?>` + hdr + `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AA==</auth>` +
		`<?xml version='1.0'?>` + hdr + `<iq type='set' id='b'/></stream:stream>`
	src := strings.NewReader(in)
	r := stream.NewReader(src, stream.ReaderOptions{})
	var got []string
	for range 2 {
		ev, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, describe(ev))
	}
	r.Reset(nil)
	got = append(got, readAll(t, r).lines...)
	want := []string{open, `elem <auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AA==</auth>`, open, `elem <iq type='set' id='b'/>`, "end"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}

	// The same with the reader named, one byte at a time.
	one := iotest.OneByteReader(strings.NewReader(in))
	r = stream.NewReader(one, stream.ReaderOptions{})
	got = nil
	for range 2 {
		ev, _ := r.Next()
		got = append(got, describe(ev))
	}
	r.Reset(one)
	got = append(got, readAll(t, r).lines...)
	if !slices.Equal(got, want) {
		t.Errorf("one byte at a time: got %q\nwant %q", got, want)
	}

	// A stream that ended (or failed) restarts too.
	r = stream.NewReader(strings.NewReader(hdr+`<!-- -->`+hdr+`<presence/>`), stream.ReaderOptions{})
	got = readAll(t, r).lines
	r.Reset(nil)
	got = append(got, readAll(t, r).lines...)
	want = []string{open, "error restricted-xml", "error restricted-xml"}
	if !slices.Equal(got, want) {
		t.Errorf("restart after an error: got %q, want %q", got, want)
	}
}

func TestReaderResetToTLS(t *testing.T) {
	// A client that sends bytes after <starttls/>: Buffered shows them, and
	// Reset to the new connection drops them.
	plain := strings.NewReader(hdr + `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>garbage`)
	r := stream.NewReader(plain, stream.ReaderOptions{})
	r.Next()
	if ev, err := r.Next(); err != nil || ev.Kind != fsm.EvElement {
		t.Fatalf("%s %v", describe(ev), err)
	}
	if n := r.Buffered(); n != len("garbage") {
		t.Errorf("Buffered = %d, want %d", n, len("garbage"))
	}
	before := r.InputOffset()
	r.Reset(strings.NewReader(`<?xml version='1.0'?>` + hdr + `<presence/>`))
	if r.Buffered() != 0 {
		t.Errorf("Buffered after Reset = %d", r.Buffered())
	}
	got := readAll(t, r).lines
	if want := []string{open, "elem <presence/>", eof}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if d := r.InputOffset() - before; d != int64(len(`<?xml version='1.0'?>`+hdr+`<presence/>`)) {
		t.Errorf("consumed %d bytes of the new stream", d)
	}
}

func TestReaderKeepalives(t *testing.T) {
	// 1 MiB of keepalives between two stanzas: no event for them, and they
	// count against no stanza.
	src := io.MultiReader(strings.NewReader(hdr+`<presence/>`),
		&repeatReader{body: []byte(" \n"), left: 1 << 20},
		strings.NewReader(`<message/>`+strings.Repeat(" ", 5000)+`</stream:stream>`))
	got := read(t, src, stream.ReaderOptions{MaxStanza: 1024}).lines
	if want := []string{open, "elem <presence/>", "elem <message/>", "end"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestReaderHugeStanza: a 10 MB element is rejected once it passes the
// limit, without reading the rest.
func TestReaderHugeStanza(t *testing.T) {
	for _, tc := range []struct {
		name, prefix, body string
		want               string
	}{
		{"text", hdr + `<message><body>`, "a", "error policy-violation"},
		{"attribute", hdr + `<message to='`, "a", "error policy-violation"},
		{"children", hdr + `<message>`, "<b/>", "error policy-violation"},
		{"whitespace in a stanza", hdr + `<message>`, " ", "error policy-violation"},
		{"header", `<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='`, "a", "error policy-violation"},
		{"comment before the header", `<!--`, "a", "error restricted-xml"},
		{"comment between stanzas", hdr + `<!--`, "a", "error restricted-xml"},
		{"comment in a stanza", hdr + `<message><!--`, "a", "error policy-violation"},
		{"DOCTYPE", `<!DOCTYPE x [`, "a", "error restricted-xml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const size = 10 << 20
			src := &countingReader{r: &repeatReader{prefix: []byte(tc.prefix), body: []byte(tc.body), left: size}}
			res := read(t, src, stream.ReaderOptions{})
			if got := res.lines[len(res.lines)-1]; got != tc.want {
				t.Errorf("last event %q, want %q", got, tc.want)
			}
			if limit := int64(len(tc.prefix) + stream.DefaultMaxStanza + 4096); src.n > limit {
				t.Errorf("read %d bytes, more than %d", src.n, limit)
			}
		})
	}
}

// TestReaderBillionLaughs: the DTD is rejected when its first bytes
// arrive, so nothing of it is read, let alone expanded.
func TestReaderBillionLaughs(t *testing.T) {
	src := &countingReader{r: iotest.OneByteReader(strings.NewReader(billionLaughs))}
	res := read(t, src, stream.ReaderOptions{})
	if want := []string{"error restricted-xml"}; !slices.Equal(res.lines, want) {
		t.Fatalf("got %q", res.lines)
	}
	if want := int64(len(`<?xml version="1.0"?>` + "\n<!D")); src.n != want {
		t.Errorf("read %d bytes, want %d", src.n, want)
	}
}

// TestReaderNoReadAhead: each event is returned as soon as its last byte
// has arrived; the reader does not wait for more.
func TestReaderNoReadAhead(t *testing.T) {
	parts := []struct{ in, want string }{
		{`<?xml version='1.0'?>`, ""},
		{hdr, open},
		{" ", ""},
		{`<presence/>`, "elem <presence/>"},
		{"\n", ""},
		{`<message><body>x</body>`, ""},
		{`</message>`, "elem <message><body>x</body></message>"},
		{`<iq/>`, "elem <iq/>"},
		{`</stream:stream>`, "end"},
	}
	pr, pw := io.Pipe()
	r := stream.NewReader(pr, stream.ReaderOptions{})
	events := make(chan string)
	go func() {
		defer close(events)
		for {
			ev, err := r.Next()
			if err != nil {
				return
			}
			events <- describe(ev)
		}
	}()
	for _, p := range parts {
		if _, err := pw.Write([]byte(p.in)); err != nil {
			t.Fatal(err)
		}
		if p.want == "" {
			continue
		}
		select {
		case got := <-events:
			if got != p.want {
				t.Errorf("after %q: got %q, want %q", p.in, got, p.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("after %q: no event", p.in)
		}
	}
	pw.Close()
	if got, ok := <-events; ok {
		t.Errorf("an event after the end: %s", got)
	}
}

// TestReaderReadError: what the connection's Read returns is returned.
func TestReaderReadError(t *testing.T) {
	boom := fmt.Errorf("boom")
	r := stream.NewReader(io.MultiReader(strings.NewReader(hdr+`<message>`), iotest.ErrReader(boom)), stream.ReaderOptions{})
	r.Next()
	if _, err := r.Next(); err != boom {
		t.Errorf("err %v, want boom", err)
	}
	if _, err := r.Next(); err != boom {
		t.Errorf("second err %v, want boom", err)
	}
	r = stream.NewReader(io.MultiReader(strings.NewReader(hdr), iotest.ErrReader(boom)), stream.ReaderOptions{})
	r.Next()
	if _, err := r.Next(); err != boom {
		t.Errorf("between stanzas: err %v, want boom", err)
	}
}

// TestReaderElementsIndependent: elements handed out are not touched by
// later reads.
func TestReaderElementsIndependent(t *testing.T) {
	in := hdr + `<message id='1'><body>one</body></message><message id='2'><body>two</body></message>`
	res := read(t, strings.NewReader(in), stream.ReaderOptions{})
	if got := fsm.XML(res.events[1].Elem); got != `<message id='1'><body>one</body></message>` {
		t.Errorf("first element now %s", got)
	}
}

func TestRoundTrip(t *testing.T) {
	// Elements read from a client's stream, written and read again.
	in := `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' xmlns:x='urn:x'>` +
		`<message to='romeo@example.net' from="juliet@example.com/balcony" type='chat' xml:lang='en' id='a&apos;"&lt;&amp;'>` +
		`<body>Art thou &lt;not&gt; Romeo &amp; a Montague? "yes" 'no' ]]&gt; &#xD;&#x9;tab&#xA;</body>` +
		`<x:thread x:parent='p'>t1</x:thread><html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p>x<b>y</b>z</p></body></html>` +
		`</message>` +
		`<stream:error><text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>&#x10FFFF;</text></stream:error>` +
		`<iq type='get' id='r1'><query xmlns='jabber:iq:roster' ver=''/></iq>` +
		`<p:x xmlns:p='urn:p' xmlns:q='urn:q' q:a="tab&#9;nl&#10;cr&#13;" a='1'><q:y><![CDATA[<cdata>]]></q:y><p:z xmlns:p='urn:p2'/></p:x>` +
		`<presence><status>  spaced  </status><priority>1</priority></presence>`
	res := read(t, strings.NewReader(in), stream.ReaderOptions{})
	var els []*etree.Element
	for _, ev := range res.events {
		if ev.Kind == fsm.EvElement {
			els = append(els, ev.Elem)
		}
	}
	if len(els) != 5 {
		t.Fatalf("got %q", res.lines)
	}
	back := roundTrip(t, els)
	for i := range els {
		if d := sameElement(els[i], back[i]); d != "" {
			t.Errorf("element %d: %s\n%s\n%s", i, d, fsm.XML(els[i]), fsm.XML(back[i]))
		}
	}

	// Elements built as fsm builds them, relying on the stream's
	// declarations: they mean the same after the trip.
	se := etree.NewElement("stream:error")
	se.CreateElement("conflict").CreateAttr("xmlns", "urn:ietf:params:xml:ns:xmpp-streams")
	msg := etree.NewElement("message")
	msg.CreateAttr("to", "a@b")
	msg.CreateElement("body").SetText("x < y & 'q' \"d\" \r\n")
	built := []*etree.Element{se, msg}
	back = roundTrip(t, built)
	for i := range built {
		if a, b := canon(built[i]), canon(back[i]); a != b {
			t.Errorf("built element %d:\n%s\n%s", i, a, b)
		}
	}
	if got := fsm.XML(back[0]); got != `<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>` {
		t.Errorf("stream error read back as %s", got)
	}
}

func TestReaderManyAttributesIsLinear(t *testing.T) {
	// 40,000 attributes in one stanza: duplicate checks and building the
	// element stay linear.
	in := hdr + `<x` + manyAttrs(40000) + `/>`
	res := read(t, bytes.NewReader([]byte(in)), stream.ReaderOptions{MaxStanza: 1 << 20})
	if len(res.events) != 2 || len(res.events[1].Elem.Attr) != 40000 {
		t.Fatalf("got %d events", len(res.events))
	}
}

// TestReaderBigStanzas: stanzas near the limit, between small ones, and
// the limit counting each stanza from its own start.
func TestReaderBigStanzas(t *testing.T) {
	big := `<message><body>` + strings.Repeat("x", 100<<10) + `</body></message>`
	in := hdr + big + `<presence/>` + "\n" + big + big + `<iq/></stream:stream>`
	for _, src := range []io.Reader{strings.NewReader(in), iotest.OneByteReader(strings.NewReader(in))} {
		got := read(t, src, stream.ReaderOptions{MaxStanza: len(big)}).lines
		want := []string{open, "elem " + big, "elem <presence/>", "elem " + big, "elem " + big, "elem <iq/>", "end"}
		if !slices.Equal(got, want) {
			t.Errorf("got %d events, want %d", len(got), len(want))
		}
		got = read(t, strings.NewReader(in), stream.ReaderOptions{MaxStanza: len(big) - 1}).lines
		if want := []string{open, "error policy-violation"}; !slices.Equal(got, want) {
			t.Errorf("one byte smaller limit: %d events", len(got))
		}
	}
}
