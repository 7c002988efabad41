package fsm

import (
	"strings"

	"github.com/beevik/etree"
)

// StepUser is the user machine: it returns the user after ev and the
// effects the hub must carry out, in order. It never changes u.
func StepUser(u User, ev UserEvent) (User, []UserEffect) {
	return StepUserAppend(u, ev, nil)
}

// StepUserAppend is StepUser that appends the effects to out.
func StepUserAppend(u User, ev UserEvent, out []UserEffect) (User, []UserEffect) {
	// As StepAppend: StepUserTo(&u, ev, out) is the same step with one more
	// copy of the user; both run userMachine.step.
	m := userMachine{u: u, out: out}
	m.step(ev)
	return m.u, m.out
}

// StepUserTo is StepUserAppend on *u: it writes the user after ev over *u
// instead of returning it, for a hub that keeps its user machines in place.
// Only the fields of *u are assigned: the resources, roster items and
// pending requests are replaced by new slices when they change, never
// changed in place, so a copy of *u taken before the step still holds the
// user before it.
func StepUserTo(u *User, ev UserEvent, out []UserEffect) []UserEffect {
	m := userMachine{u: *u, out: out} // a copy, for the reason StepTo has
	m.step(ev)
	*u = m.u
	return m.out
}

// userMachine is one user step in progress.
type userMachine struct {
	u   User
	out []UserEffect
}

func (m *userMachine) emit(e UserEffect) { m.out = append(m.out, e) }

// deliver hands el, from from to to, to the session of the user's own
// resource target (to and target differ when a stanza addressed to the bare
// JID is delivered: its to is not rewritten, RFC 6121 §8.5.2).
func (m *userMachine) deliver(from, to, target string, el *etree.Element) {
	m.emit(UserEffect{Kind: UEffDeliver, From: from, To: to, Target: target, Elem: el})
}

func (m *userMachine) step(ev UserEvent) {
	if ev.Elem == nil && (ev.Kind == UEvBroadcast || ev.Kind == UEvOutbound || ev.Kind == UEvInbound || ev.Kind == UEvOfflineRefused) {
		return // I-2: nothing to act on
	}
	switch ev.Kind {
	case UEvBound:
		m.bound(ev.From)
	case UEvUnbound:
		m.unbound(ev)
	case UEvBroadcast:
		m.broadcast(ev)
	case UEvOutbound:
		m.outbound(ev.From, ev.To, ev.Elem)
	case UEvInbound:
		m.inbound(ev.From, ev.To, ev.Elem, ev.Directed)
	case UEvOfflineLoaded:
		m.flush(ev.To, ev.Offline)
	case UEvOfflineRefused:
		// I-27: a message the store would not keep is bounced as if
		// offline storage were off.
		m.bounce(ev.From, ev.To, ev.Elem, errCancel, "service-unavailable")
	case UEvStoreFailed:
		m.storeFailed(ev)
	}
}

// bareOf returns the bare part of a prepared JID.
func bareOf(j string) string {
	if i := strings.IndexByte(j, '/'); i >= 0 {
		return j[:i]
	}
	return j
}

// domainOf returns the domain of a prepared JID.
func domainOf(j string) string {
	j = bareOf(j)
	if i := strings.IndexByte(j, '@'); i >= 0 {
		return j[i+1:]
	}
	return j
}

// bound adds a connected resource (I-1).
func (m *userMachine) bound(full string) {
	u := &m.u
	// bareOf is a cheap first filter; isFullJIDOf parses.
	if !u.Exists || bareOf(full) != u.JID || u.resource(full) >= 0 || !isFullJIDOf(full, u.JID) {
		return // I-1: not a prepared full JID of this user, or already known
	}
	rs := make([]Resource, len(u.Resources), len(u.Resources)+1)
	copy(rs, u.Resources)
	u.Resources = append(rs, Resource{FullJID: full})
}

// unbound removes a resource and sends its implicit unavailable presence
// (I-3).
func (m *userMachine) unbound(ev UserEvent) {
	u := &m.u
	i := u.resource(ev.From)
	if i < 0 {
		return // I-3: never bound here
	}
	wasAvailable := u.Resources[i].Available()
	rs := make([]Resource, 0, len(u.Resources)-1)
	rs = append(rs, u.Resources[:i]...)
	u.Resources = append(rs, u.Resources[i+1:]...)
	if ev.Elem == nil {
		return
	}
	if wasAvailable {
		m.broadcastUnavailable(ev.From, ev.Elem, ev.Directed)
		return
	}
	for _, to := range ev.Directed {
		m.send(ev.From, to, ev.Elem)
	}
}
