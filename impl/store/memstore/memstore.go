// Package memstore is a store.Store in memory: for the simulator, tests and
// servers that embed fsm and keep nothing across restarts. It behaves as
// boltstore does (it passes the same conformance suite, storetest), with
// elements kept as their canonical XML text and parsed anew on every load,
// but its changes last only as long as the process.
package memstore

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/store"
)

// Options configure a Store. The zero value is the default.
type Options struct {
	// OfflineLimit is the number of offline messages kept per user:
	// 0 means store.DefaultOfflineLimit, a negative number no limit.
	OfflineLimit int
}

// Store is an in-memory store.Store, safe for concurrent use.
type Store struct {
	limit int

	mu       sync.Mutex
	closed   bool
	accounts map[string][]byte
	rosters  map[string]*roster
	pending  map[string][]pending
	offline  map[string][]offline
}

type roster struct {
	version uint64
	items   []fsm.RosterItem // sorted by JID, Groups owned by the store
}

type pending struct {
	from string
	elem []byte
}

type offline struct {
	stamp string
	elem  []byte
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New(opts Options) *Store {
	limit := opts.OfflineLimit
	if limit == 0 {
		limit = store.DefaultOfflineLimit
	}
	return &Store{
		limit:    limit,
		accounts: map[string][]byte{},
		rosters:  map[string]*roster{},
		pending:  map[string][]pending{},
		offline:  map[string][]offline{},
	}
}

// lock takes the lock, or returns ErrClosed.
func (s *Store) lock() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return store.ErrClosed
	}
	return nil
}

// lockFor is lock for a call about bare: it refuses a bare that is not
// a prepared bare JID before it takes the lock.
func (s *Store) lockFor(bare string) error {
	if err := store.CheckJID(bare); err != nil {
		return err
	}
	return s.lock()
}

// CreateAccount implements store.Store.
func (s *Store) CreateAccount(local string, creds []byte) error {
	if err := store.CheckLocal(local); err != nil {
		return err
	}
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.accounts[local]; ok {
		return fmt.Errorf("%w: %q", store.ErrExists, local)
	}
	s.accounts[local] = clone(creds)
	return nil
}

// Account implements store.Store.
func (s *Store) Account(local string) ([]byte, bool, error) {
	if err := store.CheckLocal(local); err != nil {
		return nil, false, err
	}
	if err := s.lock(); err != nil {
		return nil, false, err
	}
	defer s.mu.Unlock()
	c, ok := s.accounts[local]
	if !ok {
		return nil, false, nil
	}
	return clone(c), true, nil
}

// SetCredentials implements store.Store.
func (s *Store) SetCredentials(local string, creds []byte) error {
	if err := store.CheckLocal(local); err != nil {
		return err
	}
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.accounts[local]; !ok {
		return fmt.Errorf("%w: %q", store.ErrNotFound, local)
	}
	s.accounts[local] = clone(creds)
	return nil
}

// DeleteAccount implements store.Store.
func (s *Store) DeleteAccount(local string) error {
	if err := store.CheckLocal(local); err != nil {
		return err
	}
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.accounts[local]; !ok {
		return fmt.Errorf("%w: %q", store.ErrNotFound, local)
	}
	delete(s.accounts, local)
	prefix := local + "@"
	deletePrefix(s.rosters, prefix)
	deletePrefix(s.pending, prefix)
	deletePrefix(s.offline, prefix)
	return nil
}

func deletePrefix[V any](m map[string]V, prefix string) {
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			delete(m, k)
		}
	}
}

// Accounts implements store.Store.
func (s *Store) Accounts() ([]string, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.accounts))
	for k := range s.accounts {
		names = append(names, k)
	}
	sort.Strings(names)
	return names, nil
}

// Roster implements store.Store.
func (s *Store) Roster(bare string) (fsm.Roster, error) {
	if err := s.lockFor(bare); err != nil {
		return fsm.Roster{}, err
	}
	defer s.mu.Unlock()
	r := s.rosters[bare]
	if r == nil {
		return fsm.Roster{}, nil
	}
	out := fsm.Roster{Version: r.version}
	if len(r.items) > 0 {
		out.Items = make([]fsm.RosterItem, len(r.items))
		for i, it := range r.items {
			out.Items[i] = copyItem(it)
		}
	}
	return out, nil
}

// copyItem returns it with its own Groups, nil when empty.
func copyItem(it fsm.RosterItem) fsm.RosterItem {
	if len(it.Groups) == 0 {
		it.Groups = nil
	} else {
		it.Groups = slices.Clone(it.Groups)
	}
	return it
}

func cmpJID(it fsm.RosterItem, jid string) int { return strings.Compare(it.JID, jid) }

// SaveItem implements store.Store.
func (s *Store) SaveItem(bare string, item fsm.RosterItem, version uint64) error {
	return s.Commit(bare, []fsm.UserEffect{{Kind: fsm.UEffSaveItem, Item: item, Version: version}})
}

// RemoveItem implements store.Store.
func (s *Store) RemoveItem(bare, contact string, version uint64) error {
	return s.Commit(bare, []fsm.UserEffect{{Kind: fsm.UEffRemoveItem, Item: fsm.RosterItem{JID: contact}, Version: version}})
}

// Pending implements store.Store.
func (s *Store) Pending(bare string) ([]fsm.PendingRequest, error) {
	if err := s.lockFor(bare); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	ps := s.pending[bare]
	if len(ps) == 0 {
		return nil, nil
	}
	out := make([]fsm.PendingRequest, len(ps))
	for i, p := range ps {
		el, err := store.UnmarshalElement(p.elem)
		if err != nil {
			return nil, fmt.Errorf("%w: pending request of %q from %q: %v", store.ErrCorrupt, bare, p.from, err)
		}
		out[i] = fsm.PendingRequest{From: p.from, Elem: el}
	}
	return out, nil
}

// SavePending implements store.Store.
func (s *Store) SavePending(bare string, p fsm.PendingRequest) error {
	return s.Commit(bare, []fsm.UserEffect{{Kind: fsm.UEffSavePending, From: p.From, Elem: p.Elem}})
}

// DeletePending implements store.Store.
func (s *Store) DeletePending(bare, from string) error {
	return s.Commit(bare, []fsm.UserEffect{{Kind: fsm.UEffDeletePending, From: from}})
}

// Commit implements store.Store: every write is checked (and a pending
// request's element encoded) before the lock is taken, so that, once
// taken, applying them cannot fail half-way.
func (s *Store) Commit(bare string, writes []fsm.UserEffect) error {
	if err := store.CheckJID(bare); err != nil {
		return err
	}
	texts := make([][]byte, len(writes)) // the encoded pending requests
	for i, w := range writes {
		switch w.Kind {
		case fsm.UEffSaveItem, fsm.UEffRemoveItem:
			if err := store.CheckJID(w.Item.JID); err != nil {
				return err
			}
		case fsm.UEffSavePending, fsm.UEffDeletePending:
			if err := store.CheckJID(w.From); err != nil {
				return err
			}
			if w.Kind == fsm.UEffSavePending {
				text, err := store.EncodeElement(w.Elem)
				if err != nil {
					return err
				}
				texts[i] = text
			}
		default:
			return fmt.Errorf("%w: %v is not a write", store.ErrInvalid, w.Kind)
		}
	}
	if len(writes) == 0 {
		return nil
	}
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for i, w := range writes {
		switch w.Kind {
		case fsm.UEffSaveItem:
			s.saveItem(bare, w.Item, w.Version)
		case fsm.UEffRemoveItem:
			s.removeItem(bare, w.Item.JID, w.Version)
		case fsm.UEffSavePending:
			ps := slices.DeleteFunc(s.pending[bare], func(q pending) bool { return q.from == w.From })
			s.pending[bare] = append(ps, pending{from: w.From, elem: texts[i]})
		case fsm.UEffDeletePending:
			s.deletePending(bare, w.From)
		}
	}
	return nil
}

// saveItem stores item in bare's roster; the caller holds the lock.
func (s *Store) saveItem(bare string, item fsm.RosterItem, version uint64) {
	r := s.rosters[bare]
	if r == nil {
		r = &roster{}
		s.rosters[bare] = r
	}
	item = copyItem(item)
	if i, found := slices.BinarySearchFunc(r.items, item.JID, cmpJID); found {
		r.items[i] = item
	} else {
		r.items = slices.Insert(r.items, i, item)
	}
	r.version = version
}

// removeItem removes contact from bare's roster; the caller holds the lock.
func (s *Store) removeItem(bare, contact string, version uint64) {
	r := s.rosters[bare]
	if r == nil {
		r = &roster{}
		s.rosters[bare] = r
	}
	if i, found := slices.BinarySearchFunc(r.items, contact, cmpJID); found {
		r.items = slices.Delete(r.items, i, i+1)
	}
	r.version = version
}

// deletePending forgets bare's pending request from from; the caller holds
// the lock.
func (s *Store) deletePending(bare, from string) {
	ps := slices.DeleteFunc(s.pending[bare], func(q pending) bool { return q.from == from })
	if len(ps) == 0 {
		delete(s.pending, bare)
	} else {
		s.pending[bare] = ps
	}
}

// StoreOffline implements store.Store.
func (s *Store) StoreOffline(bare string, m fsm.StoredMessage) error {
	if err := store.CheckJID(bare); err != nil {
		return err
	}
	text, err := store.EncodeElement(m.Elem)
	if err != nil {
		return err
	}
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if s.limit >= 0 && len(s.offline[bare]) >= s.limit {
		return fmt.Errorf("%w: %q has %d messages", store.ErrQuotaExceeded, bare, s.limit)
	}
	s.offline[bare] = append(s.offline[bare], offline{stamp: m.Stamp, elem: text})
	return nil
}

// Offline implements store.Store.
func (s *Store) Offline(bare string) ([]fsm.StoredMessage, error) {
	if err := s.lockFor(bare); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	ms := s.offline[bare]
	if len(ms) == 0 {
		return nil, nil
	}
	out := make([]fsm.StoredMessage, len(ms))
	for i, m := range ms {
		el, err := store.UnmarshalElement(m.elem)
		if err != nil {
			return nil, fmt.Errorf("%w: offline message %d of %q: %v", store.ErrCorrupt, i, bare, err)
		}
		out[i] = fsm.StoredMessage{Elem: el, Stamp: m.stamp}
	}
	return out, nil
}

// DeleteOffline implements store.Store.
func (s *Store) DeleteOffline(bare string, n int) error {
	if err := s.lockFor(bare); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if n <= 0 {
		return nil
	}
	ms := s.offline[bare]
	if n >= len(ms) {
		delete(s.offline, bare)
		return nil
	}
	// A new slice, so that the deleted messages' text can be collected.
	s.offline[bare] = slices.Clone(ms[n:])
	return nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.accounts, s.rosters, s.pending, s.offline = nil, nil, nil, nil
	return nil
}

func clone(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return slices.Clone(b)
}
