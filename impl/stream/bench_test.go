package stream_test

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/stream"
)

// benchMessage is a typical chat message of about 200 bytes.
const benchMessage = `<message from='juliet@capulet.example/balcony' id='ktx72v49' to='romeo@montague.example' type='chat' xml:lang='en'><body>Art thou not Romeo, and a Montague? Neither, fair saint.</body></message>`

// BenchmarkReadMessage reads one chat message from a long stream: bytes
// to an EvElement with its etree element.
func BenchmarkReadMessage(b *testing.B) {
	r := stream.NewReader(&repeatReader{prefix: []byte(hdr), body: []byte(benchMessage), left: -1}, stream.ReaderOptions{})
	if ev, err := r.Next(); err != nil || ev.Kind != fsm.EvStreamOpen {
		b.Fatal(describe(ev), err)
	}
	b.SetBytes(int64(len(benchMessage)))
	b.ReportAllocs()
	for b.Loop() {
		ev, err := r.Next()
		if err != nil || ev.Kind != fsm.EvElement {
			b.Fatal(describe(ev), err)
		}
	}
}

// BenchmarkReadMessageEtree is the baseline: etree parsing the same
// message on its own (which cannot work on an open stream).
func BenchmarkReadMessageEtree(b *testing.B) {
	b.SetBytes(int64(len(benchMessage)))
	b.ReportAllocs()
	for b.Loop() {
		doc := etree.NewDocument()
		if err := doc.ReadFromString(benchMessage); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteMessage writes one chat message with its from replaced, as
// for a routed stanza, and flushes it.
func BenchmarkWriteMessage(b *testing.B) {
	res := read(b, strings.NewReader(hdr+benchMessage), stream.ReaderOptions{})
	el := res.events[1].Elem
	w := stream.NewWriter(io.Discard)
	b.SetBytes(int64(len(benchMessage)))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteElement(el, "juliet@capulet.example/balcony", ""); err != nil {
			b.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteMessageEtree is the baseline: etree's own WriteTo.
func BenchmarkWriteMessageEtree(b *testing.B) {
	res := read(b, strings.NewReader(hdr+benchMessage), stream.ReaderOptions{})
	el := res.events[1].Elem
	ws := etree.WriteSettings{AttrSingleQuote: true}
	var sb strings.Builder
	b.SetBytes(int64(len(benchMessage)))
	b.ReportAllocs()
	for b.Loop() {
		sb.Reset()
		el.WriteTo(&sb, &ws)
	}
}

// BenchmarkReadHostile reads stanzas of the default maximum size built to
// be costly: the time per stanza bounds what one client can make the
// server spend.
func BenchmarkReadHostile(b *testing.B) {
	max := stream.DefaultMaxStanza
	fill := func(open, unit, close string) string {
		n := (max - len(open) - len(close)) / len(unit)
		return open + strings.Repeat(unit, n) + close
	}
	var attrs strings.Builder
	attrs.WriteString("<m xmlns:p='u'")
	for i := 0; attrs.Len() < max-100; i++ {
		fmt.Fprintf(&attrs, " p:a%d=''", i)
	}
	attrs.WriteString("/>")
	for _, c := range []struct{ name, in string }{
		{"text", fill("<m>", "a", "</m>")},
		{"entities", fill("<m>", "&amp;", "</m>")},
		{"cdata-pieces", fill("<m>", "a<![CDATA[b]]>", "</m>")},
		{"empty-children", fill("<m>", "<a/>", "</m>")},
		{"declarations", fill("<m"+decls(0, 250)+">", "<p0:a/>", "</m>")},
		{"prefixed-attributes", attrs.String()},
		{"deep", fill(strings.Repeat("<a xmlns:q='u'>", 99), "<b/>", strings.Repeat("</a>", 99))},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := stream.NewReader(&repeatReader{prefix: []byte(hdr), body: []byte(c.in), left: -1}, stream.ReaderOptions{})
			r.Next()
			b.SetBytes(int64(len(c.in)))
			b.ReportAllocs()
			for b.Loop() {
				if ev, err := r.Next(); err != nil || ev.Kind != fsm.EvElement {
					b.Fatal(describe(ev), err)
				}
			}
		})
	}
}
