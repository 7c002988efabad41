package fsm

import (
	"fmt"
	"slices"
	"strings"

	"github.com/xmppfsm/xmppfsm/jid"
)

// Check returns an error describing every user invariant u breaks, or nil:
// UI-1…UI-9 of spec/im.md but UI-8, which relates a user to the one before
// a step. Each message starts with its id.
func (u User) Check() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }

	// UI-1: the user's JID is a prepared bare JID with a localpart.
	if j, err := jid.Parse(u.JID); err != nil || !j.IsBare() || j.String() != u.JID || j.Local() == "" {
		bad("UI-1 user JID %q is not a prepared bare JID with a localpart", u.JID)
	}
	// UI-2: each resource is a full JID of this user, once.
	seen := map[string]bool{}
	for _, r := range u.Resources {
		if !isFullJIDOf(r.FullJID, u.JID) {
			bad("UI-2 resource %q is not a full JID of %s", r.FullJID, u.JID)
		}
		if seen[r.FullJID] {
			bad("UI-2 resource %q twice", r.FullJID)
		}
		seen[r.FullJID] = true
	}
	// UI-3: an available resource's presence is a presence without type or
	// to, and its priority is the one the presence announces; a resource
	// that is not available has priority 0.
	for _, r := range u.Resources {
		if !r.Available() {
			if r.Priority != 0 {
				bad("UI-3 resource %s has priority %d but is not available", r.FullJID, r.Priority)
			}
			continue
		}
		p := r.Presence
		if p.Tag != "presence" || hasAttr(p, "type") || hasAttr(p, "to") {
			bad("UI-3 resource %s has presence %s", r.FullJID, XML(p))
		}
		if want := priority(p); r.Priority != want {
			bad("UI-3 resource %s has priority %d, its presence says %d", r.FullJID, r.Priority, want)
		}
	}
	// UI-4: roster items are sorted by JID, each once, each a prepared bare
	// JID other than the user's own, with a known subscription and
	// non-empty groups, each once.
	for i, it := range u.Roster.Items {
		if !isBareJID(it.JID) {
			bad("UI-4 roster item %q is not a prepared bare JID", it.JID)
		}
		if it.JID == u.JID {
			bad("UI-4 the roster holds the user's own JID")
		}
		if i > 0 && u.Roster.Items[i-1].JID >= it.JID {
			bad("UI-4 roster items %q and %q out of order or repeated", u.Roster.Items[i-1].JID, it.JID)
		}
		if it.Sub > SubBoth {
			bad("UI-4 roster item %q has subscription %v", it.JID, it.Sub)
		}
		for j, g := range it.Groups {
			if g == "" || slices.Contains(it.Groups[:j], g) {
				bad("UI-4 roster item %q has groups %q", it.JID, it.Groups)
			}
		}
	}
	// UI-5: every contact is in one of the nine states of RFC 6121
	// Appendix A.1.
	pendingFrom := map[string]bool{}
	for _, p := range u.Pending {
		pendingFrom[p.From] = true
	}
	for _, it := range u.Roster.Items {
		st := SubState{Sub: it.Sub, PendingOut: it.Ask, PendingIn: pendingFrom[it.JID]}
		if !st.Valid() {
			bad("UI-5 contact %s is in state %v", it.JID, st)
		}
		// UI-7: a pre-approval only in "None", "None + Pending Out" or "To".
		if it.Approved && (st.PendingIn || it.Sub == SubFrom || it.Sub == SubBoth) {
			bad("UI-7 contact %s is pre-approved in state %v", it.JID, st)
		}
	}
	// UI-6: a pending request per contact at most, from a prepared bare
	// JID other than the user's own, with its subscribe stanza.
	seen = map[string]bool{}
	for _, p := range u.Pending {
		if !isBareJID(p.From) || p.From == u.JID {
			bad("UI-6 pending request from %q", p.From)
		}
		if seen[p.From] {
			bad("UI-6 two pending requests from %s", p.From)
		}
		seen[p.From] = true
		if p.Elem == nil || p.Elem.Tag != "presence" || attr(p.Elem, "type") != "subscribe" {
			bad("UI-6 pending request from %s is %s", p.From, XML(p.Elem))
		}
	}
	// UI-9: an address with no account has no roster, requests or
	// resources.
	if !u.Exists && (len(u.Roster.Items) > 0 || len(u.Pending) > 0 || len(u.Resources) > 0) {
		bad("UI-9 an address with no account has roster items, pending requests or resources")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// isBareJID reports whether s is a prepared bare JID.
func isBareJID(s string) bool {
	j, err := jid.Parse(s)
	return err == nil && j.IsBare() && j.String() == s
}

// isFullJIDOf reports whether s is a prepared full JID whose bare part is
// bare.
func isFullJIDOf(s, bare string) bool {
	j, err := jid.Parse(s)
	return err == nil && !j.IsBare() && j.String() == s && j.Bare().String() == bare
}
