// Package stream frames an XMPP client-to-server XML stream: Reader turns
// the bytes a client sends into the fsm's stream events (the header, one
// etree element per top-level element, the end, or the XML error that ends
// it), enforcing the restricted XML of RFC 6120 §11 and a stanza size
// limit; Writer writes the server's header, elements and close, buffered.
//
// The framer reports and the fsm decides: Reader says what arrived and, for
// input it cannot accept, which stream error condition applies; it never
// writes anything itself. The conditions (RFC 6120 §4.9.3, §11):
//
//   - restricted-xml: a DOCTYPE or other <!…> declaration, a comment, a
//     processing instruction (an XML declaration is one except as the first
//     bytes of a stream), an entity reference other than the five
//     predefined ones;
//   - not-well-formed: what encoding/xml rejects in strict mode, duplicate
//     attributes (by name as written, or by namespace and local name),
//     mismatched end tags, names that are not namespace-well-formed,
//     misused xml and xmlns prefixes, a malformed XML declaration, text or
//     CDATA before the header;
//   - bad-namespace-prefix: a prefix with no declaration in scope, an
//     element named xmlns:…;
//   - bad-format: text (other than whitespace) between top-level elements;
//   - unsupported-encoding: bytes that are not UTF-8, an XML declaration
//     naming another encoding;
//   - policy-violation: a top-level element (or header) over MaxStanza
//     bytes, nesting deeper than MaxDepth, more than 256 namespace
//     declarations in scope.
//
// Whitespace between top-level elements (keepalives) is skipped without an
// event and counts against no limit.
package stream

import (
	"encoding/xml"
	"errors"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
)

// Defaults for ReaderOptions.
const (
	DefaultMaxStanza = 256 << 10 // 262144 bytes
	DefaultMaxDepth  = 100
)

// ReaderOptions limit what a Reader accepts. Zero values mean the defaults.
type ReaderOptions struct {
	// MaxStanza is the most bytes of input one top-level element (or the
	// stream header, or anything else before it) may take, counting its
	// raw bytes from its '<' to its last '>'. A longer one ends the stream
	// with policy-violation. Default 262144 (256 KiB).
	MaxStanza int
	// MaxDepth is the deepest nesting of elements inside the stream: a
	// top-level element is at depth 1, its children at 2. Deeper ends the
	// stream with policy-violation. Default 100.
	MaxDepth int
}

// maxBindings limits the namespace declarations in scope at once (the
// header's and those of the open elements): every name is looked up among
// them, and without a limit a 256 KiB stanza of 10,000 declarations and
// 30,000 elements took 130 ms to read, against 15 to 30 ms for the costliest
// other stanzas of that size. Real stanzas have a handful.
const maxBindings = 256

// bigToken is the size of a top-level element after which the decoder is
// replaced, to free the buffer it grew for it.
const bigToken = 64 << 10

const (
	nsXML   = "http://www.w3.org/XML/1998/namespace"
	nsXMLNS = "http://www.w3.org/2000/xmlns/"
)

// A binding is one namespace declaration in scope.
type binding struct {
	prefix, uri string // prefix "" is the default namespace
	level       int    // 1 for the stream header, 2 for a top-level element, …
	used        bool   // a header binding the current top-level element uses
}

type attrKey struct{ space, local string }

// Reader reads one XMPP stream (and, after Reset, the next) and returns its
// events. It is not safe for concurrent use.
type Reader struct {
	br        byteReader
	dec       *xml.Decoder
	maxStanza int64
	maxLevel  int // MaxDepth + 1: the header is level 1

	level       int   // open elements, the header included
	streamStart int64 // br offset where the current stream began
	tokStart    int64 // br offset where the last top-level token began
	first       bool  // no token of this stream read yet
	done        bool  // the stream ended (EvStreamEnd or EvXMLError)
	closeNext   bool  // the header was <stream/>: EvStreamEnd comes next
	err         error // a read error, returned again by every Next
	charset     string

	root attrKey        // the header's name as written
	ns   []binding      // namespace declarations in scope
	mark []int          // len(ns) when each open element started
	cur  *etree.Element // innermost open element below the header
	keys []attrKey      // scratch for duplicate checks
	// seen is scratch for duplicate checks on many attributes.
	seen map[attrKey]bool
	// The text of the open element not yet added (see text).
	pieces  int
	textStr string
	textBuf []byte
}

// NewReader returns a Reader of the stream that r carries.
func NewReader(r io.Reader, opts ReaderOptions) *Reader {
	if opts.MaxStanza <= 0 {
		opts.MaxStanza = DefaultMaxStanza
	}
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = DefaultMaxDepth
	}
	rd := &Reader{maxStanza: int64(opts.MaxStanza), maxLevel: opts.MaxDepth + 1}
	rd.br.init(r)
	rd.startStream()
	return rd
}

// Reset starts a new stream, for fsm.EffResetStream. With src nil or the
// reader already in use (a restart after SASL success), bytes already read
// from it and not yet parsed belong to the new stream and are kept. With
// another reader (the TLS connection after STARTTLS), whatever was buffered
// from the old one is dropped: check Buffered before the handshake.
func (r *Reader) Reset(src io.Reader) {
	if src != nil && !sameReader(src, r.br.src) {
		r.br.init(src)
	}
	r.startStream()
}

// Buffered returns the number of bytes read from the connection that the
// parser has not consumed. After <starttls/> it should be 0: a client may
// send nothing more before <proceed/>.
func (r *Reader) Buffered() int { return r.br.buffered() }

// InputOffset returns the number of bytes consumed since NewReader, over
// all streams.
func (r *Reader) InputOffset() int64 { return r.br.offset() }

func (r *Reader) startStream() {
	r.newDecoder()
	r.level = 0
	r.streamStart = r.br.offset()
	r.tokStart = r.streamStart
	r.first = true
	r.done = false
	r.closeNext = false
	r.err = nil
	r.root = attrKey{}
	r.ns = r.ns[:0]
	r.mark = r.mark[:0]
	r.cur = nil
	r.pieces, r.textStr = 0, ""
	r.br.setLimit(noLimit)
}

// newDecoder starts a decoder on the input. Between top-level elements the
// decoder holds no state, so a new one continues the stream.
func (r *Reader) newDecoder() {
	r.dec = xml.NewDecoder(&r.br)
	r.dec.Strict = true
	r.dec.CharsetReader = r.rejectCharset
}

var errCharset = errors.New("only UTF-8 is supported")

// rejectCharset is the decoder's CharsetReader: the decoder calls it for an
// XML declaration whose encoding is not UTF-8.
func (r *Reader) rejectCharset(label string, _ io.Reader) (io.Reader, error) {
	r.charset = label
	return nil, errCharset
}

// Next returns the next event of the stream: fsm.EvStreamOpen for the first
// element, fsm.EvElement for each complete top-level element, then
// fsm.EvStreamEnd at the header's end tag or fsm.EvXMLError (Condition and
// Text set) for input the stream cannot accept. After either of those it
// returns io.EOF until Reset. An error is a read error: io.EOF when the
// connection ended between elements, io.ErrUnexpectedEOF inside one, or
// what the connection's Read returned; Next returns it again after that.
func (r *Reader) Next() (fsm.Event, error) {
	if r.done {
		return fsm.Event{}, io.EOF
	}
	if r.err != nil {
		return fsm.Event{}, r.err
	}
	if r.closeNext {
		r.done = true
		return fsm.Event{Kind: fsm.EvStreamEnd}, nil
	}
	for {
		if r.level <= 1 {
			if ev, stop, err := r.boundary(); stop {
				return ev, err
			}
		}
		tok, err := r.dec.RawToken()
		if err != nil {
			return r.decodeError(err)
		}
		atStart := r.first
		r.first = false
		switch t := tok.(type) {
		case xml.StartElement:
			if ev, ok := r.startElement(t); ok {
				return ev, nil
			}
		case xml.EndElement:
			if ev, ok := r.endElement(t); ok {
				return ev, nil
			}
		case xml.CharData:
			if r.level >= 2 {
				r.text(t)
				continue
			}
			// Character data outside every element can only be a CDATA
			// section here: boundary stops plain text.
			if r.level == 0 {
				return r.fail("not-well-formed", "text outside the stream")
			}
			if !isSpace(t) {
				return r.fail("bad-format", "text between top-level elements")
			}
		case xml.Comment:
			return r.fail("restricted-xml", msgComment)
		case xml.Directive:
			return r.fail("restricted-xml", msgDirective)
		case xml.ProcInst:
			if !atStart || r.level != 0 || t.Target != "xml" {
				return r.fail("restricted-xml", msgProcInst)
			}
			if !xmlDecl(string(t.Inst)) {
				return r.fail("not-well-formed", "malformed XML declaration")
			}
		}
	}
}

const (
	msgComment   = "comments are not allowed"
	msgDirective = "DTDs and other declarations are not allowed"
	msgProcInst  = "processing instructions are not allowed"
)

// boundary runs before a token outside every top-level element: it skips
// whitespace (keepalives), starts the size limit for what follows, and
// rejects comments, declarations and processing instructions before the
// decoder reads them. stop says to return ev and err.
func (r *Reader) boundary() (ev fsm.Event, stop bool, err error) {
	if r.br.offset()-r.tokStart > bigToken {
		// The decoder keeps a buffer as big as the biggest token it
		// read: do not keep a big stanza's for the connection's life.
		r.newDecoder()
	}
	r.br.setLimit(noLimit)
	r.br.skipSpace()
	start := r.br.offset()
	if start != r.streamStart {
		r.first = false
	}
	r.tokStart = start
	r.br.setLimit(start + r.maxStanza)
	p, perr := r.br.peek(1)
	if len(p) == 0 {
		if perr == nil {
			perr = io.ErrNoProgress
		}
		ev, err = r.decodeError(perr)
		return ev, true, err
	}
	if p[0] != '<' {
		if r.level == 0 {
			ev, err = r.fail("not-well-formed", "text outside the stream")
		} else {
			ev, err = r.fail("bad-format", "text between top-level elements")
		}
		return ev, true, err
	}
	// A short peek leaves the error to the decoder.
	if p, _ = r.br.peek(3); len(p) >= 2 {
		switch {
		case p[1] == '?' && !(r.first && r.level == 0):
			ev, err = r.fail("restricted-xml", msgProcInst)
			return ev, true, err
		case p[1] == '!' && len(p) == 3 && p[2] == '-':
			ev, err = r.fail("restricted-xml", msgComment)
			return ev, true, err
		case p[1] == '!' && len(p) == 3 && p[2] != '[':
			ev, err = r.fail("restricted-xml", msgDirective)
			return ev, true, err
		}
	}
	return fsm.Event{}, false, nil
}

// maxText limits an error's text, which may quote the input (a name) and
// goes back to the client in the stream error.
const maxText = 100

// fail ends the stream with an XML error.
func (r *Reader) fail(cond, text string) (fsm.Event, error) {
	r.done = true
	if len(text) > maxText {
		cut := maxText
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut] + "…"
	}
	return fsm.Event{Kind: fsm.EvXMLError, Condition: cond, Text: text}, nil
}

// decodeError turns what stopped the decoder (or a peek) into an event or
// a read error.
func (r *Reader) decodeError(err error) (fsm.Event, error) {
	switch {
	case errors.Is(err, errTooBig):
		if r.level == 0 {
			return r.fail("policy-violation", "stream header too big")
		}
		return r.fail("policy-violation", "stanza too big")
	case errors.Is(err, errBadUTF8):
		return r.fail("unsupported-encoding", "invalid UTF-8")
	case errors.Is(err, errCharset):
		return r.fail("unsupported-encoding", "encoding "+r.charset+" is not supported: use UTF-8")
	case r.br.err != nil && errors.Is(err, r.br.err) && err != io.EOF:
		// What the connection's Read returned.
		r.err = err
		return fsm.Event{}, err
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		if r.level >= 2 || err == io.ErrUnexpectedEOF {
			r.err = io.ErrUnexpectedEOF
		} else {
			r.err = io.EOF
		}
		return fsm.Event{}, r.err
	}
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		if strings.HasPrefix(se.Msg, "unexpected EOF") {
			// The decoder converts the connection's io.EOF inside a token.
			r.err = io.ErrUnexpectedEOF
			return fsm.Event{}, r.err
		}
		if ent, ok := strings.CutPrefix(se.Msg, "invalid character entity &"); ok &&
			strings.HasSuffix(ent, ";") && !strings.HasPrefix(ent, "#") {
			// An entity other than the five predefined ones (RFC 6120
			// §11.1); a bad character reference is not well-formed.
			return r.fail("restricted-xml", "entity references are not allowed")
		}
		return r.fail("not-well-formed", se.Msg)
	}
	// The decoder's own checks of the XML declaration (its version).
	return r.fail("not-well-formed", strings.TrimPrefix(err.Error(), "xml: "))
}

// startElement takes a start tag: the stream header at level 0, otherwise
// a new element of the current top-level element.
func (r *Reader) startElement(t xml.StartElement) (fsm.Event, bool) {
	level := r.level + 1
	if level > r.maxLevel {
		ev, _ := r.fail("policy-violation", "elements nested too deeply")
		return ev, true
	}
	if strings.IndexByte(t.Name.Local, ':') >= 0 {
		ev, _ := r.fail("not-well-formed", "invalid element name "+t.Name.Local)
		return ev, true
	}
	if t.Name.Space == "xmlns" {
		ev, _ := r.fail("bad-namespace-prefix", "the xmlns prefix is reserved")
		return ev, true
	}
	r.mark = append(r.mark, len(r.ns))
	r.level = level
	r.keys = r.keys[:0]
	for i := range t.Attr {
		a := &t.Attr[i]
		if a.Name.Local == "" || strings.IndexByte(a.Name.Local, ':') >= 0 {
			ev, _ := r.fail("not-well-formed", "invalid attribute name "+a.Name.Local)
			return ev, true
		}
		r.keys = append(r.keys, attrKey{a.Name.Space, a.Name.Local})
		var prefix string
		switch {
		case a.Name.Space == "xmlns":
			prefix = a.Name.Local
		case a.Name.Space == "" && a.Name.Local == "xmlns":
		default:
			continue
		}
		if msg := checkDecl(prefix, a.Value, a.Name.Space == ""); msg != "" {
			ev, _ := r.fail("not-well-formed", msg)
			return ev, true
		}
		if prefix != "xml" {
			if len(r.ns) == maxBindings {
				ev, _ := r.fail("policy-violation", "too many namespace declarations")
				return ev, true
			}
			r.ns = append(r.ns, binding{prefix: prefix, uri: a.Value, level: level})
		}
	}
	if r.hasDup() {
		ev, _ := r.fail("not-well-formed", "duplicate attribute")
		return ev, true
	}
	space, ok := r.resolve(t.Name.Space)
	if !ok {
		ev, _ := r.fail("bad-namespace-prefix", "undeclared namespace prefix "+t.Name.Space)
		return ev, true
	}
	// Prefixed attributes: each prefix declared, and no two with the same
	// namespace and local name.
	r.keys = r.keys[:0]
	for i := range t.Attr {
		a := &t.Attr[i]
		if a.Name.Space == "" || a.Name.Space == "xmlns" {
			continue
		}
		uri, ok := r.resolve(a.Name.Space)
		if !ok {
			ev, _ := r.fail("bad-namespace-prefix", "undeclared namespace prefix "+a.Name.Space)
			return ev, true
		}
		r.keys = append(r.keys, attrKey{uri, a.Name.Local})
	}
	if len(r.keys) > 1 && r.hasDup() {
		ev, _ := r.fail("not-well-formed", "duplicate attribute")
		return ev, true
	}
	if level == 1 {
		return r.header(t, space), true
	}
	if r.cur != nil {
		r.flushText()
	}
	r.cur = newElement(r.cur, t)
	return fsm.Event{}, false
}

// checkDecl checks a namespace declaration (Namespaces in XML 1.0 §3):
// it returns what is wrong, or "".
func checkDecl(prefix, uri string, isDefault bool) string {
	switch {
	case isDefault:
		if uri == nsXML || uri == nsXMLNS {
			return "reserved namespace declared as default"
		}
	case prefix == "xmlns":
		return "the xmlns prefix cannot be declared"
	case prefix == "xml":
		if uri != nsXML {
			return "the xml prefix cannot be rebound"
		}
	case uri == "":
		return "a namespace prefix cannot be undeclared"
	case uri == nsXML || uri == nsXMLNS:
		return "reserved namespace bound to prefix " + prefix
	}
	return ""
}

// resolve returns the namespace of prefix in the current scope, marking a
// header declaration as used by the current top-level element. The default
// namespace always resolves ("" when none is declared).
func (r *Reader) resolve(prefix string) (string, bool) {
	if prefix == "xml" {
		return nsXML, true
	}
	for i := len(r.ns) - 1; i >= 0; i-- {
		if b := &r.ns[i]; b.prefix == prefix {
			if b.level == 1 && r.level >= 2 {
				b.used = true
			}
			return b.uri, true
		}
	}
	return "", prefix == ""
}

// hasDup reports whether r.keys holds a key twice.
func (r *Reader) hasDup() bool {
	k := r.keys
	if len(k) <= 16 {
		for i := 1; i < len(k); i++ {
			for j := 0; j < i; j++ {
				if k[i] == k[j] {
					return true
				}
			}
		}
		return false
	}
	if r.seen == nil {
		r.seen = make(map[attrKey]bool, len(k))
	}
	clear(r.seen)
	for _, key := range k {
		if r.seen[key] {
			return true
		}
		r.seen[key] = true
	}
	return false
}

// header reports the stream header.
func (r *Reader) header(t xml.StartElement, space string) fsm.Event {
	h := &fsm.StreamHeader{Space: space, Local: t.Name.Local}
	for _, a := range t.Attr {
		switch a.Name.Space {
		case "":
			switch a.Name.Local {
			case "xmlns":
				h.Default = a.Value
			case "to":
				h.To = a.Value
			case "from":
				h.From = a.Value
			case "version":
				h.Version = a.Value
			}
		case "xml":
			if a.Name.Local == "lang" {
				h.Lang = a.Value
			}
		}
	}
	r.root = attrKey{t.Name.Space, t.Name.Local}
	// A self-closing header ends the stream at once; the decoder holds
	// its end tag without reading, so Next must not wait for input first.
	r.closeNext = r.br.selfClosed()
	return fsm.Event{Kind: fsm.EvStreamOpen, Header: h}
}

// newElement builds an element from its start tag, as the last child of
// parent (or on its own when parent is nil). The attributes are created in
// one slice: etree's CreateAttr looks for an attribute of the same name
// first, which would be quadratic in their number and would merge lang and
// xml:lang, so each is created alone in its own slot.
func newElement(parent *etree.Element, t xml.StartElement) *etree.Element {
	var el *etree.Element
	if parent == nil {
		el = etree.NewElement(t.Name.Local)
	} else {
		el = parent.CreateElement(t.Name.Local)
	}
	el.Space = t.Name.Space
	if n := len(t.Attr); n > 0 {
		attrs := make([]etree.Attr, 0, n)
		for i := range t.Attr {
			a := &t.Attr[i]
			el.Attr = attrs[i:i]
			el.CreateAttr(a.Name.Local, a.Value).Space = a.Name.Space
		}
		el.Attr = attrs[:n]
	}
	return el
}

// text collects character data for the open element. The decoder splits
// text at CDATA sections; the pieces become one CharData at the next tag
// (joined in a buffer: joining strings piece by piece would be quadratic).
func (r *Reader) text(t xml.CharData) {
	switch r.pieces {
	case 0:
		r.textStr = string(t)
	case 1:
		r.textBuf = append(append(r.textBuf[:0], r.textStr...), t...)
	default:
		r.textBuf = append(r.textBuf, t...)
	}
	r.pieces++
}

// flushText adds the text collected to the open element.
func (r *Reader) flushText() {
	if r.pieces == 0 {
		return
	}
	s := r.textStr
	if r.pieces > 1 {
		s = string(r.textBuf)
	}
	r.pieces, r.textStr = 0, ""
	if cap(r.textBuf) > 64<<10 {
		r.textBuf = nil // do not keep a big stanza's buffer
	}
	if s != "" {
		r.cur.CreateText(s).SetData(s)
	}
}

// endElement takes an end tag: the end of the stream at level 1, the end
// of a top-level element at level 2.
func (r *Reader) endElement(t xml.EndElement) (fsm.Event, bool) {
	var want attrKey
	switch {
	case r.level == 0:
		ev, _ := r.fail("not-well-formed", "end tag outside the stream")
		return ev, true
	case r.level == 1:
		want = r.root
	default:
		want = attrKey{r.cur.Space, r.cur.Tag}
		r.flushText()
	}
	if t.Name.Space != want.space || t.Name.Local != want.local {
		ev, _ := r.fail("not-well-formed", "end tag does not match start tag")
		return ev, true
	}
	last := len(r.mark) - 1
	r.ns = r.ns[:r.mark[last]]
	r.mark = r.mark[:last]
	r.level--
	switch r.level {
	case 0:
		r.done = true
		return fsm.Event{Kind: fsm.EvStreamEnd}, true
	case 1:
		el := r.cur
		r.cur = nil
		r.declareInherited(el)
		return fsm.Event{Kind: fsm.EvElement, Elem: el}, true
	}
	r.cur = r.cur.Parent()
	return fsm.Event{}, false
}

// declareInherited writes on a finished top-level element the header's
// namespace declarations it (or a descendant) relies on, so that the
// element read alone means what it meant in the stream. The header's
// default namespace jabber:client is left implicit: fsm reads an element
// with no namespace as jabber:client.
func (r *Reader) declareInherited(el *etree.Element) {
	for i := range r.ns { // only the header's bindings are in scope now
		b := &r.ns[i]
		if !b.used {
			continue
		}
		b.used = false
		switch {
		case b.prefix != "":
			el.CreateAttr("xmlns:"+b.prefix, b.uri)
		case b.uri != fsm.NSClient:
			el.CreateAttr("xmlns", b.uri)
		}
	}
}

// isSpace reports whether p is all XML whitespace.
func isSpace(p []byte) bool {
	for _, c := range p {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			return false
		}
	}
	return true
}

// xmlDecl reports whether s, the inside of <?xml …?>, is a well-formed XML
// declaration: version, then optionally encoding and standalone. The
// decoder has already checked that the version is 1.0 and the encoding
// UTF-8.
func xmlDecl(s string) bool {
	v, s, ok := pseudoAttr(s, "version", false)
	if !ok || v != "1.0" {
		return false
	}
	if v, rest, ok := pseudoAttr(s, "encoding", true); ok {
		if !strings.EqualFold(v, "UTF-8") {
			return false
		}
		s = rest
	}
	if v, rest, ok := pseudoAttr(s, "standalone", true); ok {
		if v != "yes" && v != "no" {
			return false
		}
		s = rest
	}
	return strings.Trim(s, " \t\r\n") == ""
}

// pseudoAttr reads ` name = "value"` (or single quotes) at the start of s;
// the leading whitespace is required when needSpace is set (the decoder
// has consumed the space after the target).
func pseudoAttr(s, name string, needSpace bool) (value, rest string, ok bool) {
	t := strings.TrimLeft(s, " \t\r\n")
	if needSpace && len(t) == len(s) {
		return "", s, false
	}
	t, ok = strings.CutPrefix(t, name)
	if !ok {
		return "", s, false
	}
	t = strings.TrimLeft(t, " \t\r\n")
	if t, ok = strings.CutPrefix(t, "="); !ok {
		return "", s, false
	}
	t = strings.TrimLeft(t, " \t\r\n")
	if t == "" || (t[0] != '"' && t[0] != '\'') {
		return "", s, false
	}
	end := strings.IndexByte(t[1:], t[0])
	if end < 0 {
		return "", s, false
	}
	return t[1 : 1+end], t[2+end:], true
}

// sameReader reports whether a and b are the same reader, without
// comparing values whose type cannot be compared.
func sameReader(a, b io.Reader) bool {
	ta := reflect.TypeOf(a)
	if ta != reflect.TypeOf(b) || !ta.Comparable() {
		return false
	}
	return a == b
}
