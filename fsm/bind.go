package fsm

import (
	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/jid"
)

// This file binds a resource (RFC 6120 §7) and loads the roster, after
// which the session is a connected resource.

// bindChild returns the <bind/> child of an iq, or nil.
func bindChild(iq *etree.Element) *etree.Element {
	n, first := childElements(iq)
	if n == 1 && first.Tag == "bind" && namespace(first) == NSBind {
		return first
	}
	return nil
}

// bind answers a bind request in WaitForBind.
func (m *machine) bind(iq, b *etree.Element) {
	s := &m.s
	id := attr(iq, "id")
	if id == "" || attr(iq, "type") != "set" {
		m.reply(stanzaError(iq, "", errModify, "bad-request", "")) // S-52
		return
	}
	resource := ""
	if r := b.SelectElement("resource"); r != nil {
		prepped, err := jid.PrepResource(r.Text())
		if err != nil && r.Text() != "" {
			m.reply(stanzaError(iq, "", errModify, "bad-request", "")) // S-51
			return
		}
		resource = prepped
	}
	s.BindID = id // S-50
	s.Reserved = resource
	s.Phase = WaitForResource
	m.emit(Effect{Kind: EffReserveResource, Username: s.Username, Resource: resource})
}

// bindResult answers the registry and the roster store.
func (m *machine) bindResult(ev Event) {
	s := &m.s
	switch {
	case ev.Kind == EvResourceGranted && s.Phase == WaitForResource && !isResourcepart(ev.Resource):
		// S-58: the registry's fault (an empty resource included); no full
		// JID can be made of it. Before S-99: a retry would not help.
		if ev.Resource != "" {
			m.emit(Effect{Kind: EffReleaseResource, Username: s.Username, Resource: ev.Resource})
		}
		m.bindError(errCancel, "internal-server-error")
	case ev.Kind == EvResourceGranted && s.Phase == WaitForResource &&
		s.policy().MaxResources > 0 && ev.Resources > s.policy().MaxResources:
		// S-99: one resource too many for the account; hand it back.
		m.emit(Effect{Kind: EffReleaseResource, Username: s.Username, Resource: ev.Resource})
		m.bindError(errWait, "resource-constraint")
	case ev.Kind == EvResourceGranted && s.Phase == WaitForResource:
		s.Reserved = ev.Resource // S-53
		s.Phase = WaitForRoster
		m.emit(Effect{Kind: EffLoadRoster, Username: s.Username})
	case ev.Kind == EvResourceGranted:
		// S-59: a grant nobody waits for is handed back, unless it names
		// the resource the session holds.
		held := s.Resource
		if s.Phase == WaitForRoster {
			held = s.Reserved
		}
		if ev.Resource != "" && ev.Resource != held {
			m.emit(Effect{Kind: EffReleaseResource, Username: s.Username, Resource: ev.Resource})
		}
	case ev.Kind == EvResourceConflict && s.Phase == WaitForResource:
		m.conflict() // S-54
	case ev.Kind == EvRosterLoaded && s.Phase == WaitForRoster:
		m.established() // S-55
	case ev.Kind == EvRosterFailed && s.Phase == WaitForRoster:
		m.emit(Effect{Kind: EffReleaseResource, Username: s.Username, Resource: s.Reserved}) // S-56
		m.bindError(errCancel, "internal-server-error")
	default:
		// S-59: an answer nobody waits for changes nothing.
	}
}

// isResourcepart reports whether r is a prepared resourcepart.
func isResourcepart(r string) bool {
	p, err := jid.PrepResource(r)
	return err == nil && p == r
}

// conflict applies the conflict policy (S-54).
func (m *machine) conflict() {
	s := &m.s
	switch s.policy().Conflict {
	case ConflictReplace:
		m.emit(Effect{Kind: EffReserveResource, Username: s.Username, Resource: s.Reserved, Replace: true})
	case ConflictGenerate:
		s.Reserved = ""
		m.emit(Effect{Kind: EffReserveResource, Username: s.Username})
	default:
		m.bindError(errCancel, "conflict")
	}
}

// bindError answers the bind request with an error and waits for another.
func (m *machine) bindError(typ, cond string) {
	s := &m.s
	iq := etree.NewElement("iq")
	iq.CreateAttr("id", s.BindID)
	m.reply(stanzaError(iq, "", typ, cond, ""))
	s.BindID, s.Reserved = "", ""
	s.Phase = WaitForBind
}

// established makes the session a connected resource and answers the bind
// request with its full JID (S-55).
func (m *machine) established() {
	s := &m.s
	s.Resource, s.Reserved = s.Reserved, ""
	s.FullJID = s.Username + "@" + s.Host + "/" + s.Resource
	s.Roster = true
	s.Type = TypeC2S
	s.Phase = Established
	b := nsElement("bind", NSBind)
	b.CreateElement("jid").SetText(s.FullJID)
	m.reply(iqResult(s.BindID, "", b))
	m.emit(Effect{Kind: EffBound, From: s.FullJID})
	s.BindID = ""
	m.emit(Effect{Kind: EffStopTimer, Timer: TimerNegotiation})
}

// reply sends an element to the client.
func (m *machine) reply(el *etree.Element) {
	m.emit(Effect{Kind: EffSend, Elem: el})
}
