package hub

import (
	"sort"

	"github.com/xmppfsm/xmppfsm/fsm"
)

// Store is the in-memory store of the in-process hub: accounts (localpart
// and password), rosters, pending subscription requests and offline
// messages, each per bare JID.
type Store struct {
	accounts map[string]string
	rosters  map[string]fsm.Roster
	pending  map[string][]fsm.PendingRequest
	offline  map[string][]fsm.StoredMessage
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{
		accounts: map[string]string{},
		rosters:  map[string]fsm.Roster{},
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

// Roster returns the stored roster of bare JID j.
func (st *Store) Roster(j string) fsm.Roster { return st.rosters[j] }

// SaveItem stores a roster item and the roster version.
func (st *Store) SaveItem(j string, item fsm.RosterItem, version uint64) {
	r := st.rosters[j]
	items := make([]fsm.RosterItem, 0, len(r.Items)+1)
	for _, it := range r.Items {
		if it.JID != item.JID {
			items = append(items, it)
		}
	}
	items = append(items, item)
	sort.Slice(items, func(a, b int) bool { return items[a].JID < items[b].JID })
	st.rosters[j] = fsm.Roster{Version: version, Items: items}
}

// RemoveItem removes a roster item and stores the roster version.
func (st *Store) RemoveItem(j, contact string, version uint64) {
	r := st.rosters[j]
	items := make([]fsm.RosterItem, 0, len(r.Items))
	for _, it := range r.Items {
		if it.JID != contact {
			items = append(items, it)
		}
	}
	st.rosters[j] = fsm.Roster{Version: version, Items: items}
}

// Pending returns the pending subscription requests of bare JID j.
func (st *Store) Pending(j string) []fsm.PendingRequest { return st.pending[j] }

// SavePending stores a pending subscription request.
func (st *Store) SavePending(j string, p fsm.PendingRequest) {
	st.DeletePending(j, p.From)
	st.pending[j] = append(st.pending[j], p)
}

// DeletePending forgets the pending request from contact.
func (st *Store) DeletePending(j, contact string) {
	var keep []fsm.PendingRequest
	for _, p := range st.pending[j] {
		if p.From != contact {
			keep = append(keep, p)
		}
	}
	st.pending[j] = keep
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
