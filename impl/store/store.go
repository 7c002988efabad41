// Package store defines what a server keeps across restarts: accounts,
// rosters (with their version), pending inbound subscription requests and
// offline messages. [Store] is the small interface a hub carries fsm's store
// effects out through; a server that embeds fsm brings its own store or uses
// one of the two here:
//
//   - boltstore keeps everything in one bbolt file under the server's data
//     directory, each write fsync'd before the method returns;
//   - memstore keeps everything in memory, for the simulator, tests and
//     embedders that need no persistence.
//
// Both pass the conformance suite in storetest, which a third-party store
// should run too.
//
// Package fsm does not depend on this package, and this package depends on
// no storage engine: only the sub-packages do.
package store

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
)

// The errors a Store returns; test for them with errors.Is, as stores may
// wrap them with detail.
var (
	// ErrExists: CreateAccount of an account that exists.
	ErrExists = errors.New("store: account exists")
	// ErrNotFound: SetCredentials or DeleteAccount of an account that does
	// not exist.
	ErrNotFound = errors.New("store: no such account")
	// ErrQuotaExceeded: StoreOffline for a user who already has as many
	// stored messages as the store's per-user limit.
	ErrQuotaExceeded = errors.New("store: offline storage limit reached")
	// ErrInvalid: an argument a store cannot keep: an empty or malformed
	// key (see CheckLocal and CheckJID) or a nil or unserialisable element.
	ErrInvalid = errors.New("store: invalid argument")
	// ErrClosed: any method but Close after Close.
	ErrClosed = errors.New("store: closed")
	// ErrCorrupt: stored data a store cannot read back.
	ErrCorrupt = errors.New("store: corrupt data")
)

// DefaultOfflineLimit is the number of offline messages kept per user when
// a store's options leave the limit at zero.
const DefaultOfflineLimit = 1000

// Store keeps accounts, rosters, pending subscription requests and offline
// messages.
//
// Accounts are keyed by localpart, since a server's accounts are shared by
// all of its hosts; everything else is keyed by the user's bare JID
// (localpart@domain, prepared), so one account has a roster per host it is
// used on. A bare JID or contact JID is an opaque, non-empty string without
// NUL; a localpart has no '@' either (CheckLocal, CheckJID).
//
// Durability. Every method that changes the store is atomic and durable:
// when it returns nil the whole change has been made and survives a crash
// of the process (and, for a store on disk, of the machine) from then on;
// when it returns an error nothing was changed. A hub carries out the
// writes of one user step (UEffSaveItem, UEffRemoveItem, UEffSavePending,
// UEffDeletePending: fsm.UserEffectKind.IsWrite) with one Commit, and
// UEffStoreOffline and UEffDeleteOffline with the matching methods, and
// waits for them to return before it carries out the effects that follow,
// so that a client is told of a change (a roster push or result, a message
// accepted for offline delivery) only once the change is kept; when Commit
// fails, the hub carries out none of the step's effects and steps the user
// with fsm.UEvStoreFailed (spec/im.md I-56). memstore's changes last as long
// as its process.
//
// Consistency. All methods are safe for concurrent use and each takes
// effect at one instant between its call and its return: a read sees every
// change whose method returned before the read was called.
//
// Ownership. A store keeps its own copy of what it is given (elements are
// stored as their XML text, see MarshalElement) and returns fresh values
// that the caller owns: changing an argument after the call, or a result,
// never changes the store.
type Store interface {
	// CreateAccount creates the account local with the credentials creds
	// (opaque bytes: the SASL package encodes them). It returns ErrExists,
	// changing nothing, if the account exists.
	CreateAccount(local string, creds []byte) error
	// Account returns the credentials of the account local and true, or
	// false if there is no such account.
	Account(local string) (creds []byte, ok bool, err error)
	// SetCredentials replaces the credentials of the account local. It
	// returns ErrNotFound if there is no such account.
	SetCredentials(local string, creds []byte) error
	// DeleteAccount deletes the account local and, in the same atomic
	// change, everything kept for its bare JIDs (local@ any domain): roster
	// items and roster version, pending requests and offline messages. It
	// returns ErrNotFound, changing nothing, if there is no such account.
	DeleteAccount(local string) error
	// Accounts returns the localparts of all accounts, sorted.
	Accounts() ([]string, error)

	// Roster returns the roster of bare JID bare: its version and its items
	// sorted by JID. A roster never saved is fsm.Roster{} (version 0, no
	// items). An item with no groups has nil Groups.
	Roster(bare string) (fsm.Roster, error)
	// SaveItem adds the roster item item (or replaces the one with the same
	// JID) and sets the roster version to version, at once
	// (fsm.UEffSaveItem).
	SaveItem(bare string, item fsm.RosterItem, version uint64) error
	// RemoveItem removes the roster item of contact, if any, and sets the
	// roster version to version, at once (fsm.UEffRemoveItem).
	RemoveItem(bare, contact string, version uint64) error

	// Pending returns the pending subscription requests of bare, oldest
	// first: in the order of the SavePending calls that stored them.
	Pending(bare string) ([]fsm.PendingRequest, error)
	// SavePending stores the pending request p, replacing any from the same
	// contact (p.From): the replacement counts as the newest
	// (fsm.UEffSavePending). p.Elem must not be nil.
	SavePending(bare string, p fsm.PendingRequest) error
	// DeletePending forgets the pending request from from, if any
	// (fsm.UEffDeletePending).
	DeletePending(bare, from string) error
	// Commit carries out writes, the effects of one step of user bare for
	// which IsWrite is true, in order, as the four methods above would,
	// all in one atomic change: all or none. Any other effect kind is
	// ErrInvalid, and nothing is written. No writes: nothing to do, nil.
	Commit(bare string, writes []fsm.UserEffect) error

	// StoreOffline appends m to the offline messages of bare
	// (fsm.UEffStoreOffline). If bare already has as many as the store's
	// per-user limit it returns ErrQuotaExceeded and stores nothing. m.Elem
	// must not be nil.
	StoreOffline(bare string, m fsm.StoredMessage) error
	// Offline returns the offline messages of bare, oldest first
	// (fsm.UEffLoadOffline).
	Offline(bare string) ([]fsm.StoredMessage, error)
	// DeleteOffline deletes the n oldest offline messages of bare, or all
	// of them if there are fewer; n <= 0 deletes nothing
	// (fsm.UEffDeleteOffline).
	DeleteOffline(bare string, n int) error

	// Close releases the store (for boltstore, the data file and its lock).
	// Every other method returns ErrClosed afterwards; closing again
	// returns nil.
	Close() error
}

// CheckLocal returns an error wrapping ErrInvalid unless local can key an
// account: non-empty, without NUL (the key separator) and without '@'
// (DeleteAccount finds a user's bare JIDs by the prefix local+"@").
func CheckLocal(local string) error {
	if local == "" || strings.ContainsAny(local, "\x00@") {
		return fmt.Errorf("%w: localpart %q", ErrInvalid, local)
	}
	return nil
}

// CheckJID returns an error wrapping ErrInvalid unless j can key a user's
// or contact's data: non-empty and without NUL (the key separator).
func CheckJID(j string) error {
	if j == "" || strings.IndexByte(j, 0) >= 0 {
		return fmt.Errorf("%w: JID %q", ErrInvalid, j)
	}
	return nil
}

// LocalOf returns the localpart of bare JID j, or "" if it has none.
func LocalOf(j string) string {
	if i := strings.IndexByte(j, '@'); i >= 0 {
		return j[:i]
	}
	return ""
}

// canonical is how elements are written: text escapes &, <, > and CR,
// attribute values (double-quoted) &, <, ", tab, LF and CR, so that the text
// reads back into the same element whatever it contains.
var canonical = etree.WriteSettings{CanonicalText: true, CanonicalAttrVal: true}

// MarshalElement returns el's canonical XML text: how stores keep elements.
// Characters XML cannot carry are written as U+FFFD. The element is written
// alone: it must declare the namespaces it uses (as the stream reader makes
// every top-level element do), except jabber:client, the default that fsm
// assumes for an element without one.
func MarshalElement(el *etree.Element) []byte {
	var b bytes.Buffer
	el.WriteTo(&b, &canonical)
	return b.Bytes()
}

// UnmarshalElement parses text written by MarshalElement into a new element
// with no parent. CDATA sections stay CDATA sections, so that
// MarshalElement(UnmarshalElement(MarshalElement(el))) is
// MarshalElement(el), byte for byte.
func UnmarshalElement(text []byte) (*etree.Element, error) {
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{PreserveCData: true}
	if err := doc.ReadFromBytes(text); err != nil {
		return nil, fmt.Errorf("parse element: %w", err)
	}
	root := doc.Root()
	if root == nil || len(doc.Child) != 1 {
		return nil, errors.New("parse element: not exactly one element")
	}
	doc.RemoveChild(root)
	return root, nil
}

// EncodeElement returns MarshalElement(el) after checking that it reads
// back: it returns an error wrapping ErrInvalid for a nil element or one
// whose text does not parse (a malformed tag or attribute name), so that a
// store never keeps a record it cannot load.
func EncodeElement(el *etree.Element) ([]byte, error) {
	if el == nil {
		return nil, fmt.Errorf("%w: nil element", ErrInvalid)
	}
	text := MarshalElement(el)
	if _, err := UnmarshalElement(text); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return text, nil
}
