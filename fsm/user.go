package fsm

import (
	"sort"

	"github.com/beevik/etree"
)

// User is the per-user machine: one account's roster, its pending inbound
// subscription requests and its connected resources. Like Session it is a
// plain value: [StepUser] returns a new User and never changes the one it was
// given; slices it holds are replaced, never changed in place.
//
// Sessions and users talk only through events and effects: a session's
// EffRoute, EffBroadcast and EffReleaseResource become UserEvents of its own
// user; a user's UEffRoute becomes a UserEvent of the addressed user (or the
// server's answer), and UEffDeliver becomes an EvRouted of one session. The
// hub that carries them decides nothing. spec/im.md has the rules (I-n).
type User struct {
	// Policy holds the server's choices; nil means DefaultPolicy.
	Policy *Policy
	// JID is the user's bare JID (localpart@domain, prepared).
	JID string
	// Exists is false for an address with no account behind it: every
	// stanza to it is answered as RFC 6121 §8.5.1 says.
	Exists bool
	// Roster is the user's roster.
	Roster Roster
	// Pending holds the inbound subscription requests the user has not
	// answered, oldest first, each the full stanza as it arrived.
	Pending []PendingRequest
	// Resources are the user's connected resources, in bind order.
	Resources []Resource
}

// Roster is a user's roster (RFC 6121 §2).
type Roster struct {
	// Version is the roster version (RFC 6121 §2.6): it grows by one with
	// every change. A roster never changed has version 0.
	Version uint64
	// Items are the roster items sorted by JID.
	Items []RosterItem
}

// RosterItem is one contact in a roster (RFC 6121 §2.1.2).
type RosterItem struct {
	JID    string // the contact's bare JID
	Name   string
	Groups []string
	// Sub is the subscription; Ask is a pending outbound request
	// (ask='subscribe'); Approved is a pre-approval (RFC 6121 §3.4).
	Sub      Subscription
	Ask      bool
	Approved bool
}

// PendingRequest is an inbound subscription request waiting for the user's
// answer (RFC 6121 §3.1.3): the contact's bare JID and the stanza as it
// arrived, re-delivered until the user answers it.
type PendingRequest struct {
	From string
	Elem *etree.Element
}

// Resource is one connected resource as the user machine sees it.
type Resource struct {
	FullJID string
	// Presence is the resource's last broadcast available presence, or nil
	// when it is not available; Priority is its priority.
	Presence *etree.Element
	Priority int8
	// Interested is true once the resource requested the roster.
	Interested bool
	// Directed holds the addresses the resource sent directed available
	// presence to and has not since sent unavailable or error presence
	// to, directed or broadcast (RFC 6121 §4.6; I-13, I-28).
	Directed []string
}

// directedExactly reports whether j is one of the directed targets.
func (r *Resource) directedExactly(j string) bool {
	for _, d := range r.Directed {
		if d == j {
			return true
		}
	}
	return false
}

// directedTo reports whether the resource sent directed presence to j (or
// to its bare JID).
func (r *Resource) directedTo(j string) bool {
	for _, d := range r.Directed {
		if d == j || d == bareOf(j) {
			return true
		}
	}
	return false
}

// Available reports whether the resource has broadcast available presence.
func (r *Resource) Available() bool { return r.Presence != nil }

// NewUser returns the machine of user jid with the roster and pending
// requests loaded from the store. exists is false for an address with no
// account.
func NewUser(p *Policy, jid string, exists bool, roster Roster, pending []PendingRequest) User {
	return User{Policy: p, JID: jid, Exists: exists, Roster: roster, Pending: pending}
}

func (u *User) policy() *Policy {
	if u.Policy == nil {
		return &DefaultPolicy
	}
	return u.Policy
}

// Item returns the roster item for contact (a bare JID) and whether there
// is one.
func (r *Roster) Item(contact string) (RosterItem, bool) {
	i, ok := r.find(contact)
	if !ok {
		return RosterItem{}, false
	}
	return r.Items[i], true
}

func (r *Roster) find(contact string) (int, bool) {
	i := sort.Search(len(r.Items), func(i int) bool { return r.Items[i].JID >= contact })
	return i, i < len(r.Items) && r.Items[i].JID == contact
}

// with returns a copy of r in which item replaces (or adds) the item for
// its JID, one version later.
func (r Roster) with(item RosterItem) Roster {
	i, found := r.find(item.JID)
	items := make([]RosterItem, 0, len(r.Items)+1)
	items = append(items, r.Items[:i]...)
	items = append(items, item)
	if found {
		i++
	}
	items = append(items, r.Items[i:]...)
	return Roster{Version: r.Version + 1, Items: items}
}

// without returns a copy of r without the item for contact, one version
// later.
func (r Roster) without(contact string) Roster {
	i, found := r.find(contact)
	if !found {
		return r
	}
	items := make([]RosterItem, 0, len(r.Items)-1)
	items = append(items, r.Items[:i]...)
	items = append(items, r.Items[i+1:]...)
	return Roster{Version: r.Version + 1, Items: items}
}

// resource returns the index of the connected resource full, or -1.
func (u *User) resource(full string) int {
	for i := range u.Resources {
		if u.Resources[i].FullJID == full {
			return i
		}
	}
	return -1
}

// setResource returns the resources with r at index i, copied.
func (u *User) setResource(i int, r Resource) {
	rs := make([]Resource, len(u.Resources))
	copy(rs, u.Resources)
	rs[i] = r
	u.Resources = rs
}

// pending returns the index of the pending request from contact, or -1.
func (u *User) pending(contact string) int {
	for i := range u.Pending {
		if u.Pending[i].From == contact {
			return i
		}
	}
	return -1
}

// subState returns the Appendix A state of contact.
func (u *User) subState(contact string) SubState {
	item, _ := u.Roster.Item(contact)
	return SubState{Sub: item.Sub, PendingOut: item.Ask, PendingIn: u.pending(contact) >= 0}
}
