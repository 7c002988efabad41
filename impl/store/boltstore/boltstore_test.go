package boltstore_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/store"
	"github.com/xmppfsm/xmppfsm/impl/store/boltstore"
	"github.com/xmppfsm/xmppfsm/impl/store/storetest"
)

func open(t testing.TB, path string, opts *boltstore.Options) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	n := 0
	storetest.Run(t, func() store.Store {
		n++
		return open(t, filepath.Join(dir, fmt.Sprintf("s%d.db", n)), &boltstore.Options{OfflineLimit: storetest.OfflineLimit})
	})
}

// TestReopen: what a store kept is there after Close and Open, and a store
// reopened after that can be written to.
func TestReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := boltstore.OpenDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	bares := storetest.Populate(t, s)
	before, err := storetest.Dump(s, bares)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		s, err = boltstore.OpenDir(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		after, err := storetest.Dump(s, bares)
		if err != nil {
			t.Fatal(err)
		}
		if after != before {
			t.Fatalf("round %d: after reopening:\n%s\nbefore:\n%s", round, after, before)
		}
		// A change made now is kept too.
		if err := s.SaveItem(bares[0], fsm.RosterItem{JID: "new@example.com"}, 100); err != nil {
			t.Fatal(err)
		}
		if before, err = storetest.Dump(s, bares); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, boltstore.FileName)); err != nil {
		t.Errorf("data file: %v", err)
	}
}

func TestLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s := open(t, path, nil)
	start := time.Now()
	_, err := boltstore.Open(path, &boltstore.Options{Timeout: 100 * time.Millisecond})
	if !errors.Is(err, boltstore.ErrLocked) || !strings.Contains(err.Error(), "data directory is used by another process") {
		t.Errorf("second Open: %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second Open took %v", d)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	open(t, path, nil).Close()
}

// The test binary run as a child: what it does is in the environment.
const (
	envMode = "BOLTSTORE_TEST_CHILD" // "crash" or "hold"
	envPath = "BOLTSTORE_TEST_PATH"  // the data file
)

const crashUser = "crash@example.com"

// crashOps bounds the writes of one crash child, should it not be killed.
const crashOps = 100000

// TestChild is the child process of TestCrash and TestLockedByAnotherProcess;
// run alone it does nothing.
//
// In mode "crash" it opens the store and writes roster items and offline
// messages, alternately, going on from what the store holds, and prints
// "item N" or "msg N" once each write has returned. In mode "hold" it opens
// the store, prints "open" and waits to be killed.
func TestChild(t *testing.T) {
	mode, path := os.Getenv(envMode), os.Getenv(envPath)
	if mode == "" {
		t.Skip("only as a child process")
	}
	fail := func(err error) {
		fmt.Printf("error %v\n", err)
		os.Exit(2)
	}
	s, err := boltstore.Open(path, &boltstore.Options{OfflineLimit: -1})
	if err != nil {
		fail(err)
	}
	if mode == "hold" {
		fmt.Println("open")
		io.Copy(io.Discard, os.Stdin) // until killed, or the parent is gone
		os.Exit(0)
	}
	r, err := s.Roster(crashUser)
	if err != nil {
		fail(err)
	}
	ms, err := s.Offline(crashUser)
	if err != nil {
		fail(err)
	}
	items, msgs := len(r.Items), len(ms)
	for range crashOps {
		if items <= msgs {
			if err := s.SaveItem(crashUser, crashItem(items), uint64(items+1)); err != nil {
				fail(err)
			}
			fmt.Printf("item %d\n", items) // os.Stdout is not buffered
			items++
		} else {
			if err := s.StoreOffline(crashUser, crashMsg(msgs)); err != nil {
				fail(err)
			}
			fmt.Printf("msg %d\n", msgs)
			msgs++
		}
	}
	s.Close()
	os.Exit(0)
}

func crashItem(i int) fsm.RosterItem {
	return fsm.RosterItem{JID: fmt.Sprintf("c%06d@example.com", i), Name: fmt.Sprintf("contact %d", i),
		Groups: []string{"g"}, Sub: fsm.Subscription(i % 4)}
}

func crashMsg(i int) fsm.StoredMessage {
	el, err := store.UnmarshalElement(fmt.Appendf(nil, `<message to="%s" type="chat"><body>message %d &amp; more</body></message>`, crashUser, i))
	if err != nil {
		panic(err)
	}
	return fsm.StoredMessage{Elem: el, Stamp: fmt.Sprintf("stamp %d", i)}
}

// child starts the test binary as a child in mode mode on the data file
// path. It returns its output, line by line. The child's standard input is
// a pipe that stays open as long as this process.
func child(t *testing.T, ctx context.Context, mode, path string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envMode+"="+mode, envPath+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, bufio.NewScanner(out)
}

// TestCrash kills a writing child process at a random moment, several
// times over one file, and checks after each that every write the child
// acknowledged is there, that the file passes the consistency check, and
// that what is there is the acknowledged writes plus at most the one in
// flight.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ackedItems, ackedMsgs := 0, 0 // acknowledged so far: items and messages 0..n-1
	const rounds = 6
	for round := range rounds {
		cmd, lines := child(t, ctx, "crash", path)
		killAfter := 1 + rng.IntN(40)
		if round == rounds-1 {
			killAfter = 1 // right after the first write
		}
		seen := 0
		for lines.Scan() {
			line := lines.Text()
			kind, num, _ := strings.Cut(line, " ")
			n, err := strconv.Atoi(num)
			switch {
			case err != nil || (kind != "item" && kind != "msg"):
				t.Fatalf("round %d: child says %q", round, line)
			case kind == "item":
				if n != ackedItems {
					t.Fatalf("round %d: child acknowledged item %d, want %d", round, n, ackedItems)
				}
				ackedItems++
			default:
				if n != ackedMsgs {
					t.Fatalf("round %d: child acknowledged message %d, want %d", round, n, ackedMsgs)
				}
				ackedMsgs++
			}
			// Lines still arriving after the kill were acknowledged
			// before it: they count.
			if seen++; seen == killAfter {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
			}
		}
		err := cmd.Wait()
		if ctx.Err() != nil {
			t.Fatalf("round %d: child timed out", round)
		}
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Success() {
			t.Fatalf("round %d: child ended with %v, want killed", round, err)
		}

		s := open(t, path, nil) // runs the consistency check
		r, err := s.Roster(crashUser)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := s.Offline(crashUser)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: killed after %d acknowledgements: %d/%d items, %d/%d messages acknowledged/kept",
			round, killAfter, ackedItems, len(r.Items), ackedMsgs, len(ms))
		if len(r.Items) < ackedItems || len(ms) < ackedMsgs {
			t.Fatalf("round %d: lost acknowledged writes: %d items kept of %d acknowledged, %d messages of %d",
				round, len(r.Items), ackedItems, len(ms), ackedMsgs)
		}
		if len(r.Items)+len(ms) > ackedItems+ackedMsgs+1 {
			t.Fatalf("round %d: %d items and %d messages kept, more than the %d+%d acknowledged and one in flight",
				round, len(r.Items), len(ms), ackedItems, ackedMsgs)
		}
		if r.Version != uint64(len(r.Items)) {
			t.Errorf("round %d: roster version %d with %d items", round, r.Version, len(r.Items))
		}
		for i, it := range r.Items {
			if want := crashItem(i); fmt.Sprint(it) != fmt.Sprint(want) {
				t.Fatalf("round %d: item %d = %+v, want %+v", round, i, it, want)
			}
		}
		for i, m := range ms {
			want := crashMsg(i)
			if string(store.MarshalElement(m.Elem)) != string(store.MarshalElement(want.Elem)) || m.Stamp != want.Stamp {
				t.Fatalf("round %d: message %d = %s %q", round, i, store.MarshalElement(m.Elem), m.Stamp)
			}
		}
		// The write in flight, if it was kept, is acknowledged from now on.
		ackedItems, ackedMsgs = len(r.Items), len(ms)
	}
}

// TestLockedByAnotherProcess: a store open in another process is locked.
func TestLockedByAnotherProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	path := filepath.Join(t.TempDir(), "s.db")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd, lines := child(t, ctx, "hold", path)
	defer cmd.Wait()
	defer cmd.Process.Kill()
	if !lines.Scan() || lines.Text() != "open" {
		t.Fatalf("child says %q, want open", lines.Text())
	}
	_, err := boltstore.Open(path, &boltstore.Options{Timeout: 100 * time.Millisecond})
	if !errors.Is(err, boltstore.ErrLocked) {
		t.Fatalf("Open of a file open in another process: %v, want ErrLocked", err)
	}
	t.Log(err)
	cmd.Process.Kill()
	cmd.Wait()
	open(t, path, nil).Close()
}

// raw changes the file at path with bbolt directly, as a bug or a bad disk
// would.
func raw(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCheck: Open refuses a file with a bad record, naming it, unless
// SkipCheck; and a file of a newer format.
func TestCheck(t *testing.T) {
	seqKey := func(bare string, seq uint64) []byte {
		return binary.BigEndian.AppendUint64(append([]byte(bare), 0), seq)
	}
	cases := []struct {
		name   string
		bucket string
		key    []byte
		value  []byte
		want   string
	}{
		{"record version", "roster", []byte("a@b\x00c@d"), []byte{9, 0, 0, 0, 0}, "record version 9"},
		{"truncated item", "roster", []byte("a@b\x00c@d"), []byte{1, 5, 'a'}, "truncated"},
		{"bad subscription", "roster", []byte("a@b\x00c@d"), []byte{1, 0, 0, 7, 0}, "bad subscription"},
		{"roster key", "roster", []byte("a@b"), []byte{1, 0, 0, 0, 0}, "malformed key"},
		{"version", "rosterver", []byte("a@b"), []byte{1, 0, 0}, "truncated"},
		{"account", "accounts", []byte("a@b"), []byte{1}, "malformed localpart"},
		{"pending seq", "pending", []byte("a@b\x00c@d"), append([]byte{1, 0, 0, 0, 0, 0, 0, 0, 99}, "<p/>"...), "beyond"},
		{"pending element", "pending", []byte("a@b\x00c@d"), []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 'x'}, "not an element"},
		{"offline key", "offline", []byte("a@b\x00\x01"), append([]byte{1, 0}, "<m/>"...), "malformed key"},
		{"offline gap", "offline", seqKey("u@x", 5), append([]byte{1, 0}, "<m/>"...), "not consecutive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.db")
			s := open(t, path, nil)
			for range 2 {
				if err := s.StoreOffline("u@x", fsm.StoredMessage{Elem: storetest.Elem(t, "<m/>")}); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			raw(t, path, func(tx *bolt.Tx) error {
				return tx.Bucket([]byte(tc.bucket)).Put(tc.key, tc.value)
			})
			_, err := boltstore.Open(path, nil)
			if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v, want ErrCorrupt naming %q", err, tc.want)
			}
			t.Log(err)
			open(t, path, &boltstore.Options{SkipCheck: true}).Close()
		})
	}

	t.Run("newer format", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "s.db")
		open(t, path, nil).Close()
		raw(t, path, func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("meta")).Put([]byte("format"), []byte{2})
		})
		if _, err := boltstore.Open(path, &boltstore.Options{SkipCheck: true}); err == nil || !strings.Contains(err.Error(), "newer") {
			t.Fatalf("Open of a newer format: %v", err)
		}
	})

	t.Run("corrupt element on load", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "s.db")
		open(t, path, nil).Close()
		raw(t, path, func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("offline")).Put(seqKey("u@x", 1), append([]byte{1, 0}, "<m>"...))
		})
		s := open(t, path, nil) // the check does not parse elements
		defer s.Close()
		if _, err := s.Offline("u@x"); !errors.Is(err, store.ErrCorrupt) {
			t.Fatalf("Offline of a bad element: %v, want ErrCorrupt", err)
		}
	})

	t.Run("not a bbolt file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "s.db")
		if err := os.WriteFile(path, []byte(strings.Repeat("garbage!", 1024)), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := boltstore.Open(path, nil); err == nil {
			t.Fatal("Open of a garbage file succeeded")
		} else {
			t.Log(err)
		}
	})
}

func TestDefaultLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("a thousand fsyncs")
	}
	s := open(t, filepath.Join(t.TempDir(), "s.db"), nil)
	defer s.Close()
	el := storetest.Elem(t, "<message/>")
	for i := range store.DefaultOfflineLimit {
		if err := s.StoreOffline("a@b", fsm.StoredMessage{Elem: el}); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if err := s.StoreOffline("a@b", fsm.StoredMessage{Elem: el}); !errors.Is(err, store.ErrQuotaExceeded) {
		t.Errorf("message %d: %v, want ErrQuotaExceeded", store.DefaultOfflineLimit+1, err)
	}
}
