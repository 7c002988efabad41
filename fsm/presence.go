package fsm

import "github.com/beevik/etree"

// This file answers presence from a connected resource (RFC 6121 §4): what
// the session itself keeps. Who receives a broadcast is the user machine's
// decision.

// presence answers a presence stanza.
func (m *machine) presence(el *etree.Element, typ, to string, toSelf bool) {
	s := &m.s
	if toSelf {
		switch typ {
		case "":
			m.available(el) // S-70, S-76
		case "unavailable":
			m.unavailable(el) // S-71, S-76
		case "error":
			// A presence error to the user's own account concerns nobody.
		default:
			if !hasAttr(el, "to") {
				m.reply(stanzaError(el, s.FullJID, errModify, "bad-request", "")) // S-72
				return
			}
			m.emit(Effect{Kind: EffRoute, Elem: el, From: s.FullJID, To: to}) // S-75
		}
		return
	}
	switch typ {
	case "":
		if !m.direct(to, true) {
			m.reply(stanzaError(el, s.FullJID, errWait, "resource-constraint", "")) // S-106
			return
		}
	case "unavailable", "error":
		m.direct(to, false) // S-74
	}
	m.emit(Effect{Kind: EffRoute, Elem: el, From: s.FullJID, To: to}) // S-74, S-75
}

// available stores a broadcast available presence and its priority, and
// hands it to the user machine (S-70).
func (m *machine) available(el *etree.Element) {
	s := &m.s
	if hasAttr(el, "to") {
		el = el.Copy() // S-76: the stored presence has no to
		el.RemoveAttr("to")
	}
	initial := s.Presence == nil
	s.Presence = el
	s.Priority = priority(el)
	m.emit(Effect{Kind: EffBroadcast, Elem: el, From: s.FullJID, Initial: initial})
}

// unavailable ends availability and tells the contacts and the
// directed-presence targets (S-71).
func (m *machine) unavailable(el *etree.Element) {
	s := &m.s
	if hasAttr(el, "to") {
		el = el.Copy()
		el.RemoveAttr("to")
	}
	m.emit(Effect{Kind: EffBroadcast, Elem: el, From: s.FullJID, Directed: s.Directed})
	s.Presence = nil
	s.Priority = 0
	s.Directed = nil
}

// direct records (on) or forgets a directed-presence target (S-74). The
// slice is copied, never changed in place, since other Session values may
// share it. It reports false, recording nothing, for a new target beyond
// Policy.MaxDirected (S-106).
func (m *machine) direct(to string, on bool) bool {
	s := &m.s
	i := 0
	for i < len(s.Directed) && s.Directed[i] != to {
		i++
	}
	found := i < len(s.Directed)
	switch {
	case on && !found && s.policy().MaxDirected > 0 && len(s.Directed) >= s.policy().MaxDirected:
		return false
	case on && !found:
		d := make([]string, len(s.Directed)+1)
		copy(d, s.Directed)
		d[len(s.Directed)] = to
		s.Directed = d
	case !on && found:
		if len(s.Directed) == 1 {
			s.Directed = nil
			return true
		}
		d := make([]string, 0, len(s.Directed)-1)
		d = append(d, s.Directed[:i]...)
		s.Directed = append(d, s.Directed[i+1:]...)
	}
	return true
}

// priority reads <priority/> (RFC 6121 §4.7.2.3): an integer clamped to
// -128..127; absent or not an integer, 0.
func priority(el *etree.Element) int8 {
	for _, t := range el.Child {
		c, ok := t.(*etree.Element)
		if !ok || c.Tag != "priority" || namespace(c) != NSClient {
			continue
		}
		return parsePriority(c.Text())
	}
	return 0
}

// parsePriority parses [+-]?[0-9]+ with clamping; anything else is 0.
func parsePriority(v string) int8 {
	neg := false
	if v != "" && (v[0] == '+' || v[0] == '-') {
		neg = v[0] == '-'
		v = v[1:]
	}
	if v == "" {
		return 0
	}
	n := 0
	for _, c := range []byte(v) {
		if c < '0' || c > '9' {
			return 0
		}
		if n <= 128 {
			n = n*10 + int(c-'0')
		}
	}
	switch {
	case neg && n >= 128:
		return -128
	case neg:
		return int8(-n)
	case n >= 127:
		return 127
	}
	return int8(n)
}
