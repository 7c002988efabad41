package server_test

import (
	"errors"
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/server"
	"github.com/xmppfsm/xmppfsm/impl/server/xclient"
	"github.com/xmppfsm/xmppfsm/impl/store"
)

// fullDisk is a store whose roster and pending-request writes fail, as on
// a full disk; everything else works.
type fullDisk struct{ store.Store }

func (fullDisk) Commit(string, []fsm.UserEffect) error {
	return errors.New("write store.db: no space left on device")
}

// TestStoreWriteFails: a roster set the store cannot keep is answered
// wait/resource-constraint, is not pushed, and is not in the roster after
// (I-56); the session goes on.
func TestStoreWriteFails(t *testing.T) {
	ts := start(t, func(c *server.Config) {
		plain(c)
		c.Store = fullDisk{c.Store}
	})
	alice := xclient.Dial(t, ts.addr, "localhost")
	alice.Login("alice", "wonderland", "rabbit")
	rosterItems := func(id string) int {
		t.Helper()
		alice.Send(`<iq type='get' id='` + id + `'><query xmlns='jabber:iq:roster'/></iq>`)
		iq := alice.Expect("iq")
		if iq.SelectAttrValue("id", "") != id || iq.SelectAttrValue("type", "") != "result" {
			t.Fatalf("roster get %s: got id %q type %q", id, iq.SelectAttrValue("id", ""), iq.SelectAttrValue("type", ""))
		}
		return len(iq.FindElements("query/item"))
	}
	if n := rosterItems("r1"); n != 0 {
		t.Fatalf("new roster has %d items", n)
	}
	alice.Send(`<iq type='set' id='s1'><query xmlns='jabber:iq:roster'><item jid='bob@localhost'/></query></iq>`)
	iq := alice.Expect("iq") // no push may come first: alice is interested
	if iq.SelectAttrValue("id", "") != "s1" || iq.SelectAttrValue("type", "") != "error" {
		t.Fatalf("roster set: got id %q type %q, want the error of s1", iq.SelectAttrValue("id", ""), iq.SelectAttrValue("type", ""))
	}
	if typ, cond := errorOf(iq); typ != "wait" || cond != "resource-constraint" {
		t.Fatalf("roster set: %s/%s, want a wait/resource-constraint error", typ, cond)
	}
	if n := rosterItems("r2"); n != 0 {
		t.Errorf("the roster has %d items after a set the store refused", n)
	}
	if got := ts.srv.Router().Stats().StoreErrors; got != 1 {
		t.Errorf("StoreErrors = %d, want 1", got)
	}
	alice.Send(`</stream:stream>`)
	alice.ExpectEnd()
}
