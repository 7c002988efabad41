package stream

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"unicode/utf8"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
)

// Writer writes the server's side of a stream: the header, elements and the
// close, into a buffer that Flush sends. An adapter writes a step's effects
// and flushes once. Attribute values are single-quoted. It is not safe for
// concurrent use.
//
// Elements are written as they are: an element that relies on the header's
// declarations (jabber:client as the default namespace, the stream prefix)
// means the same inside this stream. Comments, processing instructions and
// directives in an element are left out (RFC 6120 §11.1), a CDATA section
// is written as escaped text, and text or attribute values that are not
// XML characters (or not UTF-8) are written as U+FFFD.
type Writer struct {
	bw sink
	// buf is bw when it is a bufio.Writer over the destination; nil when
	// the destination is a *bytes.Buffer, written to directly.
	buf *bufio.Writer
}

// sink is what a Writer writes into: a bufio.Writer, or a bytes.Buffer.
type sink interface {
	io.Writer
	io.ByteWriter
	io.StringWriter
}

// NewWriter returns a Writer that writes to w. A *bytes.Buffer is written
// to directly, with nothing held in between (an output queue in memory
// needs no second buffer, and an idle connection then holds none); any
// other destination through a buffer that Flush empties.
func NewWriter(w io.Writer) *Writer {
	wr := &Writer{}
	wr.Reset(w)
	return wr
}

// Reset drops anything not flushed and writes to w from now on (the TLS
// connection after STARTTLS).
func (w *Writer) Reset(dst io.Writer) {
	if b, ok := dst.(*bytes.Buffer); ok {
		w.bw, w.buf = b, nil
		return
	}
	if w.buf == nil {
		w.buf = bufio.NewWriterSize(dst, bufSize)
	} else {
		w.buf.Reset(dst)
	}
	w.bw = w.buf
}

// Buffered returns the number of bytes written and not flushed.
func (w *Writer) Buffered() int {
	if w.buf == nil {
		return 0
	}
	return w.buf.Buffered()
}

// Flush sends what has been written.
func (w *Writer) Flush() error {
	if w.buf == nil {
		return nil
	}
	return w.buf.Flush()
}

// err returns the buffer's sticky error, if a write to the connection
// failed.
func (w *Writer) err() error {
	_, err := w.bw.Write(nil)
	return err
}

// WriteHeader writes the XML declaration and the server's stream header
// (fsm.EffSendHeader). Empty attributes are left out.
func (w *Writer) WriteHeader(h *fsm.OutHeader) error {
	w.bw.WriteString("<?xml version='1.0'?><stream:stream xmlns='" + fsm.NSClient +
		"' xmlns:stream='" + fsm.NSStreams + "'")
	if h == nil {
		h = &fsm.OutHeader{}
	}
	w.attr("", "id", h.ID)
	w.attr("", "from", h.From)
	w.attr("", "to", h.To)
	w.attr("", "version", h.Version)
	w.attr("xml", "lang", h.Lang)
	w.bw.WriteByte('>')
	return w.err()
}

// WriteElement writes el (fsm.EffSend). A non-empty from or to is written
// as el's from or to attribute, in place of the one el has (or before its
// attributes when it has none); el itself is not changed.
func (w *Writer) WriteElement(el *etree.Element, from, to string) error {
	if el == nil {
		return errNilElement
	}
	w.element(el, from, to)
	return w.err()
}

var errNilElement = errors.New("stream: WriteElement of a nil element")

// WriteClose writes </stream:stream>.
func (w *Writer) WriteClose() error {
	w.bw.WriteString("</stream:stream>")
	return w.err()
}

// WriteKeepalive writes a single space, a whitespace keepalive.
func (w *Writer) WriteKeepalive() error {
	w.bw.WriteByte(' ')
	return w.err()
}

func (w *Writer) name(space, local string) {
	if space != "" {
		w.bw.WriteString(space)
		w.bw.WriteByte(':')
	}
	w.bw.WriteString(local)
}

// attr writes ` space:key='value'`, nothing when value is empty.
func (w *Writer) attr(space, key, value string) {
	if value == "" {
		return
	}
	w.attrAlways(space, key, value)
}

func (w *Writer) attrAlways(space, key, value string) {
	w.bw.WriteByte(' ')
	w.name(space, key)
	w.bw.WriteString("='")
	w.escape(value, &attrEscapes)
	w.bw.WriteByte('\'')
}

func (w *Writer) element(el *etree.Element, from, to string) {
	w.bw.WriteByte('<')
	w.name(el.Space, el.Tag)
	if from != "" || to != "" {
		// Overrides the element does not carry come first.
		var hasFrom, hasTo bool
		for i := range el.Attr {
			if a := &el.Attr[i]; a.Space == "" {
				hasFrom = hasFrom || a.Key == "from"
				hasTo = hasTo || a.Key == "to"
			}
		}
		if !hasFrom {
			w.attr("", "from", from)
		}
		if !hasTo {
			w.attr("", "to", to)
		}
	}
	for i := range el.Attr {
		a := &el.Attr[i]
		v := a.Value
		if a.Space == "" {
			switch {
			case a.Key == "from" && from != "":
				v = from
			case a.Key == "to" && to != "":
				v = to
			}
		}
		w.attrAlways(a.Space, a.Key, v)
	}
	open := false
	for _, c := range el.Child {
		switch c := c.(type) {
		case *etree.Element:
			if !open {
				w.bw.WriteByte('>')
				open = true
			}
			w.element(c, "", "")
		case *etree.CharData:
			if c.Data == "" {
				continue
			}
			if !open {
				w.bw.WriteByte('>')
				open = true
			}
			w.escape(c.Data, &textEscapes)
		}
	}
	if !open {
		w.bw.WriteString("/>")
		return
	}
	w.bw.WriteString("</")
	w.name(el.Space, el.Tag)
	w.bw.WriteByte('>')
}

// Escapes, by byte, for text and for single-quoted attribute values: ""
// means the byte is written as it is. Whitespace in attribute values is
// escaped so that a parser's attribute value normalization keeps it, and
// \r everywhere so that end-of-line handling keeps it.
var textEscapes, attrEscapes [utf8.RuneSelf]string

func init() {
	for c := range utf8.RuneSelf {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			textEscapes[c] = "\uFFFD"
			attrEscapes[c] = "\uFFFD"
		}
	}
	textEscapes['&'] = "&amp;"
	textEscapes['<'] = "&lt;"
	textEscapes['>'] = "&gt;"
	textEscapes['\r'] = "&#xD;"
	attrEscapes['&'] = "&amp;"
	attrEscapes['<'] = "&lt;"
	attrEscapes['>'] = "&gt;"
	attrEscapes['\''] = "&apos;"
	attrEscapes['"'] = "&quot;"
	attrEscapes['\t'] = "&#x9;"
	attrEscapes['\n'] = "&#xA;"
	attrEscapes['\r'] = "&#xD;"
}

// escape writes s with the escapes of tbl; runes that are not XML
// characters, and bytes that are not UTF-8, become U+FFFD.
func (w *Writer) escape(s string, tbl *[utf8.RuneSelf]string) {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if tbl[c] == "" {
				i++
				continue
			}
			w.bw.WriteString(s[last:i])
			w.bw.WriteString(tbl[c])
			i++
			last = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || !xmlChar(r) {
			w.bw.WriteString(s[last:i])
			w.bw.WriteString("\uFFFD")
			i += size
			last = i
			continue
		}
		i += size
	}
	w.bw.WriteString(s[last:])
}

// xmlChar reports whether r (at or above U+0080) is an XML 1.0 Char.
func xmlChar(r rune) bool {
	return r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}
