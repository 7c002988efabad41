package fsm

import "github.com/beevik/etree"

// This file is the user machine's presence: broadcasts from the user's own
// resources (RFC 6121 §4.2, §4.4, §4.5), probes (§4.3) and presence that
// other entities send to the user.

// broadcast answers a resource's broadcast presence (I-10, I-11, I-12).
func (m *userMachine) broadcast(ev UserEvent) {
	u := &m.u
	i := u.resource(ev.From)
	if i < 0 {
		return // I-2: nothing is sent for a resource that is not bound
	}
	switch attr(ev.Elem, "type") {
	case "":
		m.available(i, ev.Elem)
	case "unavailable":
		r := u.Resources[i]
		if !r.Available() && len(ev.Directed) == 0 {
			m.deliver(r.FullJID, r.FullJID, r.FullJID, ev.Elem) // I-12: only its own echo
			return
		}
		m.broadcastUnavailable(r.FullJID, ev.Elem, ev.Directed)
	}
}

// available stores a resource's available presence and sends it to the
// user's available resources (itself included) and to the contacts with a
// subscription from the user; an initial presence also probes the contacts
// the user is subscribed to, gives the new resource the other resources'
// presence and the pending subscription requests, and flushes offline
// messages if its priority is not negative (I-10, I-11).
func (m *userMachine) available(i int, el *etree.Element) {
	u := &m.u
	r := u.Resources[i]
	initial := !r.Available()
	r.Presence, r.Priority = el, priority(el)
	u.setResource(i, r)
	full := r.FullJID
	for _, o := range u.Resources {
		if o.Available() {
			m.deliver(full, o.FullJID, o.FullJID, el)
		}
	}
	for _, item := range u.Roster.Items {
		if item.Sub == SubFrom || item.Sub == SubBoth {
			m.emit(UserEffect{Kind: UEffRoute, From: full, To: item.JID, Elem: el})
		}
	}
	if !initial {
		return
	}
	for _, item := range u.Roster.Items {
		if item.Sub == SubTo || item.Sub == SubBoth {
			m.emit(UserEffect{Kind: UEffRoute, From: u.JID, To: item.JID, Elem: probe()})
		}
	}
	for _, o := range u.Resources {
		if o.Available() && o.FullJID != full {
			m.deliver(o.FullJID, full, full, o.Presence)
		}
	}
	for _, p := range u.Pending {
		m.deliver(p.From, u.JID, full, p.Elem)
	}
	if r.Priority >= 0 && u.policy().offline() {
		m.emit(UserEffect{Kind: UEffLoadOffline, To: full})
	}
}

// broadcastUnavailable ends a resource's availability and tells the user's
// available resources (the sender included, while connected), the
// contacts with a subscription from the user, and the directed-presence
// targets that neither reached (I-12, I-13).
func (m *userMachine) broadcastUnavailable(full string, el *etree.Element, directed []string) {
	u := &m.u
	if i := u.resource(full); i >= 0 {
		r := u.Resources[i]
		r.Presence, r.Priority = nil, 0
		u.setResource(i, r)
		m.deliver(full, full, full, el)
	}
	for _, o := range u.Resources {
		if o.Available() {
			m.deliver(full, o.FullJID, o.FullJID, el)
		}
	}
	for _, item := range u.Roster.Items {
		if item.Sub == SubFrom || item.Sub == SubBoth {
			m.emit(UserEffect{Kind: UEffRoute, From: full, To: item.JID, Elem: el})
		}
	}
	for _, to := range directed {
		bare := bareOf(to)
		if bare == u.JID {
			continue // the user's own resources were told above
		}
		if item, ok := u.Roster.Item(bare); ok && (item.Sub == SubFrom || item.Sub == SubBoth) {
			continue // the broadcast reached it
		}
		m.send(full, to, el)
	}
}

// probe builds <presence type='probe'/>.
func probe() *etree.Element {
	el := etree.NewElement("presence")
	el.CreateAttr("type", "probe")
	return el
}

// answerProbe answers a presence probe from prober to to, the user's bare
// JID or one of its full JIDs (RFC 6121 §4.3.2, I-14): an entity without a
// subscription from the user gets unsubscribed from the bare JID; a
// subscriber gets the last broadcast presence of every available resource
// (of the addressed one only, for a full JID), or unavailable presence from
// the bare JID when there is none.
func (m *userMachine) answerProbe(prober, to string) {
	u := &m.u
	item, ok := u.Roster.Item(bareOf(prober))
	if !ok || (item.Sub != SubFrom && item.Sub != SubBoth) {
		m.emit(UserEffect{Kind: UEffRoute, From: u.JID, To: prober, Elem: subscription("unsubscribed")})
		return
	}
	sent := false
	for _, r := range u.Resources {
		if r.Available() && (to == u.JID || to == r.FullJID) {
			m.emit(UserEffect{Kind: UEffRoute, From: r.FullJID, To: prober, Elem: r.Presence})
			sent = true
		}
	}
	if !sent {
		m.emit(UserEffect{Kind: UEffRoute, From: u.JID, To: prober, Elem: unavailable("")})
	}
}

// inboundPresence delivers available, unavailable or error presence from
// another entity (I-15): to every available resource when addressed to the
// bare JID, to the resource itself (available or not) when addressed to a
// connected full JID, and nowhere otherwise.
func (m *userMachine) inboundPresence(from, to string, el *etree.Element) {
	u := &m.u
	if to != u.JID {
		if u.resource(to) >= 0 {
			m.deliver(from, to, to, el)
		}
		return
	}
	for _, r := range u.Resources {
		if r.Available() {
			m.deliver(from, u.JID, r.FullJID, el)
		}
	}
}
