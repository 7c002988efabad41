package hub

import (
	"slices"
	"strings"

	"github.com/xmppfsm/xmppfsm/fsm"
)

// Store is the in-memory store of the in-process hub: accounts (localpart
// and password), rosters, pending subscription requests and offline
// messages, each per bare JID.
type Store struct {
	accounts map[string]string
	rosters  map[string]*fsm.Roster
	pending  map[string][]fsm.PendingRequest
	offline  map[string][]fsm.StoredMessage
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{
		accounts: map[string]string{},
		rosters:  map[string]*fsm.Roster{},
		pending:  map[string][]fsm.PendingRequest{},
		offline:  map[string][]fsm.StoredMessage{},
	}
}

// AddAccount creates (or replaces) the account local with a password.
func (st *Store) AddAccount(local, password string) { st.accounts[local] = password }

// Exists reports whether the account local exists.
func (st *Store) Exists(local string) bool {
	_, ok := st.accounts[local]
	return ok
}

// CheckPassword reports whether password is local's.
func (st *Store) CheckPassword(local, password string) bool {
	p, ok := st.accounts[local]
	return ok && p == password
}

// Roster returns a copy of the stored roster of bare JID j. The store
// changes its own items in place, so what it hands out is never shared
// with it.
func (st *Store) Roster(j string) fsm.Roster {
	r := st.rosters[j]
	if r == nil {
		return fsm.Roster{}
	}
	return fsm.Roster{Version: r.Version, Items: slices.Clone(r.Items)}
}

// SaveItem stores a roster item and the roster version. The items stay
// sorted by JID, one per JID: the item replaces the one with its JID or is
// inserted in its place, without copying the rest.
func (st *Store) SaveItem(j string, item fsm.RosterItem, version uint64) {
	r := st.roster(j)
	if i, found := st.find(r, item.JID); found {
		r.Items[i] = item
	} else {
		r.Items = slices.Insert(r.Items, i, item)
	}
	r.Version = version
}

// RemoveItem removes a roster item and stores the roster version.
func (st *Store) RemoveItem(j, contact string, version uint64) {
	r := st.roster(j)
	if i, found := st.find(r, contact); found {
		r.Items = slices.Delete(r.Items, i, i+1)
	}
	r.Version = version
}

// roster returns the stored roster of j, made if there is none.
func (st *Store) roster(j string) *fsm.Roster {
	r := st.rosters[j]
	if r == nil {
		r = &fsm.Roster{}
		st.rosters[j] = r
	}
	return r
}

// find returns the index of the item for contact in r, or where it would
// be inserted, and whether it is there.
func (st *Store) find(r *fsm.Roster, contact string) (int, bool) {
	return slices.BinarySearchFunc(r.Items, contact, func(it fsm.RosterItem, c string) int {
		return strings.Compare(it.JID, c)
	})
}

// Pending returns a copy of the pending subscription requests of bare JID
// j (the store changes its own in place).
func (st *Store) Pending(j string) []fsm.PendingRequest { return slices.Clone(st.pending[j]) }

// SavePending stores a pending subscription request.
func (st *Store) SavePending(j string, p fsm.PendingRequest) {
	st.DeletePending(j, p.From)
	st.pending[j] = append(st.pending[j], p)
}

// DeletePending forgets the pending request from contact.
func (st *Store) DeletePending(j, contact string) {
	ps, ok := st.pending[j]
	if !ok {
		return
	}
	st.pending[j] = slices.DeleteFunc(ps, func(p fsm.PendingRequest) bool { return p.From == contact })
}

// StoreOffline keeps a message for bare JID j.
func (st *Store) StoreOffline(j string, m fsm.StoredMessage) {
	st.offline[j] = append(st.offline[j], m)
}

// Offline returns the stored messages of bare JID j, oldest first.
func (st *Store) Offline(j string) []fsm.StoredMessage { return st.offline[j] }

// DeleteOffline deletes the first n stored messages of bare JID j.
func (st *Store) DeleteOffline(j string, n int) {
	if n >= len(st.offline[j]) {
		delete(st.offline, j)
		return
	}
	st.offline[j] = st.offline[j][n:]
}
