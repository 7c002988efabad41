package boltstore_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/store/boltstore"
	"github.com/xmppfsm/xmppfsm/impl/store/storetest"
)

// diskFullWrites bounds the writes tried on a full disk: each adds about
// 2 KiB, and the file's free pages are far fewer on a 4 MiB tmpfs.
const diskFullWrites = 5000

// TestOpenWritesNothing: opening a store that exists leaves its file as
// it was, so a server restarts on a full (or failing) disk and serves what
// it holds.
func TestOpenWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s := open(t, path, nil)
	storetest.Populate(t, s)
	noErr(t, s.Close())
	before, err := os.ReadFile(path)
	noErr(t, err)
	noErr(t, open(t, path, nil).Close())
	after, err := os.ReadFile(path)
	noErr(t, err)
	if !bytes.Equal(before, after) {
		t.Errorf("Open and Close of an existing store changed its file")
	}
}

// TestDiskFull: on a full file system (a 4 MiB tmpfs and a file filling
// it) a Commit or a StoreOffline that needs new pages fails with ENOSPC
// and changes nothing, as store.Store promises of any failed write; a
// write that fits in the file's free pages may still succeed. Once the file
// is removed the same Store writes again, without a reopen (bbolt rolls the
// failed transaction back and reloads its free list), and the file passes
// Open's full check with everything that succeeded in it. A store also
// opens while the disk is full.
func TestDiskFull(t *testing.T) {
	mnt := filepath.Join(t.TempDir(), "tmpfs")
	storetest.MountTmpfs(t, mnt, "4m")
	s, err := boltstore.OpenDir(filepath.Join(mnt, "data"), &boltstore.Options{OfflineLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }() // the store reopened below
	const me = "me@example.com"
	big := strings.Repeat("x", 2000)
	next := 0
	saveItem := func() error {
		next++
		item := fsm.RosterItem{JID: fmt.Sprintf("c%d@example.com", next), Name: big}
		return s.Commit(me, []fsm.UserEffect{{Kind: fsm.UEffSaveItem, Item: item, Version: uint64(next)}})
	}
	storeOffline := func() error {
		next++
		el := storetest.Elem(t, fmt.Sprintf(`<message id="m%d" type="chat"><body>%s</body></message>`, next, big))
		return s.StoreOffline(me, fsm.StoredMessage{Elem: el, Stamp: "2026-01-01T00:00:00Z"})
	}
	for range 20 { // something to keep
		noErr(t, saveItem())
		noErr(t, storeOffline())
	}
	snapshot := func() string {
		t.Helper()
		d, err := storetest.Dump(s, []string{me})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	filler := filepath.Join(mnt, "filler")
	storetest.Fill(t, filler)
	for _, w := range []struct {
		name  string
		write func() error
	}{{"Commit", saveItem}, {"StoreOffline", storeOffline}} {
		for i := 0; ; i++ {
			if i == diskFullWrites {
				t.Fatalf("%d calls of %s on a full disk succeeded", i, w.name)
			}
			before := snapshot()
			err := w.write()
			if err == nil {
				continue // it fit in the file's free pages
			}
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("%s on a full disk: %v, want ENOSPC", w.name, err)
			}
			if diff := cmp.Diff(before, snapshot()); diff != "" {
				t.Fatalf("%s that failed changed the store (-before +after):\n%s", w.name, diff)
			}
			t.Logf("%s: ENOSPC after %d writes on the full disk", w.name, i)
			break
		}
	}

	// A restart while the disk is full: Open writes nothing to a file it
	// knows (TestOpenWritesNothing), so it opens and serves reads.
	noErr(t, s.Close())
	s, err = boltstore.OpenDir(filepath.Join(mnt, "data"), nil)
	if err != nil {
		t.Fatalf("reopening on the full disk: %v", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	noErr(t, saveItem())
	noErr(t, storeOffline())
	want := snapshot()
	noErr(t, s.Close())
	s, err = boltstore.OpenDir(filepath.Join(mnt, "data"), nil) // with its check
	if err != nil {
		t.Fatalf("reopening after the full disk: %v", err)
	}
	if diff := cmp.Diff(want, snapshot()); diff != "" {
		t.Errorf("after a reopen (-before +after):\n%s", diff)
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
