package fsm

import (
	"strconv"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/jid"
)

// This file is the roster (RFC 6121 §2): gets, sets and pushes.

// Limits on roster item fields (RFC 6121 §2.3.3 lets a server refuse
// values over its limits with not-acceptable).
const (
	maxRosterName  = 1023
	maxRosterGroup = 1023
)

// ownIQ answers an iq a resource sends to the user's own account (I-40).
func (m *userMachine) ownIQ(from string, el *etree.Element, typ string) {
	if typ != "get" && typ != "set" {
		return // I-40: results and errors (answers to pushes) end here
	}
	_, child := childElements(el)
	if child != nil && child.Tag == "query" && namespace(child) == NSRoster {
		if typ == "get" {
			m.rosterGet(from, el, child) // I-41
		} else {
			m.rosterSet(from, el, child) // I-42…I-44
		}
		return
	}
	m.bounce(from, m.u.JID, el, errCancel, "service-unavailable") // I-40
}

// reply delivers a result to the resource that sent iq.
func (m *userMachine) reply(to string, iq, child *etree.Element) {
	m.deliver("", to, to, iqResult(attr(iq, "id"), "", child))
}

// replyError delivers a stanza error to the resource that sent iq.
func (m *userMachine) replyError(to string, iq *etree.Element, typ, cond string) {
	e := stanzaError(iq, "", typ, cond, "")
	e.RemoveAttr("from")
	m.deliver("", to, to, e)
}

// version renders the roster version.
func (r *Roster) version() string { return strconv.FormatUint(r.Version, 10) }

// rosterGet answers a roster get and makes the resource interested (I-41):
// with roster versioning, a get carrying the current version gets an empty
// result; otherwise the whole roster.
func (m *userMachine) rosterGet(from string, iq, query *etree.Element) {
	u := &m.u
	i := u.resource(from)
	if i < 0 {
		return
	}
	r := u.Resources[i]
	r.Interested = true
	u.setResource(i, r)
	versioning := u.policy().RosterVersioning
	if ver, ok := lookup(query, "ver"); versioning && ok && ver == u.Roster.version() {
		m.reply(from, iq, nil)
		return
	}
	q := newElement("query", 2)
	q.CreateAttr("xmlns", NSRoster)
	if versioning {
		q.CreateAttr("ver", u.Roster.version())
	}
	q.Child = make([]etree.Token, 0, len(u.Roster.Items))
	for _, item := range u.Roster.Items {
		q.AddChild(itemElement(item, false))
	}
	m.reply(from, iq, q)
}

// itemElement renders a roster item; removed renders subscription='remove'.
func itemElement(item RosterItem, removed bool) *etree.Element {
	attrs := 2 // jid, subscription
	for _, present := range [...]bool{item.Name != "", item.Ask && !removed, item.Approved && !removed} {
		if present {
			attrs++
		}
	}
	el := newElement("item", attrs)
	el.CreateAttr("jid", item.JID)
	if item.Name != "" {
		el.CreateAttr("name", item.Name)
	}
	switch {
	case removed:
		el.CreateAttr("subscription", "remove")
		return el
	default:
		el.CreateAttr("subscription", item.Sub.String())
	}
	if item.Ask {
		el.CreateAttr("ask", "subscribe")
	}
	if item.Approved {
		el.CreateAttr("approved", "true")
	}
	if len(item.Groups) > 0 {
		el.Child = make([]etree.Token, 0, len(item.Groups))
	}
	for _, g := range item.Groups {
		el.CreateElement("group").SetText(g)
	}
	return el
}

// rosterSet answers a roster set (I-42…I-44).
func (m *userMachine) rosterSet(from string, iq, query *etree.Element) {
	u := &m.u
	n, itemEl := childElements(query)
	if n != 1 || itemEl.Tag != "item" || namespace(itemEl) != NSRoster {
		m.replyError(from, iq, errModify, "bad-request") // I-42
		return
	}
	j, err := jid.Parse(attr(itemEl, "jid"))
	if err != nil || !j.IsBare() {
		m.replyError(from, iq, errModify, "bad-request") // I-42
		return
	}
	contact := j.String()
	if contact == u.JID {
		m.replyError(from, iq, errCancel, "not-allowed") // I-42
		return
	}
	if attr(itemEl, "subscription") == "remove" {
		m.rosterRemove(from, iq, contact) // I-44
		return
	}
	item, had := u.Roster.Item(contact)
	item.JID = contact
	item.Name = attr(itemEl, "name")
	groups, cond := rosterGroups(itemEl)
	if cond == "" && len(item.Name) > maxRosterName {
		cond = "not-acceptable"
	}
	if cond != "" {
		m.replyError(from, iq, errModify, cond) // I-42
		return
	}
	if !had && u.policy().rosterFull(len(u.Roster.Items)) {
		m.replyError(from, iq, errWait, "resource-constraint") // I-51
		return
	}
	item.Groups = groups
	m.saveItem(item) // I-43
	m.reply(from, iq, nil)
	m.push(item, false)
}

// rosterGroups reads the <group/> children: an empty or over-long group
// is not-acceptable, a repeated one bad-request (RFC 6121 §2.3.3).
func rosterGroups(item *etree.Element) ([]string, string) {
	var groups []string
	for _, t := range item.Child {
		g, ok := t.(*etree.Element)
		if !ok || g.Tag != "group" {
			continue
		}
		name := g.Text()
		switch {
		case name == "" || len(name) > maxRosterGroup:
			return nil, "not-acceptable"
		}
		for _, h := range groups {
			if h == name {
				return nil, "bad-request"
			}
		}
		groups = append(groups, name)
	}
	return groups, ""
}

// saveItem stores a changed item, one roster version later.
func (m *userMachine) saveItem(item RosterItem) {
	u := &m.u
	u.Roster = u.Roster.with(item)
	m.emit(UserEffect{Kind: UEffSaveItem, Item: item, Version: u.Roster.Version})
}

// push sends a roster push for item to every interested resource (I-43).
// The push is built once, when the first interested resource is met, and
// the same element goes to each of them, as a message to several resources
// does: nothing changes an element once it is delivered.
func (m *userMachine) push(item RosterItem, removed bool) {
	u := &m.u
	var iq *etree.Element
	for _, r := range u.Resources {
		if !r.Interested {
			continue
		}
		if iq == nil {
			iq = m.pushElement(item, removed)
		}
		m.deliver("", r.FullJID, r.FullJID, iq)
	}
}

// pushElement builds the roster push of item.
func (m *userMachine) pushElement(item RosterItem, removed bool) *etree.Element {
	ver := m.u.Roster.version()
	q := newElement("query", 2)
	q.CreateAttr("xmlns", NSRoster)
	if m.u.policy().RosterVersioning {
		q.CreateAttr("ver", ver)
	}
	q.AddChild(itemElement(item, removed))
	iq := newElement("iq", 2)
	iq.CreateAttr("type", "set")
	iq.CreateAttr("id", "push"+ver)
	iq.AddChild(q)
	return iq
}

// rosterRemove removes a contact (RFC 6121 §2.5, I-44): the contact's
// subscription to the user is cancelled with unsubscribed, the user's to the
// contact with unsubscribe, a pending request is forgotten, and the removal
// is pushed.
func (m *userMachine) rosterRemove(from string, iq *etree.Element, contact string) {
	u := &m.u
	item, ok := u.Roster.Item(contact)
	if !ok {
		m.replyError(from, iq, errModify, "item-not-found")
		return
	}
	st := u.subState(contact)
	if st.Sub == SubFrom || st.Sub == SubBoth || st.PendingIn {
		for _, r := range u.Resources {
			if r.Available() && (st.Sub == SubFrom || st.Sub == SubBoth) {
				m.route(r.FullJID, contact, unavailable(""))
			}
		}
		m.route(u.JID, contact, subscription("unsubscribed"))
	}
	if st.Sub == SubTo || st.Sub == SubBoth || st.PendingOut {
		m.route(u.JID, contact, subscription("unsubscribe"))
	}
	m.dropPending(contact)
	u.Roster = u.Roster.without(contact)
	m.emit(UserEffect{Kind: UEffRemoveItem, Item: item, Version: u.Roster.Version})
	m.reply(from, iq, nil)
	m.push(item, true)
}

// subscription builds <presence type=typ/>.
func subscription(typ string) *etree.Element {
	el := newElement("presence", 1)
	el.CreateAttr("type", typ)
	return el
}
