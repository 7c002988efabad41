package fsm

import "github.com/beevik/etree"

// This file builds the elements the session writes. Nothing here decides
// anything: the rules that pick a condition are in the handlers.

// lookup returns the value of the unprefixed attribute key and whether it
// is present: an empty attribute is not a missing one.
func lookup(el *etree.Element, key string) (string, bool) {
	for i := range el.Attr {
		if a := &el.Attr[i]; a.Key == key && a.Space == "" {
			return a.Value, true
		}
	}
	return "", false
}

// attr returns the value of the unprefixed attribute key, or "".
func attr(el *etree.Element, key string) string {
	v, _ := lookup(el, key)
	return v
}

// hasAttr reports whether the unprefixed attribute key is present.
func hasAttr(el *etree.Element, key string) bool {
	_, ok := lookup(el, key)
	return ok
}

// namespace returns el's namespace; "" (none declared) stands for the
// stream's content namespace, jabber:client.
func namespace(el *etree.Element) string {
	ns := el.NamespaceURI()
	if ns == "" && el.Space == "" {
		return NSClient
	}
	return ns
}

// childElements counts el's child elements and returns the first.
func childElements(el *etree.Element) (n int, first *etree.Element) {
	for _, t := range el.Child {
		if c, ok := t.(*etree.Element); ok {
			if n == 0 {
				first = c
			}
			n++
		}
	}
	return n, first
}

// newElement returns a new element <tag/> with room for attrs attributes,
// so that adding them allocates once rather than at each doubling.
func newElement(tag string, attrs int) *etree.Element {
	el := etree.NewElement(tag)
	el.Attr = make([]etree.Attr, 0, attrs)
	return el
}

// nsElement returns a new element <tag xmlns='ns'/>.
func nsElement(tag, ns string) *etree.Element {
	el := newElement(tag, 1)
	el.CreateAttr("xmlns", ns)
	return el
}

// streamError builds <stream:error><cond/><text/>?</stream:error>.
func streamError(cond, text string) *etree.Element {
	el := etree.NewElement("stream:error")
	el.AddChild(nsElement(cond, NSStreamErr))
	if text != "" {
		t := nsElement("text", NSStreamErr)
		t.SetText(text)
		el.AddChild(t)
	}
	return el
}

// saslFailure builds <failure xmlns=sasl><cond/><text/>?</failure>.
func saslFailure(cond, text string) *etree.Element {
	el := nsElement("failure", NSSASL)
	el.CreateElement(cond)
	if text != "" {
		el.CreateElement("text").SetText(text)
	}
	return el
}

// saslData builds <tag xmlns=sasl>data</tag>, with data already encoded.
func saslData(tag, data string) *etree.Element {
	el := nsElement(tag, NSSASL)
	if data != "" {
		el.SetText(data)
	}
	return el
}

// Stanza error types (RFC 6120 §8.3.2).
const (
	errCancel = "cancel"
	errModify = "modify"
	errAuth   = "auth"
	errWait   = "wait"
)

// stanzaError builds the error reply to stanza orig (RFC 6120 §8.3.1): the
// same name and id, type='error', from the original to, to the original
// sender (to, when known), and <error type=typ><cond/><text/>?</error>. The
// original payload is not echoed.
func stanzaError(orig *etree.Element, to, typ, cond, text string) *etree.Element {
	el := newElement(orig.Tag, 4)
	if id, ok := lookup(orig, "id"); ok {
		el.CreateAttr("id", id)
	}
	el.CreateAttr("type", "error")
	if from := attr(orig, "to"); from != "" {
		el.CreateAttr("from", from)
	}
	if to != "" {
		el.CreateAttr("to", to)
	}
	e := el.CreateElement("error")
	e.CreateAttr("type", typ)
	e.AddChild(nsElement(cond, NSStanzaErr))
	if text != "" {
		t := nsElement("text", NSStanzaErr)
		t.SetText(text)
		e.AddChild(t)
	}
	return el
}

// iqResult builds <iq type='result' id=id [to=to]/> with an optional child.
func iqResult(id, to string, child *etree.Element) *etree.Element {
	el := newElement("iq", 3)
	el.CreateAttr("type", "result")
	el.CreateAttr("id", id)
	if to != "" {
		el.CreateAttr("to", to)
	}
	if child != nil {
		el.AddChild(child)
	}
	return el
}

// unavailable builds <presence type='unavailable'/> with an optional status.
func unavailable(status string) *etree.Element {
	el := newElement("presence", 2) // type, and the id withID may add
	el.CreateAttr("type", "unavailable")
	if status != "" {
		el.CreateElement("status").SetText(status)
	}
	return el
}
