package fsm

import "github.com/beevik/etree"

// This file is the user machine's routing (RFC 6120 §10, RFC 6121 §8):
// what happens to a stanza a resource sends, and to a stanza that arrives
// for the user.

// outbound answers a stanza from one of the user's resources (I-20).
func (m *userMachine) outbound(from, to string, el *etree.Element) {
	u := &m.u
	if u.resource(from) < 0 {
		return // I-2: nothing is routed from a resource that is not bound
	}
	typ := attr(el, "type")
	switch Classify(el) {
	case ClassPresence:
		if k, ok := subKind(typ); ok {
			m.outboundSubscription(from, bareOf(to), k, el) // I-30…I-34
			return
		}
	case ClassIQ:
		if to == u.JID {
			m.ownIQ(from, el, typ) // I-40…I-44
			return
		}
	}
	if Classify(el) == ClassPresence && bareOf(to) != u.JID {
		m.track(from, to, typ) // I-13
	}
	m.send(from, to, el)
}

// track records (available) or forgets (unavailable, error) a directed
// presence target of resource from (I-13).
func (m *userMachine) track(from, to, typ string) {
	u := &m.u
	i := u.resource(from)
	r := u.Resources[i]
	on := typ == ""
	if on == r.directedExactly(to) || (typ != "" && typ != "unavailable" && typ != "error") {
		return
	}
	var d []string
	for _, t := range r.Directed {
		if t != to {
			d = append(d, t)
		}
	}
	if on {
		d = append(d, to)
	}
	r.Directed = d
	u.setResource(i, r)
}

// clearDirected forgets every directed-presence target of resource i.
func (m *userMachine) clearDirected(i int) {
	u := &m.u
	if len(u.Resources[i].Directed) == 0 {
		return
	}
	r := u.Resources[i]
	r.Directed = nil
	u.setResource(i, r)
}

// send routes el from from (one of the user's resources, or its bare JID)
// to to: back into this machine for the user's own addresses, to the hub
// for other entities of the server, and with an error back for domains
// this server does not serve (I-21).
func (m *userMachine) send(from, to string, el *etree.Element) {
	m.sendAlso(from, to, el, nil)
}

// sendAlso is send for presence to a bare JID that must also reach the
// listed full JIDs of that user, available or not (I-13).
func (m *userMachine) sendAlso(from, to string, el *etree.Element, also []string) {
	u := &m.u
	switch {
	case bareOf(to) == u.JID:
		m.inbound(from, to, el, nil)
	case !u.policy().serves(domainOf(to)):
		m.bounce(from, to, el, errCancel, "remote-server-not-found")
	default:
		m.emit(UserEffect{Kind: UEffRoute, From: from, To: to, Elem: el, Directed: also})
	}
}

// route hands el from from to to, another entity of the server. Stanzas the
// server sends on its own (broadcasts, probes and their answers) to a domain
// it does not serve are dropped (I-21): this server does not federate.
func (m *userMachine) route(from, to string, el *etree.Element) {
	if !m.u.policy().serves(domainOf(to)) {
		return
	}
	m.emit(UserEffect{Kind: UEffRoute, From: from, To: to, Elem: el})
}

// bounce answers el (sent from from to to) with a stanza error, unless el
// is itself an error or an iq result (RFC 6120 §8.3.1).
func (m *userMachine) bounce(from, to string, el *etree.Element, typ, cond string) {
	t := attr(el, "type")
	if t == "error" || (Classify(el) == ClassIQ && t == "result") {
		return
	}
	e := stanzaError(el, "", typ, cond, "")
	e.RemoveAttr("from")
	if bareOf(from) == m.u.JID {
		if m.u.resource(from) >= 0 {
			m.deliver(to, from, from, e)
		}
		return
	}
	m.emit(UserEffect{Kind: UEffRoute, From: to, To: from, Elem: e})
}

// inbound answers a stanza from another entity (or the user's own
// resource) addressed to the user's bare JID or one of its full JIDs.
func (m *userMachine) inbound(from, to string, el *etree.Element, also []string) {
	u := &m.u
	typ := attr(el, "type")
	if !u.Exists {
		m.noAccount(from, to, el) // I-22
		return
	}
	switch Classify(el) {
	case ClassPresence:
		switch k, sub := subKind(typ); {
		case sub && k != Subscribe && to != u.JID && u.resource(to) < 0:
			// I-38: only a subscription request to a full JID that is not
			// connected counts (RFC 6121 §8.5.3.2.2).
		case sub:
			m.inboundSubscription(bareOf(from), k, el) // I-35…I-39
		case typ == "probe":
			m.answerProbe(from, to, el) // I-14
		default:
			m.inboundPresence(from, to, el, also) // I-15
		}
	case ClassMessage:
		m.message(from, to, el, typ) // I-23…I-27
	case ClassIQ:
		m.inboundIQ(from, to, el, typ) // I-28, I-29
	}
}

// noAccount answers a stanza to an address with no account (RFC 6121
// §8.5.1, §4.3.2; I-22): messages and iq get or set get
// service-unavailable, a probe gets unsubscribed, other presence is
// dropped.
func (m *userMachine) noAccount(from, to string, el *etree.Element) {
	switch {
	case Classify(el) != ClassPresence:
		m.bounce(from, to, el, errCancel, "service-unavailable")
	case attr(el, "type") == "probe":
		m.route(bareOf(to), from, withID(subscription("unsubscribed"), el))
	}
}

// message delivers a message (RFC 6121 §8.5.2, §8.5.3; I-23…I-27).
func (m *userMachine) message(from, to string, el *etree.Element, typ string) {
	u := &m.u
	if to != u.JID {
		if u.resource(to) >= 0 {
			m.deliver(from, to, to, el) // I-23: a connected full JID, available or not
			return
		}
		switch typ {
		case "error":
			return // I-24
		case "chat":
			// I-24: a chat message to a full JID that is not connected is
			// treated as addressed to the bare JID.
		default:
			m.bounce(from, to, el, errCancel, "service-unavailable") // I-24
			return
		}
	}
	switch typ {
	case "error":
		return // I-25
	case "groupchat":
		m.bounce(from, to, el, errCancel, "service-unavailable") // I-25
	case "headline":
		for _, r := range u.Resources {
			if r.Available() && r.Priority >= 0 {
				m.deliver(from, to, r.FullJID, el) // I-26
			}
		}
	default:
		top, ok := u.topPriority()
		if !ok {
			if u.policy().offline() {
				m.emit(UserEffect{Kind: UEffStoreOffline, From: from, To: u.JID, Elem: el}) // I-27
			} else {
				m.bounce(from, to, el, errCancel, "service-unavailable") // I-27
			}
			return
		}
		for _, r := range u.Resources {
			if r.Available() && r.Priority == top {
				m.deliver(from, to, r.FullJID, el) // I-26
			}
		}
	}
}

// topPriority returns the highest non-negative priority among the
// available resources, and false if there is none.
func (u *User) topPriority() (int8, bool) {
	top, ok := int8(-1), false
	for _, r := range u.Resources {
		if r.Available() && r.Priority >= 0 && r.Priority >= top {
			top, ok = r.Priority, true
		}
	}
	return top, ok
}

// inboundIQ answers an iq for the user (RFC 6121 §8.5.2.1.3, §8.5.3; I-28,
// I-29): to a connected full JID it is delivered; the server answers for the
// bare JID, and for a full JID that is not connected, with
// service-unavailable (results and errors are dropped).
func (m *userMachine) inboundIQ(from, to string, el *etree.Element, typ string) {
	u := &m.u
	if i := u.resource(to); to != u.JID && i >= 0 && (typ == "result" || typ == "error" || m.sharesPresence(from) || u.Resources[i].directedTo(from)) {
		m.deliver(from, to, to, el) // I-28
		return
	}
	if to == u.JID && bareOf(from) == u.JID && (typ == "get" || typ == "set") {
		m.ownIQ(from, el, typ) // I-40
		return
	}
	if _, child := childElements(el); to == u.JID && typ == "set" && child != nil && child.Tag == "query" && namespace(child) == NSRoster {
		m.bounce(from, to, el, errAuth, "forbidden") // I-29: another's roster (RFC 6121 §2.3.3)
		return
	}
	m.bounce(from, to, el, errCancel, "service-unavailable") // I-29
}

// sharesPresence reports whether an iq get or set from from may reach the
// user's full JIDs (RFC 6121 §8.5.3.1): from the user's own resources, the
// server, a contact with a subscription from the user, or anybody under
// Policy.IQFromStrangers.
func (m *userMachine) sharesPresence(from string) bool {
	u := &m.u
	bare := bareOf(from)
	if bare == u.JID || u.policy().IQFromStrangers || bare == domainOf(u.JID) {
		return true
	}
	item, ok := u.Roster.Item(bare)
	return ok && (item.Sub == SubFrom || item.Sub == SubBoth)
}

// flush delivers the stored offline messages to the resource that asked
// for them, each with a delay stamp, and deletes them (I-27): the hub
// deletes only those of the deliveries it handed to the live session
// (UEffDeleteOffline), so a session that closes halfway through, its output
// full, loses none.
func (m *userMachine) flush(to string, msgs []StoredMessage) {
	u := &m.u
	if u.resource(to) < 0 || len(msgs) == 0 {
		return // the resource left before its messages arrived: keep them
	}
	for _, msg := range msgs {
		el := msg.Elem.Copy()
		d := nsElement("delay", "urn:xmpp:delay")
		d.CreateAttr("from", domainOf(u.JID))
		d.CreateAttr("stamp", msg.Stamp)
		el.AddChild(d)
		m.deliver(attr(el, "from"), u.JID, to, el)
	}
	m.emit(UserEffect{Kind: UEffDeleteOffline, Count: len(msgs)})
}
