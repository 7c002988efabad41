package conformance

import (
	"fmt"
	"sort"
	"strings"

	"github.com/beevik/etree"
	"github.com/google/go-cmp/cmp"
)

// Namespaces the matcher knows by name.
const (
	nsClient  = "jabber:client"
	nsStreams = "http://etherx.jabber.org/streams"
	nsXML     = "http://www.w3.org/XML/1998/namespace"
)

// Any is the attribute value that matches any value of a present attribute.
const Any = "{scansion:any}"

// MismatchKind says which matching rule a received element broke.
type MismatchKind uint8

// The ways a received element can fail to match.
const (
	MismatchName           MismatchKind = iota + 1 // another element (local name or namespace)
	MismatchMissingAttr                            // an expected attribute is absent
	MismatchAttrValue                              // an attribute has another value
	MismatchExtraAttr                              // strict: an attribute that was not expected
	MismatchMissingChild                           // an expected child is absent
	MismatchExtraChild                             // strict: a child that was not expected
	MismatchOrder                                  // strict: the children are there, in another order
	MismatchText                                   // the text differs
	MismatchBadExpectation                         // the expected element itself is invalid (a bad scansion:strict)
)

var mismatchNames = map[MismatchKind]string{
	MismatchName: "element", MismatchMissingAttr: "missing attribute",
	MismatchAttrValue: "attribute value", MismatchExtraAttr: "extra attribute",
	MismatchMissingChild: "missing child", MismatchExtraChild: "extra child",
	MismatchOrder: "child order", MismatchText: "text",
	MismatchBadExpectation: "bad expectation",
}

func (k MismatchKind) String() string {
	if n, ok := mismatchNames[k]; ok {
		return n
	}
	return fmt.Sprintf("mismatch(%d)", uint8(k))
}

// MismatchError is the first rule a received element broke.
type MismatchError struct {
	// Path locates the element in the expected stanza, e.g.
	// "/iq/{jabber:iq:roster}query/{jabber:iq:roster}item[2]".
	Path string
	Kind MismatchKind
	// Strict tells the mode the element was matched in.
	Strict bool
	Msg    string
}

func (e *MismatchError) Error() string {
	mode := "non-strict"
	if e.Strict {
		mode = "strict"
	}
	return fmt.Sprintf("%s (%s): %s: %s", e.Path, mode, e.Kind, e.Msg)
}

// Match reports whether the received element got matches the expected
// element want, as scansion matches (prosody-behaviour.md §8.3), and returns
// a *MismatchError naming the first broken rule when it does not.
//
// The rules, applied to want and then recursively to its children:
//
//  1. Names. An element is identified by namespace and local name.
//     Namespaces are resolved from xmlns declarations, so xmlns attributes
//     are compared as namespaces, never as attributes. An element with no
//     namespace declared (in scope) is in jabber:client, the stream's
//     content namespace; the undeclared prefix "stream:" means
//     http://etherx.jabber.org/streams (for our stream-error extension).
//
//  2. Mode. An element whose namespace is jabber:client (a stanza and its
//     un-namespaced children: body, priority, status, error…) is matched
//     non-strictly; an element in any other namespace (a payload such as
//     <query xmlns='jabber:iq:roster'>, and its children, which inherit the
//     namespace) strictly. The attribute scansion:strict='true' or 'false'
//     on an expected element overrides its mode; the override is for that
//     element only (its attributes and its list of children), each child
//     again takes its mode from its own namespace or override. The
//     scansion:strict attribute is not compared, and the scansion: prefix
//     needs no declaration.
//
//  3. Attributes, non-strict: every expected attribute is present on the
//     received element with an equal value; extra received attributes are
//     ignored. Strict: in addition, every received attribute is expected.
//     Attributes are identified by namespace and local name (xml:lang is
//     {http://www.w3.org/XML/1998/namespace}lang).
//
//  4. {scansion:any}, in both modes: an expected attribute with this value
//     must be present; its value is not compared.
//
//  5. Children, non-strict: every expected child matches a received child
//     (recursively, by these rules), distinct expected children matching
//     distinct received children; order is ignored and extra received
//     children are ignored. Strict: the received element has exactly as
//     many child elements as expected, and the i-th matches the i-th.
//
//  6. Text. Text is the element's character data (comments ignored),
//     trimmed of leading and trailing white space; internal white space is
//     compared as is. Whitespace-only text is no text: the indentation of a
//     script never counts, in either mode. When the expected element has
//     text, the received text must be equal. When it has none, a
//     non-strict element ignores the received text and a strict element
//     requires none (the payload is exact).
func Match(want, got *etree.Element) error {
	if want == nil || got == nil {
		return &MismatchError{Path: "/", Kind: MismatchName, Msg: fmt.Sprintf("want %s, got %s", nameOrNil(want), nameOrNil(got))}
	}
	return match(want, got, "")
}

func nameOrNil(el *etree.Element) string {
	if el == nil {
		return "nothing"
	}
	return qname(el)
}

// elemNS resolves an element's namespace (rule 1).
func elemNS(el *etree.Element) string {
	if ns := el.NamespaceURI(); ns != "" {
		return ns
	}
	switch el.Space {
	case "":
		return nsClient
	case "stream":
		return nsStreams
	}
	return el.Space + ":" // an undeclared prefix stands for itself
}

// qname is an element's name for paths and messages: the local name for
// jabber:client, "stream:local" for the streams namespace, {ns}local else.
func qname(el *etree.Element) string {
	switch ns := elemNS(el); ns {
	case nsClient:
		return el.Tag
	case nsStreams:
		return "stream:" + el.Tag
	default:
		return "{" + ns + "}" + el.Tag
	}
}

// attrKey identifies an attribute by namespace and local name.
func attrKey(el *etree.Element, a etree.Attr) string {
	switch a.Space {
	case "":
		return a.Key
	case "xml":
		return "{" + nsXML + "}" + a.Key
	}
	for e := el; e != nil; e = e.Parent() {
		for _, d := range e.Attr {
			if d.Space == "xmlns" && d.Key == a.Space {
				return "{" + d.Value + "}" + a.Key
			}
		}
	}
	return a.Space + ":" + a.Key
}

// isNSDecl reports whether a is a namespace declaration.
func isNSDecl(a etree.Attr) bool {
	return (a.Space == "" && a.Key == "xmlns") || a.Space == "xmlns"
}

// isScansion reports whether a is a scansion: directive.
func isScansion(a etree.Attr) bool { return a.Space == "scansion" }

// attrs returns the compared attributes of el, by key.
func attrs(el *etree.Element) map[string]string {
	m := map[string]string{}
	for _, a := range el.Attr {
		if isNSDecl(a) || isScansion(a) {
			continue
		}
		m[attrKey(el, a)] = a.Value
	}
	return m
}

// strictness returns the mode of an expected element (rule 2).
func strictness(want *etree.Element) (bool, error) {
	for _, a := range want.Attr {
		if !isScansion(a) {
			continue
		}
		if a.Key != "strict" {
			return false, fmt.Errorf("unknown scansion attribute scansion:%s", a.Key)
		}
		switch a.Value {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return false, fmt.Errorf("scansion:strict=%q (want 'true' or 'false')", a.Value)
	}
	return elemNS(want) != nsClient, nil
}

// text returns el's trimmed character data (rule 6).
func text(el *etree.Element) string {
	var b strings.Builder
	for _, t := range el.Child {
		if c, ok := t.(*etree.CharData); ok {
			b.WriteString(c.Data)
		}
	}
	return strings.TrimSpace(b.String())
}

func match(want, got *etree.Element, parent string) error {
	path := parent + "/" + qname(want)
	strict, err := strictness(want)
	if err != nil {
		return &MismatchError{Path: path, Kind: MismatchBadExpectation, Msg: err.Error()}
	}
	fail := func(k MismatchKind, format string, args ...any) error {
		return &MismatchError{Path: path, Kind: k, Strict: strict, Msg: fmt.Sprintf(format, args...)}
	}
	if qname(want) != qname(got) {
		return fail(MismatchName, "want <%s>, got <%s>", qname(want), qname(got))
	}

	// Attributes (rules 3 and 4), in a stable order for stable messages.
	wa, ga := attrs(want), attrs(got)
	for _, k := range sortedKeys(wa) {
		g, ok := ga[k]
		switch {
		case !ok:
			return fail(MismatchMissingAttr, "attribute %s=%q is missing", k, wa[k])
		case wa[k] != Any && wa[k] != g:
			return fail(MismatchAttrValue, "attribute %s: want %q, got %q", k, wa[k], g)
		}
	}
	if strict {
		for _, k := range sortedKeys(ga) {
			if _, ok := wa[k]; !ok {
				return fail(MismatchExtraAttr, "unexpected attribute %s=%q", k, ga[k])
			}
		}
	}

	// Text (rule 6).
	wt, gt := text(want), text(got)
	switch {
	case wt != "" && wt != gt:
		return fail(MismatchText, "text: want %q, got %q", wt, gt)
	case wt == "" && strict && gt != "":
		return fail(MismatchText, "unexpected text %q", gt)
	}

	// Children (rule 5).
	wc, gc := want.ChildElements(), got.ChildElements()
	if strict {
		return matchStrictChildren(wc, gc, path, fail)
	}
	return matchLooseChildren(wc, gc, path, fail)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// childPath names the i-th expected child (1-based) for messages.
type failFunc func(MismatchKind, string, ...any) error

// matchStrictChildren: same number of children, pairwise in order.
func matchStrictChildren(wc, gc []*etree.Element, path string, fail failFunc) error {
	for i, w := range wc {
		if i >= len(gc) {
			return fail(MismatchMissingChild, "child %d <%s> is missing (got %d children)", i+1, qname(w), len(gc))
		}
		err := match(w, gc[i], path)
		if err == nil {
			continue
		}
		// Is the expected child elsewhere? Then the order is wrong.
		for j := range gc {
			if j != i && match(w, gc[j], path) == nil {
				return fail(MismatchOrder, "child %d <%s> was received at position %d; strict mode requires the expected order", i+1, qname(w), j+1)
			}
		}
		return err
	}
	if len(gc) > len(wc) {
		return fail(MismatchExtraChild, "unexpected child %d <%s> (want %d children)", len(wc)+1, qname(gc[len(wc)]), len(wc))
	}
	return nil
}

// matchLooseChildren: every expected child matches a distinct received
// child, in any order.
func matchLooseChildren(wc, gc []*etree.Element, path string, fail failFunc) error {
	if len(wc) == 0 {
		return nil
	}
	// candidates[i] lists the received children expected child i matches.
	candidates := make([][]int, len(wc))
	for i, w := range wc {
		var closest error
		for j, g := range gc {
			err := match(w, g, path)
			if err == nil {
				candidates[i] = append(candidates[i], j)
			} else if closest == nil && qname(w) == qname(g) {
				closest = err
			}
		}
		if len(candidates[i]) == 0 {
			if closest != nil {
				// A child of the right name exists: its own mismatch is the
				// most useful message.
				return closest
			}
			return fail(MismatchMissingChild, "no child <%s> received", qname(w))
		}
	}
	used := make([]bool, len(gc))
	var assign func(i int) bool
	assign = func(i int) bool {
		if i == len(wc) {
			return true
		}
		for _, j := range candidates[i] {
			if !used[j] {
				used[j] = true
				if assign(i + 1) {
					return true
				}
				used[j] = false
			}
		}
		return false
	}
	if !assign(0) {
		return fail(MismatchMissingChild, "the %d expected children cannot be matched to distinct received children", len(wc))
	}
	return nil
}

// Canonical renders el as indented XML that does not depend on attribute
// order or indentation: attributes sorted by name (namespace declarations
// first, written only where the namespace changes), whitespace-only text
// dropped, text trimmed, two spaces per level.
func Canonical(el *etree.Element) string {
	if el == nil {
		return "(nothing)"
	}
	var b strings.Builder
	canonical(&b, el, nsClient, 0)
	return strings.TrimSuffix(b.String(), "\n")
}

func canonical(b *strings.Builder, el *etree.Element, parentNS string, depth int) {
	indent := strings.Repeat("  ", depth)
	ns := elemNS(el)
	name := el.Tag
	var list []string
	switch {
	case ns == nsStreams:
		name = "stream:" + el.Tag
	case ns != parentNS:
		list = append(list, "xmlns="+quote(ns))
	}
	var rest []string
	for _, a := range el.Attr {
		if isNSDecl(a) {
			continue
		}
		rest = append(rest, a.FullKey()+"="+quote(a.Value))
	}
	sort.Strings(rest)
	list = append(list, rest...)
	b.WriteString(indent + "<" + name)
	for _, a := range list {
		b.WriteString(" " + a)
	}
	t, kids := text(el), el.ChildElements()
	switch {
	case t == "" && len(kids) == 0:
		b.WriteString("/>\n")
		return
	case len(kids) == 0:
		b.WriteString(">" + escapeText(t) + "</" + name + ">\n")
		return
	}
	b.WriteString(">\n")
	if t != "" {
		b.WriteString(indent + "  " + escapeText(t) + "\n")
	}
	for _, k := range kids {
		canonical(b, k, ns, depth+1)
	}
	b.WriteString(indent + "</" + name + ">\n")
}

var attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", "'", "&apos;", "\n", "&#xA;", "\t", "&#x9;")
var textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func quote(v string) string      { return "'" + attrEscaper.Replace(v) + "'" }
func escapeText(t string) string { return textEscaper.Replace(t) }

// Diff renders want and got canonically (see Canonical) and returns the
// go-cmp diff of their lines, "-" lines expected and "+" lines received, or
// "" when the renderings are equal. The diff shows every difference,
// including those the matching rules ignore (extra attributes and children
// of non-strict elements); Match says which one counts.
func Diff(want, got *etree.Element) string {
	return cmp.Diff(strings.Split(Canonical(want), "\n"), strings.Split(Canonical(got), "\n"), wholeLines)
}

// wholeLines makes go-cmp compare lines as opaque values, so that a changed
// line is shown whole rather than as a diff of its characters.
var wholeLines = cmp.Comparer(func(a, b string) bool { return a == b })

// ParseStanza parses the XML text of one element, as a script body holds
// it: the undeclared prefixes scansion: and stream: are accepted.
func ParseStanza(text string) (*etree.Element, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromString(text); err != nil {
		return nil, err
	}
	roots := doc.ChildElements()
	if len(roots) != 1 {
		return nil, fmt.Errorf("want one element, found %d", len(roots))
	}
	root := roots[0]
	doc.RemoveChild(root)
	return root, nil
}
