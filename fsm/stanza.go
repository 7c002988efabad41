package fsm

import (
	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/jid"
)

// This file answers stanzas (RFC 6120 §8): before the session is bound, and
// from a connected resource.

// unboundStanza answers a stanza from a session that is not bound.
func (m *machine) unboundStanza(c Class, el *etree.Element) {
	s := &m.s
	if typ := attr(el, "type"); c == ClassIQ && (typ == "get" || typ == "set") {
		if b := bindChild(el); b != nil && s.Phase == WaitForBind {
			m.bind(el, b) // S-50, S-52
			return
		} else if b != nil && s.Phase.binding() {
			m.reply(stanzaError(el, "", errCancel, "not-allowed", "")) // S-57
			return
		}
	}
	// S-60
	if s.policy().UnauthStanza == UnauthStreamError {
		m.fail("not-authorized", "")
		return
	}
	typ := attr(el, "type")
	if typ == "error" || (c == ClassIQ && typ == "result") {
		return
	}
	if c == ClassIQ && !s.Authenticated() && bindChild(el) != nil {
		m.reply(stanzaError(el, "", errAuth, "not-authorized", ""))
		return
	}
	m.reply(stanzaError(el, "", errCancel, "service-unavailable", ""))
}

// stanza answers a stanza from a connected resource.
func (m *machine) stanza(c Class, el *etree.Element) {
	s := &m.s
	typ, typed := lookup(el, "type")
	if !validType(c, typ, typed) {
		m.reply(stanzaError(el, s.FullJID, errModify, "bad-request", "")) // S-65
		return
	}
	if c == ClassIQ && !m.validIQ(el, typ) {
		return
	}
	to, toSelf, ok := m.destination(el, c, typ)
	if !ok {
		return
	}
	switch c {
	case ClassPresence:
		m.presence(el, typ, to, toSelf)
	case ClassIQ:
		m.iq(el, typ, to, toSelf)
	default:
		m.emit(Effect{Kind: EffRoute, Elem: el, From: s.FullJID, To: to}) // S-63, S-68
	}
}

// validType reports whether typ is a type the stanza may have (RFC 6120
// §8.2.3, RFC 6121 §4.7.1, §5.2.2; an unknown message type is treated as
// normal). typed says whether the attribute is present: an empty type is
// not a missing one.
func validType(c Class, typ string, typed bool) bool {
	switch c {
	case ClassIQ:
		return typ == "get" || typ == "set" || typ == "result" || typ == "error"
	case ClassPresence:
		switch typ {
		case "":
			return !typed
		case "unavailable", "subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe", "error":
			return true
		}
		return false
	}
	return true
}

// validIQ checks the iq rules of RFC 6120 §8.2.3 (S-65): an id, and exactly
// one child for get and set.
func (m *machine) validIQ(el *etree.Element, typ string) bool {
	if attr(el, "id") == "" {
		if typ != "error" && typ != "result" {
			m.reply(stanzaError(el, m.s.FullJID, errModify, "bad-request", ""))
		}
		return false
	}
	if typ == "get" || typ == "set" {
		if n, _ := childElements(el); n != 1 {
			m.reply(stanzaError(el, m.s.FullJID, errModify, "bad-request", ""))
			return false
		}
	}
	return true
}

// destination prepares the stanza's to (S-64): none, or the user's own bare
// JID, means the user's account (toSelf). A malformed to (an empty one
// included) is answered with jid-malformed, or dropped if the stanza is an
// error or an iq result, which are never answered with an error.
func (m *machine) destination(el *etree.Element, c Class, typ string) (to string, toSelf, ok bool) {
	s := &m.s
	bare := s.FullJID[:len(s.FullJID)-len(s.Resource)-1]
	raw, addressed := lookup(el, "to")
	if !addressed {
		return bare, true, true
	}
	j, err := jid.Parse(raw)
	if err != nil {
		if typ != "error" && !(c == ClassIQ && typ == "result") {
			m.reply(stanzaError(el, s.FullJID, errModify, "jid-malformed", ""))
		}
		return "", false, false
	}
	to = j.String()
	return to, to == bare, true
}

// iq answers an iq from a connected resource.
func (m *machine) iq(el *etree.Element, typ, to string, toSelf bool) {
	s := &m.s
	if typ == "get" || typ == "set" {
		_, child := childElements(el)
		switch ns := namespace(child); {
		case ns == NSBind && child.Tag == "bind":
			m.reply(stanzaError(el, s.FullJID, errCancel, "not-allowed", "")) // S-57
			return
		case ns == NSSession && child.Tag == "session" && (toSelf || to == s.Host):
			if s.policy().LegacySession {
				m.reply(iqResult(attr(el, "id"), s.FullJID, nil)) // S-66
			} else {
				m.reply(stanzaError(el, s.FullJID, errCancel, "service-unavailable", ""))
			}
			return
		case ns == NSRoster && child.Tag == "query" && toSelf && typ == "get":
			s.Interested = true // S-67
		}
	}
	m.emit(Effect{Kind: EffRoute, Elem: el, From: s.FullJID, To: to}) // S-63, S-69
}

// routed answers a stanza the server routes to this session (S-80, S-81).
func (m *machine) routed(el *etree.Element, from, to string) {
	s := &m.s
	if el == nil {
		return
	}
	if from == "" {
		from = attr(el, "from")
	}
	if to == "" {
		to = attr(el, "to")
	}
	c := Classify(el)
	if c != ClassMessage && c != ClassPresence && c != ClassIQ {
		return // S-80: only stanzas are routed
	}
	if s.Phase == Established {
		m.emit(Effect{Kind: EffSend, Elem: el, From: from, To: to}) // S-80
		return
	}
	// S-81: the session cannot take stanzas yet; answer as for a resource
	// that is not connected (RFC 6121 §8.5.3.2): an iq get or set and a
	// message other than chat get service-unavailable, a chat message goes
	// to the bare JID.
	typ := attr(el, "type")
	if from == "" || typ == "error" {
		return
	}
	switch {
	case c == ClassIQ && typ != "get" && typ != "set":
	case c == ClassIQ || (c == ClassMessage && typ != "chat"):
		e := stanzaError(el, from, errCancel, "service-unavailable", "")
		m.emit(Effect{Kind: EffRoute, Elem: e, From: to, To: from})
	case c == ClassMessage:
		if j, err := jid.Parse(to); err == nil && !j.IsBare() {
			m.emit(Effect{Kind: EffRoute, Elem: el, From: from, To: j.Bare().String()})
		}
	}
}
