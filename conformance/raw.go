package conformance

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
)

// This file reads the bodies of our raw-stream extension (README.md): what
// "sends raw" writes and the two receives bodies that are no element.

// RawKind is the form of a "sends raw" or "receives" body.
type RawKind uint8

// The forms of a body.
const (
	// RawElement: one complete element (a stanza, a negotiation element).
	RawElement RawKind = iota + 1
	// RawHeader: one start tag left open, optionally after an XML
	// declaration: a stream header such as <stream:stream to='localhost'
	// version='1.0' xmlns='jabber:client'
	// xmlns:stream='http://etherx.jabber.org/streams'>.
	RawHeader
	// RawClose: exactly </stream:stream>, the end of the stream.
	RawClose
	// RawBytes: anything else (sends raw only): input a framer must
	// reject, e.g. mismatched tags, a comment.
	RawBytes
)

var rawNames = map[RawKind]string{
	RawElement: "element", RawHeader: "stream header", RawClose: "stream end", RawBytes: "bytes",
}

func (k RawKind) String() string {
	if n, ok := rawNames[k]; ok {
		return n
	}
	return fmt.Sprintf("raw(%d)", uint8(k))
}

// streamEnd is the body of the RawClose form.
const streamEnd = "</stream:stream>"

// ClassifyRaw returns the form of a body. Leading and trailing white space
// does not count. A start tag left open is a header only when nothing but
// white space follows it.
func ClassifyRaw(text string) RawKind {
	text = strings.TrimSpace(text)
	switch {
	case text == streamEnd:
		return RawClose
	case isHeader(text):
		return RawHeader
	case isElement(text):
		return RawElement
	}
	return RawBytes
}

// isHeader reports whether text is an optional XML declaration and one
// start tag, left open.
func isHeader(text string) bool {
	dec := xml.NewDecoder(strings.NewReader(text))
	dec.Strict = true
	start := false
	for i := 0; ; i++ {
		tok, err := dec.RawToken()
		if err == io.EOF {
			return start
		}
		if err != nil {
			return false
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			if i != 0 || t.Target != "xml" {
				return false
			}
		case xml.StartElement:
			if start {
				return false
			}
			start = true
		case xml.CharData:
			if !start || strings.TrimSpace(string(t)) != "" {
				return false
			}
		default:
			return false
		}
	}
}

// isElement reports whether text is one well-formed element with nothing
// a stream may not carry (comments, processing instructions, directives:
// RFC 6120 §11.1) and no text around it.
func isElement(text string) bool {
	dec := xml.NewDecoder(strings.NewReader(text))
	dec.Strict = true
	depth, roots := 0, 0
	for {
		tok, err := dec.Token() // Token checks that end tags match
		if err == io.EOF {
			return depth == 0 && roots == 1
		}
		if err != nil {
			return false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
			if depth < 0 {
				return false
			}
		case xml.CharData:
			if depth == 0 && strings.TrimSpace(string(t)) != "" {
				return false
			}
		default:
			return false
		}
	}
}

// rawXMLError is the stream error condition a framer reports for a
// RawBytes body (S-92): restricted-xml for a comment, processing
// instruction or directive (RFC 6120 §11.1, §4.9.3.18), else
// not-well-formed.
func rawXMLError(text string) string {
	dec := xml.NewDecoder(strings.NewReader(text))
	dec.Strict = true
	for {
		tok, err := dec.RawToken()
		if err != nil {
			return "not-well-formed"
		}
		switch tok.(type) {
		case xml.Comment, xml.ProcInst, xml.Directive:
			return "restricted-xml"
		}
	}
}

// headerTag returns the open start tag of a RawHeader body.
func headerTag(text string) (xml.StartElement, error) {
	dec := xml.NewDecoder(strings.NewReader(strings.TrimSpace(text)))
	for {
		tok, err := dec.RawToken()
		if err != nil {
			return xml.StartElement{}, errors.New("not a stream header")
		}
		if t, ok := tok.(xml.StartElement); ok {
			return t.Copy(), nil
		}
	}
}

// headerElement reads a RawHeader body as the element it opens, with no
// children: what a receives compares with the server's header.
func headerElement(text string) (*etree.Element, error) {
	t, err := headerTag(text)
	if err != nil {
		return nil, err
	}
	name := t.Name.Local
	if t.Name.Space != "" {
		name = t.Name.Space + ":" + name
	}
	text = strings.TrimSpace(text)
	if strings.HasPrefix(text, "<?") {
		text = text[strings.Index(text, "?>")+2:]
	}
	return ParseStanza(text + "</" + name + ">")
}
