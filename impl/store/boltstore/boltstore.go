// Package boltstore is a store.Store in one bbolt file: the server's
// default store, kept in its data directory (OpenDir).
//
// Every change is one bbolt read-write transaction (db.Update), and bbolt
// fsyncs the file on commit (NoSync is never set), so a change is durable
// when its method returns. bbolt takes an exclusive lock on the file: a
// second server on the same data directory fails to open it with
// ErrLocked. Reads run in read-only transactions, concurrently with each
// other and with the one writer.
package boltstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/store"
)

// FileName is the data file's name in the data directory (OpenDir).
const FileName = "store.db"

// DefaultTimeout is how long Open waits for the file lock when
// Options.Timeout is zero.
const DefaultTimeout = time.Second

// ErrLocked: the data file is locked by another process (or another Store
// of this one) for longer than the timeout.
var ErrLocked = errors.New("data directory is used by another process")

// Options configure Open. A nil *Options is the zero value, the default.
type Options struct {
	// Timeout is how long to wait for the lock on the file before failing
	// with ErrLocked; 0 means DefaultTimeout.
	Timeout time.Duration
	// OfflineLimit is the number of offline messages kept per user:
	// 0 means store.DefaultOfflineLimit, a negative number no limit.
	OfflineLimit int
	// SkipCheck skips the consistency check that Open runs (see Open): for
	// a very large file whose check takes too long.
	SkipCheck bool
}

// Store is a store.Store in a bbolt file, safe for concurrent use.
type Store struct {
	db    *bolt.DB
	limit int
}

var _ store.Store = (*Store)(nil)

// OpenDir opens (or creates) the store of data directory dir: dir/FileName,
// creating dir (mode 0700) if need be.
func OpenDir(dir string, opts *Options) (*Store, error) {
	_, statErr := os.Stat(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("boltstore: %w", err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		// The new directory's entry must be durable too.
		if err := syncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
			return nil, fmt.Errorf("boltstore: %w", err)
		}
	}
	return Open(filepath.Join(dir, FileName), opts)
}

// Open opens the store in file path, creating it (mode 0600) if it does
// not exist. It fails with an error wrapping ErrLocked when another process
// holds the file for longer than opts.Timeout.
//
// Unless opts.SkipCheck, Open checks the file before it returns: bbolt's
// own check of its pages (every page reachable once, keys in order), then
// every record: its key has the shape of its bucket, its version byte is
// known, it decodes (elements are only checked to look like one: parsing
// them all would be slow), and each user's offline messages are numbered
// consecutively. A problem fails Open with an error wrapping
// store.ErrCorrupt.
func Open(path string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.OfflineLimit == 0 {
		o.OfflineLimit = store.DefaultOfflineLimit
	}
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.Timeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("boltstore: open %s: %w (no lock within %v)", path, ErrLocked, o.Timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	if created {
		// The new file's directory entry must be durable too.
		if err := syncDir(filepath.Dir(path)); err != nil {
			db.Close()
			return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
		}
	}
	s := &Store{db: db, limit: o.OfflineLimit}
	if err := s.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	if !o.SkipCheck {
		if err := s.check(); err != nil {
			db.Close()
			return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
		}
	}
	return s, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// init creates the buckets and the format record of a new file, and
// refuses a file of a newer format. A file that has them is only read:
// even a transaction that changes nothing writes a new free list and meta
// page, and a server must start on a full disk (or one that fails writes)
// to serve what it holds.
func (s *Store) init() error {
	complete := true
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, name := range buckets {
			if tx.Bucket(name) == nil {
				complete = false
				return nil
			}
		}
		v := tx.Bucket(bucketMeta).Get(keyFormat)
		complete = v != nil
		return checkFormat(v)
	})
	if err != nil || complete {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range buckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keyFormat); v != nil {
			return checkFormat(v)
		}
		return meta.Put(keyFormat, []byte{format})
	})
}

// checkFormat refuses a format record v that is malformed or newer than
// this release's; a missing one (nil) is for init to write.
func checkFormat(v []byte) error {
	switch {
	case v == nil:
		return nil
	case len(v) != 1:
		return fmt.Errorf("%w: bad format record %x", store.ErrCorrupt, v)
	case v[0] > format:
		return fmt.Errorf("file format %d is newer than this release's (%d)", v[0], format)
	}
	return nil
}

// update runs fn in its own read-write transaction: committed and fsync'd
// when it returns nil.
func (s *Store) update(fn func(tx *bolt.Tx) error) error {
	return closedErr(s.db.Update(fn))
}

func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	return closedErr(s.db.View(fn))
}

func closedErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return store.ErrClosed
	}
	return err
}

// Close implements store.Store: it releases the file and its lock.
func (s *Store) Close() error { return s.db.Close() }

// CreateAccount implements store.Store.
func (s *Store) CreateAccount(local string, creds []byte) error {
	if err := store.CheckLocal(local); err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAccounts)
		if b.Get([]byte(local)) != nil {
			return fmt.Errorf("%w: %q", store.ErrExists, local)
		}
		return b.Put([]byte(local), append([]byte{v1}, creds...))
	})
}

// Account implements store.Store.
func (s *Store) Account(local string) (creds []byte, ok bool, err error) {
	if err := store.CheckLocal(local); err != nil {
		return nil, false, err
	}
	err = s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketAccounts).Get([]byte(local))
		if v == nil {
			return nil
		}
		b, err := record(v)
		if err != nil {
			return corrupt(bucketAccounts, []byte(local), err)
		}
		creds, ok = bytes.Clone(b), true
		if creds == nil {
			creds = []byte{}
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return creds, ok, nil
}

// SetCredentials implements store.Store.
func (s *Store) SetCredentials(local string, creds []byte) error {
	if err := store.CheckLocal(local); err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAccounts)
		if b.Get([]byte(local)) == nil {
			return fmt.Errorf("%w: %q", store.ErrNotFound, local)
		}
		return b.Put([]byte(local), append([]byte{v1}, creds...))
	})
}

// DeleteAccount implements store.Store.
func (s *Store) DeleteAccount(local string) error {
	if err := store.CheckLocal(local); err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAccounts)
		if b.Get([]byte(local)) == nil {
			return fmt.Errorf("%w: %q", store.ErrNotFound, local)
		}
		if err := b.Delete([]byte(local)); err != nil {
			return err
		}
		prefix := []byte(local + "@")
		for _, name := range [][]byte{bucketRoster, bucketRosterVer, bucketPending, bucketOffline} {
			if err := deleteRange(tx.Bucket(name), prefix, -1); err != nil {
				return err
			}
		}
		return nil
	})
}

// deleteRange deletes the first n keys of b with prefix prefix (all of them
// if n < 0). The keys are collected first: deleting under a moving cursor
// can skip keys.
func deleteRange(b *bolt.Bucket, prefix []byte, n int) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && n != 0; k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
		n--
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Accounts implements store.Store.
func (s *Store) Accounts() ([]string, error) {
	var names []string
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAccounts).ForEach(func(k, _ []byte) error {
			names = append(names, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if names == nil {
		names = []string{}
	}
	return names, nil
}

// Roster implements store.Store.
func (s *Store) Roster(bare string) (fsm.Roster, error) {
	if err := store.CheckJID(bare); err != nil {
		return fsm.Roster{}, err
	}
	var r fsm.Roster
	err := s.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketRosterVer).Get([]byte(bare)); v != nil {
			var err error
			if r.Version, err = decodeVersion(v); err != nil {
				return corrupt(bucketRosterVer, []byte(bare), err)
			}
		}
		prefix := userPrefix(bare)
		c := tx.Bucket(bucketRoster).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			item, err := decodeItem(string(k[len(prefix):]), v)
			if err != nil {
				return corrupt(bucketRoster, k, err)
			}
			r.Items = append(r.Items, item)
		}
		return nil
	})
	if err != nil {
		return fsm.Roster{}, err
	}
	return r, nil
}

// SaveItem implements store.Store.
func (s *Store) SaveItem(bare string, item fsm.RosterItem, version uint64) error {
	op, err := saveItem(bare, item, version)
	if err != nil {
		return err
	}
	return s.update(op)
}

// RemoveItem implements store.Store.
func (s *Store) RemoveItem(bare, contact string, version uint64) error {
	op, err := removeItem(bare, contact, version)
	if err != nil {
		return err
	}
	return s.update(op)
}

// Pending implements store.Store.
func (s *Store) Pending(bare string) ([]fsm.PendingRequest, error) {
	if err := store.CheckJID(bare); err != nil {
		return nil, err
	}
	type rec struct {
		seq  uint64
		from string
		elem []byte
	}
	var recs []rec
	err := s.view(func(tx *bolt.Tx) error {
		prefix := userPrefix(bare)
		c := tx.Bucket(bucketPending).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			seq, elem, err := decodePending(v)
			if err != nil {
				return corrupt(bucketPending, k, err)
			}
			// elem points into the file's memory map, valid only during
			// the transaction: parsing copies what it keeps.
			recs = append(recs, rec{seq, string(k[len(prefix):]), bytes.Clone(elem)})
		}
		return nil
	})
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].seq < recs[j].seq })
	out := make([]fsm.PendingRequest, len(recs))
	for i, r := range recs {
		el, err := store.UnmarshalElement(r.elem)
		if err != nil {
			return nil, corrupt(bucketPending, contactKey(bare, r.from), err)
		}
		out[i] = fsm.PendingRequest{From: r.from, Elem: el}
	}
	return out, nil
}

// SavePending implements store.Store.
func (s *Store) SavePending(bare string, p fsm.PendingRequest) error {
	op, err := savePending(bare, p)
	if err != nil {
		return err
	}
	return s.update(op)
}

// DeletePending implements store.Store.
func (s *Store) DeletePending(bare, from string) error {
	op, err := deletePending(bare, from)
	if err != nil {
		return err
	}
	return s.update(op)
}

// Commit implements store.Store: the writes in one transaction, one fsync.
func (s *Store) Commit(bare string, writes []fsm.UserEffect) error {
	ops := make([]func(*bolt.Tx) error, 0, len(writes))
	for _, w := range writes {
		var op func(*bolt.Tx) error
		var err error
		switch w.Kind {
		case fsm.UEffSaveItem:
			op, err = saveItem(bare, w.Item, w.Version)
		case fsm.UEffRemoveItem:
			op, err = removeItem(bare, w.Item.JID, w.Version)
		case fsm.UEffSavePending:
			op, err = savePending(bare, fsm.PendingRequest{From: w.From, Elem: w.Elem})
		case fsm.UEffDeletePending:
			op, err = deletePending(bare, w.From)
		default:
			err = fmt.Errorf("%w: %v is not a write", store.ErrInvalid, w.Kind)
		}
		if err != nil {
			return err
		}
		ops = append(ops, op)
	}
	if len(ops) == 0 {
		return nil
	}
	return s.update(func(tx *bolt.Tx) error {
		for _, op := range ops {
			if err := op(tx); err != nil {
				return err
			}
		}
		return nil
	})
}

// saveItem checks and encodes a SaveItem and returns the transaction step
// that writes it.
func saveItem(bare string, item fsm.RosterItem, version uint64) (func(*bolt.Tx) error, error) {
	if err := store.CheckJID(bare); err != nil {
		return nil, err
	}
	if err := store.CheckJID(item.JID); err != nil {
		return nil, err
	}
	rec := encodeItem(item)
	return func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketRoster).Put(contactKey(bare, item.JID), rec); err != nil {
			return err
		}
		return tx.Bucket(bucketRosterVer).Put([]byte(bare), encodeVersion(version))
	}, nil
}

// removeItem is saveItem for RemoveItem.
func removeItem(bare, contact string, version uint64) (func(*bolt.Tx) error, error) {
	if err := store.CheckJID(bare); err != nil {
		return nil, err
	}
	if err := store.CheckJID(contact); err != nil {
		return nil, err
	}
	return func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketRoster).Delete(contactKey(bare, contact)); err != nil {
			return err
		}
		return tx.Bucket(bucketRosterVer).Put([]byte(bare), encodeVersion(version))
	}, nil
}

// savePending is saveItem for SavePending.
func savePending(bare string, p fsm.PendingRequest) (func(*bolt.Tx) error, error) {
	if err := store.CheckJID(bare); err != nil {
		return nil, err
	}
	if err := store.CheckJID(p.From); err != nil {
		return nil, err
	}
	text, err := store.EncodeElement(p.Elem)
	if err != nil {
		return nil, err
	}
	return func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPending)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		return b.Put(contactKey(bare, p.From), encodePending(seq, text))
	}, nil
}

// deletePending is saveItem for DeletePending.
func deletePending(bare, from string) (func(*bolt.Tx) error, error) {
	if err := store.CheckJID(bare); err != nil {
		return nil, err
	}
	if err := store.CheckJID(from); err != nil {
		return nil, err
	}
	return func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPending).Delete(contactKey(bare, from))
	}, nil
}

// offlineRange returns the first and last seq of bare's offline messages
// and their count (consecutive seqs: last-first+1), or zeros if none.
func offlineRange(b *bolt.Bucket, bare string) (first, last, n uint64) {
	prefix := userPrefix(bare)
	c := b.Cursor()
	k, _ := c.Seek(prefix)
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return 0, 0, 0
	}
	first = binary.BigEndian.Uint64(k[len(prefix):])
	if k, _ = c.Seek(userEnd(bare)); k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	last = binary.BigEndian.Uint64(k[len(prefix):])
	return first, last, last - first + 1
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
	rec := encodeOffline(m.Stamp, text)
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOffline)
		_, last, n := offlineRange(b, bare)
		if s.limit >= 0 && n >= uint64(s.limit) {
			return fmt.Errorf("%w: %q has %d messages", store.ErrQuotaExceeded, bare, n)
		}
		return b.Put(seqKey(bare, last+1), rec)
	})
}

// Offline implements store.Store.
func (s *Store) Offline(bare string) ([]fsm.StoredMessage, error) {
	if err := store.CheckJID(bare); err != nil {
		return nil, err
	}
	var out []fsm.StoredMessage
	err := s.view(func(tx *bolt.Tx) error {
		prefix := userPrefix(bare)
		c := tx.Bucket(bucketOffline).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			stamp, text, err := decodeOffline(v)
			if err != nil {
				return corrupt(bucketOffline, k, err)
			}
			el, err := store.UnmarshalElement(text)
			if err != nil {
				return corrupt(bucketOffline, k, err)
			}
			out = append(out, fsm.StoredMessage{Elem: el, Stamp: stamp})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteOffline implements store.Store.
func (s *Store) DeleteOffline(bare string, n int) error {
	if err := store.CheckJID(bare); err != nil {
		return err
	}
	if n <= 0 {
		// Still an error on a closed store, as every method's.
		return s.view(func(*bolt.Tx) error { return nil })
	}
	return s.update(func(tx *bolt.Tx) error {
		return deleteRange(tx.Bucket(bucketOffline), userPrefix(bare), n)
	})
}
