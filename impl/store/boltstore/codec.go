package boltstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/store"
)

// The layout of the data file.
//
// One bucket per kind of record. Keys of per-user records start with the
// user's bare JID and a NUL (bare JIDs never hold one), so one user's records
// are one range of a bucket, found with a cursor Seek, and all of an
// account's bare JIDs are the range with prefix localpart+"@".
//
//	bucket     key                           value
//	meta       "format"                      format (1 byte)
//	accounts   localpart                     v1 | credentials
//	roster     bare NUL contact              v1 | item (see appendItem)
//	rosterver  bare                          v1 | version (8 bytes)
//	pending    bare NUL contact              v1 | seq (8 bytes) | element
//	offline    bare NUL seq (8 bytes)        v1 | uvarint len | stamp | element
//
// Integers are big-endian, so that keys sort by number. Every value starts
// with a record version byte (v1 = 1 for now), so that a later release can
// read old records and migrate them. A pending request's seq comes from the
// pending bucket's sequence and orders a user's requests oldest first. A
// user's offline seqs are consecutive (messages are appended at the end
// and deleted from the front), so the first and last key give the count.
// Elements are their canonical XML text (store.MarshalElement).
var (
	bucketMeta      = []byte("meta")
	bucketAccounts  = []byte("accounts")
	bucketRoster    = []byte("roster")
	bucketRosterVer = []byte("rosterver")
	bucketPending   = []byte("pending")
	bucketOffline   = []byte("offline")

	buckets = [][]byte{bucketMeta, bucketAccounts, bucketRoster, bucketRosterVer, bucketPending, bucketOffline}

	keyFormat = []byte("format")
)

const (
	// format is the layout version kept in the meta bucket: a file with a
	// greater one was written by a newer release.
	format = 1
	// v1 is the version byte of every record written now.
	v1 = 1

	sep = 0 // between a bare JID and the rest of a key
)

// userPrefix returns bare NUL: the start of bare's range.
func userPrefix(bare string) []byte {
	k := make([]byte, 0, len(bare)+1+8)
	k = append(k, bare...)
	return append(k, sep)
}

// userEnd returns bare 0x01: the first key after bare's range.
func userEnd(bare string) []byte {
	k := userPrefix(bare)
	k[len(k)-1] = sep + 1
	return k
}

func contactKey(bare, contact string) []byte {
	return append(userPrefix(bare), contact...)
}

func seqKey(bare string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(userPrefix(bare), seq)
}

// splitKey splits a per-user key at its first NUL.
func splitKey(k []byte) (bare string, rest []byte, ok bool) {
	i := bytes.IndexByte(k, sep)
	if i <= 0 {
		return "", nil, false
	}
	return string(k[:i]), k[i+1:], true
}

var errShort = errors.New("truncated record")

// record checks the version byte of value v and returns what follows it.
func record(v []byte) ([]byte, error) {
	if len(v) == 0 {
		return nil, errShort
	}
	if v[0] != v1 {
		return nil, fmt.Errorf("record version %d, want %d", v[0], v1)
	}
	return v[1:], nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func readString(b []byte) (string, []byte, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return "", nil, errShort
	}
	return string(b[w : w+int(n)]), b[w+int(n):], nil
}

const (
	flagAsk      = 1 << 0
	flagApproved = 1 << 1
)

// encodeItem returns the record of item (its JID is in the key):
// v1 | name | uvarint ngroups | groups… | sub | flags, strings as uvarint
// length and bytes.
func encodeItem(item fsm.RosterItem) []byte {
	n := 1 + 10 + len(item.Name) + 10 + 2
	for _, g := range item.Groups {
		n += 10 + len(g)
	}
	b := make([]byte, 0, n)
	b = append(b, v1)
	b = appendString(b, item.Name)
	b = binary.AppendUvarint(b, uint64(len(item.Groups)))
	for _, g := range item.Groups {
		b = appendString(b, g)
	}
	var flags byte
	if item.Ask {
		flags |= flagAsk
	}
	if item.Approved {
		flags |= flagApproved
	}
	return append(b, byte(item.Sub), flags)
}

func decodeItem(contact string, v []byte) (fsm.RosterItem, error) {
	b, err := record(v)
	if err != nil {
		return fsm.RosterItem{}, err
	}
	item := fsm.RosterItem{JID: contact}
	if item.Name, b, err = readString(b); err != nil {
		return fsm.RosterItem{}, err
	}
	ng, w := binary.Uvarint(b)
	if w <= 0 || ng > uint64(len(b)) {
		return fsm.RosterItem{}, errShort
	}
	b = b[w:]
	if ng > 0 {
		item.Groups = make([]string, ng)
		for i := range item.Groups {
			if item.Groups[i], b, err = readString(b); err != nil {
				return fsm.RosterItem{}, err
			}
		}
	}
	if len(b) != 2 {
		return fsm.RosterItem{}, errShort
	}
	if b[0] > byte(fsm.SubBoth) || b[1]&^(flagAsk|flagApproved) != 0 {
		return fsm.RosterItem{}, fmt.Errorf("bad subscription %d or flags %#x", b[0], b[1])
	}
	item.Sub = fsm.Subscription(b[0])
	item.Ask = b[1]&flagAsk != 0
	item.Approved = b[1]&flagApproved != 0
	return item, nil
}

func encodeVersion(version uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{v1}, version)
}

func decodeVersion(v []byte) (uint64, error) {
	b, err := record(v)
	if err != nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, errShort
	}
	return binary.BigEndian.Uint64(b), nil
}

func encodePending(seq uint64, elem []byte) []byte {
	b := make([]byte, 0, 1+8+len(elem))
	b = append(b, v1)
	b = binary.BigEndian.AppendUint64(b, seq)
	return append(b, elem...)
}

// decodePending returns the seq and element text of a pending record.
func decodePending(v []byte) (uint64, []byte, error) {
	b, err := record(v)
	if err != nil {
		return 0, nil, err
	}
	if len(b) < 8 {
		return 0, nil, errShort
	}
	return binary.BigEndian.Uint64(b), b[8:], nil
}

func encodeOffline(stamp string, elem []byte) []byte {
	b := make([]byte, 0, 1+10+len(stamp)+len(elem))
	b = append(b, v1)
	b = appendString(b, stamp)
	return append(b, elem...)
}

// decodeOffline returns the stamp and element text of an offline record.
func decodeOffline(v []byte) (string, []byte, error) {
	b, err := record(v)
	if err != nil {
		return "", nil, err
	}
	stamp, b, err := readString(b)
	if err != nil {
		return "", nil, err
	}
	return stamp, b, nil
}

// checkElemText is the consistency check's test of element text: not a
// parse (too slow for a large file), only its shape.
func checkElemText(b []byte) error {
	if len(b) < 3 || b[0] != '<' || b[len(b)-1] != '>' {
		return errors.New("element text is not an element")
	}
	return nil
}

// corrupt wraps a decoding error of the record at key in bucket.
func corrupt(bucket, key []byte, err error) error {
	return fmt.Errorf("%w: %s %q: %v", store.ErrCorrupt, bucket, strings.ToValidUTF8(string(key), "\uFFFD"), err)
}
