package stream_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/stream"
)

// hdr is a client's stream header.
const hdr = `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>`

// describe renders an event as one short line: "open {ns}local",
// "elem <xml>", "end", "error condition".
func describe(ev fsm.Event) string {
	switch ev.Kind {
	case fsm.EvStreamOpen:
		ns := ev.Header.Space
		if ns == fsm.NSStreams {
			ns = "streams"
		}
		return "open {" + ns + "}" + ev.Header.Local
	case fsm.EvElement:
		return "elem " + fsm.XML(ev.Elem)
	case fsm.EvStreamEnd:
		return "end"
	case fsm.EvXMLError:
		return "error " + ev.Condition
	}
	return "unexpected " + ev.Kind.String()
}

// result is what reading a whole input gave.
type result struct {
	lines  []string    // describe of each event, then "io: …" for a read error
	events []fsm.Event // the events
	texts  []string    // the Text of each error event
}

// readAll reads r until it stops, checking what the API promises about
// the end: after EvStreamEnd or EvXMLError Next returns io.EOF; a read
// error is returned again.
func readAll(t testing.TB, r *stream.Reader) result {
	t.Helper()
	var res result
	for i := 0; ; i++ {
		if i > 1e6 {
			t.Fatalf("no end after %d events", i)
		}
		ev, err := r.Next()
		if err != nil {
			res.lines = append(res.lines, "io: "+err.Error())
			if _, err2 := r.Next(); !errors.Is(err2, err) {
				t.Fatalf("after read error %v, Next returned %v", err, err2)
			}
			return res
		}
		res.lines = append(res.lines, describe(ev))
		res.events = append(res.events, ev)
		if ev.Kind == fsm.EvXMLError {
			res.texts = append(res.texts, ev.Text)
		}
		if ev.Kind == fsm.EvXMLError || ev.Kind == fsm.EvStreamEnd {
			for range 2 {
				if ev2, err := r.Next(); err != io.EOF {
					t.Fatalf("after %s, Next returned %s, %v; want io.EOF", describe(ev), describe(ev2), err)
				}
			}
			return res
		}
	}
}

func read(t testing.TB, src io.Reader, opts stream.ReaderOptions) result {
	t.Helper()
	return readAll(t, stream.NewReader(src, opts))
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// repeatReader yields prefix, then body repeated forever (or for n bytes).
type repeatReader struct {
	prefix []byte
	body   []byte
	off    int
	left   int64 // bytes of body still to give; < 0 for no end
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if len(r.prefix) > 0 {
		n := copy(p, r.prefix)
		r.prefix = r.prefix[n:]
		return n, nil
	}
	if r.left == 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.left != 0 {
		c := copy(p[n:], r.body[r.off:])
		if r.left > 0 && int64(c) > r.left {
			c = int(r.left)
		}
		n += c
		r.off = (r.off + c) % len(r.body)
		if r.left > 0 {
			r.left -= int64(c)
		}
	}
	return n, nil
}

// chunkReader gives its input in the chunks given.
type chunkReader struct{ chunks [][]byte }

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.chunks) > 0 && len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	c.chunks[0] = c.chunks[0][n:]
	return n, nil
}

// sameElement returns how a and b differ (structure, names as written,
// attributes in order, text), or "".
func sameElement(a, b *etree.Element) string {
	if a.Space != b.Space || a.Tag != b.Tag {
		return fmt.Sprintf("name %s != %s", a.FullTag(), b.FullTag())
	}
	if !slices.EqualFunc(a.Attr, b.Attr, func(x, y etree.Attr) bool {
		return x.Space == y.Space && x.Key == y.Key && x.Value == y.Value
	}) {
		return fmt.Sprintf("attributes of %s: %q != %q", a.FullTag(), attrs(a), attrs(b))
	}
	ac, bc := children(a), children(b)
	if len(ac) != len(bc) {
		return fmt.Sprintf("children of %s: %d != %d", a.FullTag(), len(ac), len(bc))
	}
	for i := range ac {
		switch x := ac[i].(type) {
		case *etree.Element:
			y, ok := bc[i].(*etree.Element)
			if !ok {
				return fmt.Sprintf("child %d of %s: element != text", i, a.FullTag())
			}
			if d := sameElement(x, y); d != "" {
				return d
			}
		case *etree.CharData:
			y, ok := bc[i].(*etree.CharData)
			if !ok {
				return fmt.Sprintf("child %d of %s: text != element", i, a.FullTag())
			}
			if x.Data != y.Data {
				return fmt.Sprintf("text in %s: %q != %q", a.FullTag(), x.Data, y.Data)
			}
		}
	}
	return ""
}

func attrs(e *etree.Element) []string {
	var s []string
	for _, a := range e.Attr {
		s = append(s, a.FullKey()+"="+a.Value)
	}
	return s
}

// children returns the elements and non-empty text of e, adjacent text
// joined.
func children(e *etree.Element) []etree.Token {
	var out []etree.Token
	for _, c := range e.Child {
		switch c := c.(type) {
		case *etree.Element:
			out = append(out, c)
		case *etree.CharData:
			if c.Data == "" {
				continue
			}
			if n := len(out); n > 0 {
				if prev, ok := out[n-1].(*etree.CharData); ok {
					out[n-1] = etree.NewText(prev.Data + c.Data)
					continue
				}
			}
			out = append(out, etree.NewText(c.Data))
		}
	}
	return out
}

// canon renders what an element means, independent of prefixes and of
// where namespaces are declared: {namespace}local names (an element
// without one is in jabber:client, as fsm reads it), attributes sorted,
// namespace declarations left out.
func canon(e *etree.Element) string {
	var b strings.Builder
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		// Outside any element, the stream declares jabber:client as the
		// default namespace and the stream prefix.
		ns := e.NamespaceURI()
		switch {
		case e.Space == "xml":
			ns = "http://www.w3.org/XML/1998/namespace"
		case ns == "" && e.Space == "":
			ns = fsm.NSClient
		case ns == "" && e.Space == "stream":
			ns = fsm.NSStreams
		}
		fmt.Fprintf(&b, "<{%s}%s", ns, e.Tag)
		var as []string
		for _, a := range e.Attr {
			if a.Space == "xmlns" || a.Space == "" && a.Key == "xmlns" {
				continue
			}
			ans := a.NamespaceURI()
			if a.Space == "xml" {
				ans = "http://www.w3.org/XML/1998/namespace"
			}
			as = append(as, fmt.Sprintf(" {%s}%s=%q", ans, a.Key, a.Value))
		}
		slices.Sort(as)
		b.WriteString(strings.Join(as, ""))
		b.WriteString(">")
		for _, c := range children(e) {
			switch c := c.(type) {
			case *etree.Element:
				walk(c)
			case *etree.CharData:
				fmt.Fprintf(&b, "%q", c.Data)
			}
		}
		b.WriteString("</>")
	}
	walk(e)
	return b.String()
}

// roundTrip writes els with a Writer inside a stream and reads them back.
func roundTrip(t testing.TB, els []*etree.Element) []*etree.Element {
	t.Helper()
	var buf bytes.Buffer
	w := stream.NewWriter(&buf)
	if err := w.WriteHeader(&fsm.OutHeader{ID: "s1", From: "localhost", Version: "1.0", Lang: "en"}); err != nil {
		t.Fatal(err)
	}
	for _, el := range els {
		if err := w.WriteElement(el, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteClose(); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	res := read(t, bytes.NewReader(buf.Bytes()), stream.ReaderOptions{})
	n := len(res.events)
	if n != len(els)+2 || res.events[0].Kind != fsm.EvStreamOpen || res.events[n-1].Kind != fsm.EvStreamEnd {
		t.Fatalf("reading back %q:\n%s", buf.String(), strings.Join(res.lines, "\n"))
	}
	var out []*etree.Element
	for _, ev := range res.events[1 : n-1] {
		out = append(out, ev.Elem)
	}
	return out
}
