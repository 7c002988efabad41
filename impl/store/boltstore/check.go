package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/xmppfsm/xmppfsm/impl/store"
)

// maxReported is how many problems a failed check names.
const maxReported = 10

// check runs the consistency check of Open.
func (s *Store) check() error {
	var problems []error
	report := func(err error) {
		problems = append(problems, err)
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			report(fmt.Errorf("bbolt: %v", err))
		}
		checkRecords(tx, report)
		return nil
	})
	if err != nil {
		return err
	}
	if len(problems) == 0 {
		return nil
	}
	var b strings.Builder
	for i, p := range problems {
		if i == maxReported {
			fmt.Fprintf(&b, "; and %d more", len(problems)-maxReported)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(strings.TrimPrefix(p.Error(), store.ErrCorrupt.Error()+": "))
	}
	return fmt.Errorf("%w: consistency check: %s", store.ErrCorrupt, b.String())
}

// checkRecords checks every record of every bucket, reporting each bad one.
func checkRecords(tx *bolt.Tx, report func(error)) {
	bad := func(bucket, key []byte, err error) { report(corrupt(bucket, key, err)) }

	accounts := tx.Bucket(bucketAccounts)
	accounts.ForEach(func(k, v []byte) error {
		if store.CheckLocal(string(k)) != nil {
			bad(bucketAccounts, k, errors.New("malformed localpart"))
		} else if _, err := record(v); err != nil {
			bad(bucketAccounts, k, err)
		}
		return nil
	})

	tx.Bucket(bucketRosterVer).ForEach(func(k, v []byte) error {
		if err := store.CheckJID(string(k)); err != nil {
			bad(bucketRosterVer, k, err)
		} else if _, err := decodeVersion(v); err != nil {
			bad(bucketRosterVer, k, err)
		}
		return nil
	})

	tx.Bucket(bucketRoster).ForEach(func(k, v []byte) error {
		_, contact, ok := splitKey(k)
		if !ok || store.CheckJID(string(contact)) != nil {
			bad(bucketRoster, k, errors.New("malformed key"))
		} else if _, err := decodeItem(string(contact), v); err != nil {
			bad(bucketRoster, k, err)
		}
		return nil
	})

	pending := tx.Bucket(bucketPending)
	next := pending.Sequence()
	pending.ForEach(func(k, v []byte) error {
		_, contact, ok := splitKey(k)
		if !ok || store.CheckJID(string(contact)) != nil {
			bad(bucketPending, k, errors.New("malformed key"))
			return nil
		}
		seq, text, err := decodePending(v)
		if err == nil && seq > next {
			err = fmt.Errorf("seq %d beyond the bucket's sequence %d", seq, next)
		}
		if err == nil {
			err = checkElemText(text)
		}
		if err != nil {
			bad(bucketPending, k, err)
		}
		return nil
	})

	var user string
	var prev uint64
	tx.Bucket(bucketOffline).ForEach(func(k, v []byte) error {
		bare, seq, ok := splitKey(k)
		if !ok || len(seq) != 8 {
			bad(bucketOffline, k, errors.New("malformed key"))
			return nil
		}
		n := binary.BigEndian.Uint64(seq)
		if bare == user && n != prev+1 {
			bad(bucketOffline, k, fmt.Errorf("seq %d after %d: not consecutive", n, prev))
		}
		user, prev = bare, n
		_, text, err := decodeOffline(v)
		if err == nil {
			err = checkElemText(text)
		}
		if err != nil {
			bad(bucketOffline, k, err)
		}
		return nil
	})
}
