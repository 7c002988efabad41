package router

import (
	"slices"
	"testing"

	"github.com/xmppfsm/xmppfsm/impl/store/memstore"
)

// TestReleaseComparesFullJID: a resourcepart may contain '/' (RFC 7622
// §3.4), so releasing resource "r" must not free the full JID of resource
// "x/r" that the same connection holds.
func TestReleaseComparesFullJID(t *testing.T) {
	r := New(nil, memstore.New(memstore.Options{}), Options{})
	c := &Conn{r: r, id: "c"}
	c.s.Host = "localhost"
	for _, full := range []string{"u@localhost/x/r", "u@localhost/r", "xu@localhost/r"} {
		if _, ok, _ := r.reg.claim(full, c, false); !ok {
			t.Fatalf("claim of %s refused", full)
		}
		c.held = append(c.held, full)
	}
	c.releaseLocked("u", "r")
	if want := []string{"u@localhost/x/r", "xu@localhost/r"}; !slices.Equal(c.held, want) {
		t.Errorf("held after releasing u's resource r: %v, want %v", c.held, want)
	}
	for full, want := range map[string]bool{"u@localhost/x/r": true, "u@localhost/r": false, "xu@localhost/r": true} {
		if _, ok := r.reg.get(full); ok != want {
			t.Errorf("%s registered: %v, want %v", full, ok, want)
		}
	}
	if _, held, _ := r.reg.sizes(); held != 2 {
		t.Errorf("count %d after the release, want 2", held)
	}
}

// TestRegistryCounts: the count a claim reports (S-99). A new full JID
// counts every full JID of the user, pending grants included; a takeover
// of a settled one leaves the pending grants out (it adds none, and they
// may be handed back); a takeover of a pending one counts like it.
func TestRegistryCounts(t *testing.T) {
	g := newRegistry(4)
	a, b, c, d := &Conn{id: "a"}, &Conn{id: "b"}, &Conn{id: "c"}, &Conn{id: "d"}
	claim := func(full string, by *Conn, take bool, wantOK bool, wantN int) {
		t.Helper()
		_, ok, n := g.claim(full, by, take)
		if ok != wantOK || n != wantN {
			t.Errorf("claim of %s by %s: ok %v, n %d; want %v, %d", full, by.id, ok, n, wantOK, wantN)
		}
	}
	claim("u@h/1", a, false, true, 1)
	g.settle("u@h/1", a)
	claim("u@h/2", b, false, true, 2) // pending: maybe one too many
	claim("u@h/1", c, false, false, 0)
	claim("u@h/1", c, true, true, 1)  // takes a settled one over: b's pending grant left out
	claim("u@h/3", a, false, true, 3) // pending, over a limit of 2
	claim("u@h/2", d, true, true, 2)  // takes b's pending one over: b's count, not a's later one
	if !g.deleteIf("u@h/3", a) {      // a hands its extra one back
		t.Fatal("a could not hand its grant back")
	}
	g.settle("u@h/2", b) // b no longer holds it: nothing happens
	if _, held, pending := g.sizes(); held != 2 || pending != 1 {
		t.Errorf("held %d, pending %d; want 2, 1", held, pending)
	}
	if g.deleteIf("u@h/2", b) {
		t.Error("b deleted a full JID d holds")
	}
	if !g.deleteIf("u@h/2", d) || !g.deleteIf("u@h/1", c) {
		t.Error("a holder could not delete its full JID")
	}
	if full, held, pending := g.sizes(); full != 0 || held != 0 || pending != 0 {
		t.Errorf("after the deletes: %d full JIDs, held %d, pending %d; want none", full, held, pending)
	}
}
