package fsm

import "github.com/beevik/etree"

// This file is the user machine's presence: broadcasts from the user's own
// resources (RFC 6121 §4.2, §4.4, §4.5), probes (§4.3) and presence that
// other entities send to the user.

// broadcast answers a resource's broadcast presence (I-10, I-11, I-12).
func (m *userMachine) broadcast(ev UserEvent) {
	u := &m.u
	i := u.resource(ev.From)
	if i < 0 || Classify(ev.Elem) != ClassPresence || hasAttr(ev.Elem, "to") {
		// I-2: nothing is sent for a resource that is not bound, nor
		// broadcast that is not presence without a to.
		return
	}
	switch typ, typed := lookup(ev.Elem, "type"); {
	case !typed:
		m.available(i, ev.Elem)
	case typ == "unavailable":
		r := u.Resources[i]
		if !r.Available() {
			// I-12: nobody else saw it available: its echo, and the
			// directed-presence targets.
			m.deliver(r.FullJID, r.FullJID, r.FullJID, ev.Elem)
			m.clearDirected(i)
			for _, to := range ev.Directed {
				m.send(r.FullJID, to, ev.Elem)
			}
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
			m.send(full, item.JID, el) // I-21: a contact elsewhere gets an error back
		}
	}
	if !initial {
		return
	}
	for _, item := range u.Roster.Items {
		if item.Sub == SubTo || item.Sub == SubBoth {
			m.route(u.JID, item.JID, probe())
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
		r.Presence, r.Priority, r.Directed = nil, 0, nil
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
			// I-13: the contact's full JIDs among the targets ride along,
			// so that its machine reaches them once, available or not.
			var also []string
			for _, to := range directed {
				if bareOf(to) == item.JID && to != item.JID {
					also = append(also, to)
				}
			}
			m.sendAlso(full, item.JID, el, also) // I-21: a contact elsewhere gets an error back
		}
	}
	for _, to := range directed {
		bare := bareOf(to)
		switch item, ok := u.Roster.Item(bare); {
		case bare == u.JID:
			// I-13: the user's own available resources were told above.
			if i := u.resource(to); i >= 0 && to != full && !u.Resources[i].Available() {
				m.deliver(full, to, to, el)
			}
		case ok && (item.Sub == SubFrom || item.Sub == SubBoth):
			// I-13: the broadcast to the contact carried it.
		default:
			m.send(full, to, el)
		}
	}
}

// probe builds <presence type='probe'/>.
func probe() *etree.Element {
	el := newElement("presence", 1)
	el.CreateAttr("type", "probe")
	return el
}

// answerProbe answers a presence probe from prober to to, the user's bare
// JID or one of its full JIDs (RFC 6121 §4.3.2, §4.6.6; I-14). A subscriber
// (subscription from the user) probing the bare JID gets the last broadcast
// presence of every available resource; probing a full JID, a bare
// <presence/> from that resource if it is available. A prober the addressed
// resource sent directed presence to gets the same bare answer. When the
// answer would be empty, unavailable presence from the bare JID. Anybody
// else gets unsubscribed from the bare JID. Answers built here carry the
// probe's id (§4.3.2.1).
func (m *userMachine) answerProbe(prober, to string, probe *etree.Element) {
	u := &m.u
	item, ok := u.Roster.Item(bareOf(prober))
	subscribed := ok && (item.Sub == SubFrom || item.Sub == SubBoth)
	if to == u.JID && subscribed {
		sent := false
		for _, r := range u.Resources {
			if r.Available() {
				m.route(r.FullJID, prober, r.Presence)
				sent = true
			}
		}
		if !sent {
			m.route(u.JID, prober, withID(unavailable(""), probe))
		}
		return
	}
	if i := u.resource(to); i >= 0 && (subscribed || u.Resources[i].directedTo(prober)) {
		if r := &u.Resources[i]; r.Available() {
			// RFC 6121 §4.3.2.1: a subscriber's answer keeps the id of
			// the resource's own presence; anybody else's mirrors the
			// probe's.
			idFrom := probe
			if subscribed {
				idFrom = r.Presence
			}
			m.route(to, prober, withID(etree.NewElement("presence"), idFrom))
		} else {
			m.route(u.JID, prober, withID(unavailable(""), probe))
		}
		return
	}
	if subscribed {
		m.route(u.JID, prober, withID(unavailable(""), probe))
		return
	}
	if u.pending(bareOf(prober)) >= 0 {
		// A prober whose request waits for the user's answer gets
		// nothing: unsubscribed would cancel its request on its side
		// (Appendix A.3.4) while the request stays pending here.
		return
	}
	m.route(u.JID, prober, withID(subscription("unsubscribed"), probe))
}

// withID gives el the id of orig, if it has one.
func withID(el, orig *etree.Element) *etree.Element {
	if id, ok := lookup(orig, "id"); ok {
		el.CreateAttr("id", id)
	}
	return el
}

// inboundPresence delivers available, unavailable or error presence from
// another entity (I-15): to every available resource when addressed to the
// bare JID, and then to the connected resources in also that are not
// available (directed-presence targets, I-13); to the resource itself
// (available or not) when addressed to a connected full JID; and nowhere
// otherwise.
func (m *userMachine) inboundPresence(from, to string, el *etree.Element, also []string) {
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
	for _, full := range also {
		if i := u.resource(full); i >= 0 && !u.Resources[i].Available() {
			m.deliver(from, full, full, el)
		}
	}
}
