package boltstore_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/etree"
	bolt "go.etcd.io/bbolt"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/store"
	"github.com/xmppfsm/xmppfsm/impl/store/boltstore"
	"github.com/xmppfsm/xmppfsm/impl/store/memstore"
)

// Every write below is one transaction fsync'd before it returns: the
// figures are those of the disk's fsync more than of the code.

func benchStore(b *testing.B) *boltstore.Store {
	s := open(b, filepath.Join(b.TempDir(), "bench.db"), &boltstore.Options{OfflineLimit: -1})
	b.Cleanup(func() { s.Close() })
	return s
}

func benchItem(i int) fsm.RosterItem {
	return fsm.RosterItem{JID: fmt.Sprintf("contact%07d@example.com", i), Name: "A Contact",
		Groups: []string{"Friends"}, Sub: fsm.SubBoth}
}

var benchMsg = fsm.StoredMessage{
	Elem: func() *etree.Element {
		el, err := store.UnmarshalElement([]byte(`<message from="romeo@example.net/orchard" to="juliet@example.com" type="chat" id="ktx72v49"><body>Art thou not Romeo, and a Montague?</body><thread>e0ffe42b28561960c6b12b944a092794b9683a38</thread></message>`))
		if err != nil {
			panic(err)
		}
		return el
	}(),
	Stamp: "2024-05-06T07:08:09Z",
}

// BenchmarkSaveItem: one roster change, one writer.
func BenchmarkSaveItem(b *testing.B) {
	s := benchStore(b)
	i := 0
	for b.Loop() {
		if err := s.SaveItem("juliet@example.com", benchItem(i), uint64(i+1)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSaveItemParallel: roster changes from 8 goroutines per CPU,
// each its own transaction: bbolt has one writer at a time, so each waits
// for the fsyncs of those before it.
func BenchmarkSaveItemParallel(b *testing.B) {
	s := benchStore(b)
	b.SetParallelism(8)
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(1))
			if err := s.SaveItem(fmt.Sprintf("u%d@example.com", i%64), benchItem(i), uint64(i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkStoreOffline: one message kept for later.
func BenchmarkStoreOffline(b *testing.B) {
	s := benchStore(b)
	for b.Loop() {
		if err := s.StoreOffline("juliet@example.com", benchMsg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRosterLoad1000: loading a roster of 1,000 items.
func BenchmarkRosterLoad1000(b *testing.B) {
	s := benchStore(b)
	fillRoster(b, s, 1000)
	for b.Loop() {
		r, err := s.Roster("juliet@example.com")
		if err != nil || len(r.Items) != 1000 {
			b.Fatal(len(r.Items), err)
		}
	}
}

// BenchmarkOfflineLoad100: loading (and parsing) 100 offline messages.
func BenchmarkOfflineLoad100(b *testing.B) {
	s := benchStore(b)
	for range 100 {
		if err := s.StoreOffline("juliet@example.com", benchMsg); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		ms, err := s.Offline("juliet@example.com")
		if err != nil || len(ms) != 100 {
			b.Fatal(len(ms), err)
		}
	}
}

// BenchmarkMemstoreRosterLoad1000: the same load from memstore, for
// comparison.
func BenchmarkMemstoreRosterLoad1000(b *testing.B) {
	s := memstore.New(memstore.Options{})
	fillRoster(b, s, 1000)
	for b.Loop() {
		if _, err := s.Roster("juliet@example.com"); err != nil {
			b.Fatal(err)
		}
	}
}

func fillRoster(b *testing.B, s store.Store, n int) {
	start := time.Now()
	for i := range n {
		if err := s.SaveItem("juliet@example.com", benchItem(i), uint64(i+1)); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("%d SaveItem in %v", n, time.Since(start))
}

// BenchmarkRawBoltBatchParallel is not boltstore: it measures what bbolt's
// db.Batch, which commits the writes of concurrent callers in one
// transaction and one fsync (each caller still returning after the
// commit, so still durable), would gain over BenchmarkSaveItemParallel's
// one transaction per write. boltstore does not batch (yet).
func BenchmarkRawBoltBatchParallel(b *testing.B) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.MaxBatchDelay = time.Millisecond
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(8)
	var n atomic.Int64
	val := make([]byte, 64)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key := fmt.Appendf(nil, "key%09d", n.Add(1))
			if err := db.Batch(func(tx *bolt.Tx) error { return tx.Bucket([]byte("b")).Put(key, val) }); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
