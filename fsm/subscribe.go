package fsm

import "github.com/beevik/etree"

// This file applies subscription stanzas (RFC 6121 §3) with the tables of
// Appendix A (subscription.go): the user's roster, its pending requests and
// what is routed or delivered.

// subKind maps a presence type to a subscription kind.
func subKind(typ string) (SubKind, bool) {
	switch typ {
	case "subscribe":
		return Subscribe, true
	case "subscribed":
		return Subscribed, true
	case "unsubscribe":
		return Unsubscribe, true
	case "unsubscribed":
		return Unsubscribed, true
	}
	return 0, false
}

// setState gives contact the Appendix A state next: the roster item's
// subscription and ask, and the pending request. A changed item is saved and
// pushed; approved, when not nil, also sets the pre-approval.
func (m *userMachine) setState(contact string, next SubState, approved *bool) {
	u := &m.u
	old, had := u.Roster.Item(contact)
	item := old
	item.JID = contact
	item.Sub, item.Ask = next.Sub, next.PendingOut
	if approved != nil {
		item.Approved = *approved
	}
	if !next.PendingIn {
		m.dropPending(contact)
	}
	if had && item.Sub == old.Sub && item.Ask == old.Ask && item.Approved == old.Approved {
		return
	}
	if !had && item.Sub == SubNone && !item.Ask && !item.Approved {
		return // nothing to remember about a stranger
	}
	m.saveItem(item)
	m.push(item, false)
}

// dropPending forgets the pending request from contact, if any.
func (m *userMachine) dropPending(contact string) {
	u := &m.u
	i := u.pending(contact)
	if i < 0 {
		return
	}
	p := make([]PendingRequest, 0, len(u.Pending)-1)
	p = append(p, u.Pending[:i]...)
	u.Pending = append(p, u.Pending[i+1:]...)
	m.emit(UserEffect{Kind: UEffDeletePending, From: contact})
}

// outboundSubscription applies a subscription stanza the user sends to
// contact (Appendix A.2, RFC 6121 §3; I-30…I-34), in the RFC's order: a
// cancellation first sends the user's unavailable presence (§3.2.2); the
// stanza is routed from the user's bare JID where the table says MUST; the
// roster change is saved and pushed; an approval then sends the user's
// current presence (§3.1.5).
func (m *userMachine) outboundSubscription(from, contact string, k SubKind, el *etree.Element) {
	u := &m.u
	if contact == u.JID || contact == "" {
		return // I-30: a user does not subscribe to itself
	}
	if !u.policy().serves(domainOf(contact)) {
		// I-21: it cannot be routed; the sender is told and nothing
		// changes (RFC 6121 §3.1.2).
		m.bounce(from, contact, el, errCancel, "remote-server-not-found")
		return
	}
	item, had := u.Roster.Item(contact)
	st := u.subState(contact)
	row, _ := OutboundRow(st, k)
	preApproval := row.PreApproval && u.policy().PreApproval
	if !had && (preApproval || row.Next.Sub != SubNone || row.Next.PendingOut) && u.policy().rosterFull(len(u.Roster.Items)) {
		// I-52: it would add an item to a full roster (a stanza that
		// leaves a stranger a stranger adds none and goes on).
		m.bounce(from, contact, el, errWait, "resource-constraint")
		return
	}
	if preApproval {
		if !item.Approved {
			m.preApprove(contact, st) // I-33
		}
		return
	}
	if k == Unsubscribed && row.Act == Must && (st.Sub == SubFrom || st.Sub == SubBoth) {
		// I-34: a cancelled subscriber first sees the user go (§3.2.2);
		// a denied requester never saw the user.
		for _, r := range u.Resources {
			if r.Available() {
				m.send(r.FullJID, contact, unavailable("")) // I-34
			}
		}
	}
	if row.Act == Must {
		m.send(u.JID, contact, el) // I-31
	}
	if k == Unsubscribed && item.Approved {
		no := false
		m.setState(contact, row.Next, &no) // I-34: cancels a pre-approval
	} else {
		m.setState(contact, row.Next, nil) // I-31
	}
	if k == Subscribed && row.Act == Must {
		for _, r := range u.Resources {
			if r.Available() {
				m.send(r.FullJID, contact, r.Presence) // I-32
			}
		}
		if u.policy().ProbeOnApproval && row.Next.Sub == SubBoth {
			m.route(u.JID, contact, probe()) // I-32
		}
	}
}

// preApprove records a pre-approval for contact (RFC 6121 §3.4.2): an item
// in state None is created if there is none, and pushed.
func (m *userMachine) preApprove(contact string, st SubState) {
	item, _ := m.u.Roster.Item(contact)
	item.JID = contact
	item.Sub, item.Ask = st.Sub, st.PendingOut
	item.Approved = true
	m.saveItem(item)
	m.push(item, false)
}

// inboundSubscription applies a subscription stanza from contact (Appendix
// A.3, RFC 6121 §3; I-35…I-39).
func (m *userMachine) inboundSubscription(contact string, k SubKind, el *etree.Element) {
	u := &m.u
	if contact == u.JID || contact == "" {
		return
	}
	st := u.subState(contact)
	row, _ := InboundRow(st, k)
	item, _ := u.Roster.Item(contact)
	if k == Subscribe {
		switch {
		case item.Approved && u.policy().PreApproval && !st.PendingIn && (st.Sub == SubNone || st.Sub == SubTo):
			// I-36: a pre-approved contact is approved at once and the
			// request is not delivered (§3.4.2).
			next, _ := Outbound(SubState{Sub: st.Sub, PendingOut: st.PendingOut, PendingIn: true}, Subscribed)
			m.send(u.JID, contact, subscription("subscribed"))
			no := false
			m.setState(contact, next, &no)
			m.sendPresence(contact)
		case row.Act == Must:
			// I-35: a new request is kept and shown to the available
			// resources; it is shown again at each initial presence.
			m.ackSubscribe(contact)
			ps := make([]PendingRequest, len(u.Pending), len(u.Pending)+1)
			copy(ps, u.Pending)
			u.Pending = append(ps, PendingRequest{From: contact, Elem: el})
			m.emit(UserEffect{Kind: UEffSavePending, From: contact, Elem: el})
			for _, r := range u.Resources {
				if r.Available() {
					m.deliver(contact, u.JID, r.FullJID, el)
				}
			}
		case row.Note == 2:
			// I-37: the contact is subscribed already: the server answers
			// for the user (§3.1.3 rule 2).
			m.send(u.JID, contact, subscription("subscribed"))
			m.sendPresence(contact)
		default:
			m.ackSubscribe(contact) // I-35: already pending
		}
		return
	}
	if row.Act == Must {
		for _, r := range u.Resources {
			if r.Interested {
				m.deliver(contact, u.JID, r.FullJID, el) // I-38: before the push
			}
		}
	}
	m.setState(contact, row.Next, nil) // I-38
	if k == Unsubscribe && row.Act == Must {
		// I-39: a subscriber that cancels no longer sees the user's
		// presence (§3.3.3); a requester that withdraws never saw it. The
		// server confirms either (Table 7 [1]).
		if st.Sub == SubFrom || st.Sub == SubBoth {
			for _, r := range u.Resources {
				if r.Available() {
					m.send(r.FullJID, contact, unavailable(""))
				}
			}
		}
		m.send(u.JID, contact, subscription("unsubscribed"))
	}
}

// ackSubscribe acknowledges a subscription request under
// Policy.SubscribeAck (I-35).
func (m *userMachine) ackSubscribe(contact string) {
	if m.u.policy().SubscribeAck {
		m.route(m.u.JID, contact, unavailable(""))
	}
}

// sendPresence sends the presence of each available resource to contact.
func (m *userMachine) sendPresence(contact string) {
	for _, r := range m.u.Resources {
		if r.Available() {
			m.send(r.FullJID, contact, r.Presence)
		}
	}
}
