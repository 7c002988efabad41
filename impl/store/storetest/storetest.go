// Package storetest is the conformance suite of store.Store: every
// implementation (boltstore, memstore, a store an embedder brings) runs
// Run from its tests, with -race.
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/beevik/etree"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/store"
)

// OfflineLimit is the per-user offline message limit the stores given to
// Run must have.
const OfflineLimit = 8

// Run runs the suite. newStore must return a new, empty store whose
// offline limit is OfflineLimit; the suite closes each store it gets.
func Run(t *testing.T, newStore func() store.Store) {
	open := func(t *testing.T) store.Store {
		t.Helper()
		s := newStore()
		t.Cleanup(func() { s.Close() })
		return s
	}
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"Accounts", testAccounts},
		{"DeleteAccount", testDeleteAccount},
		{"Roster", testRoster},
		{"RosterItems", testRosterItems},
		{"Pending", testPending},
		{"Commit", testCommit},
		{"Offline", testOffline},
		{"Quota", testQuota},
		{"Elements", testElements},
		{"Invalid", testInvalid},
		{"Ownership", testOwnership},
		{"Concurrent", testConcurrent},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// must fails the test at once on an error.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

// Elem parses XML text into an element, failing the test if it does not
// parse.
func Elem(t testing.TB, text string) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	doc.ReadSettings.PreserveCData = true
	if err := doc.ReadFromString(text); err != nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	root := doc.Root()
	doc.RemoveChild(root)
	return root
}

// canon is an element's canonical text, or "<nil>".
func canon(el *etree.Element) string {
	if el == nil {
		return "<nil>"
	}
	return string(store.MarshalElement(el))
}

func testAccounts(t *testing.T, s store.Store) {
	names, err := s.Accounts()
	must(t, err)
	if len(names) != 0 {
		t.Errorf("Accounts of an empty store = %q", names)
	}
	if _, ok, err := s.Account("alice"); ok || err != nil {
		t.Errorf("Account of a missing account = %v, %v", ok, err)
	}
	must(t, s.CreateAccount("bob", []byte("bob-creds")))
	must(t, s.CreateAccount("alice", []byte("alice-creds")))
	must(t, s.CreateAccount("empty", nil))
	must(t, s.CreateAccount("bin", []byte{0, 1, 2, 0xff, 0}))
	wantErr(t, "CreateAccount of an existing account", s.CreateAccount("alice", []byte("other")), store.ErrExists)

	check := func(local string, want []byte) {
		t.Helper()
		got, ok, err := s.Account(local)
		if err != nil || !ok || !bytes.Equal(got, want) {
			t.Errorf("Account(%q) = %q, %v, %v; want %q", local, got, ok, err, want)
		}
	}
	check("alice", []byte("alice-creds"))
	check("bob", []byte("bob-creds"))
	check("empty", nil)
	check("bin", []byte{0, 1, 2, 0xff, 0})

	must(t, s.SetCredentials("alice", []byte("new")))
	check("alice", []byte("new"))
	wantErr(t, "SetCredentials of a missing account", s.SetCredentials("carol", []byte("x")), store.ErrNotFound)
	if _, ok, _ := s.Account("carol"); ok {
		t.Error("SetCredentials of a missing account created it")
	}

	names, err = s.Accounts()
	must(t, err)
	if want := []string{"alice", "bin", "bob", "empty"}; !cmp.Equal(names, want) {
		t.Errorf("Accounts = %q, want %q", names, want)
	}
}

// populate gives local@d1 and local@d2 a roster, pending requests and
// offline messages.
func populate(t *testing.T, s store.Store, local string) {
	t.Helper()
	for _, d := range []string{"d1.example", "d2.example"} {
		bare := local + "@" + d
		must(t, s.SaveItem(bare, fsm.RosterItem{JID: "c@x", Sub: fsm.SubBoth}, 1))
		must(t, s.SavePending(bare, fsm.PendingRequest{From: "p@x", Elem: Elem(t, "<presence type='subscribe'/>")}))
		must(t, s.StoreOffline(bare, fsm.StoredMessage{Elem: Elem(t, "<message><body>hi</body></message>"), Stamp: "2024-01-01T00:00:00Z"}))
	}
}

// userData reports what is kept for bare.
func userData(t *testing.T, s store.Store, bare string) (items int, version uint64, pending, offline int) {
	t.Helper()
	r, err := s.Roster(bare)
	must(t, err)
	p, err := s.Pending(bare)
	must(t, err)
	o, err := s.Offline(bare)
	must(t, err)
	return len(r.Items), r.Version, len(p), len(o)
}

func testDeleteAccount(t *testing.T, s store.Store) {
	// alice's neighbours in key order must survive her deletion.
	for _, local := range []string{"alic", "alice", "alice2", "alice.x", "bob"} {
		must(t, s.CreateAccount(local, []byte(local)))
		populate(t, s, local)
	}
	must(t, s.DeleteAccount("alice"))
	if _, ok, _ := s.Account("alice"); ok {
		t.Error("account still there after DeleteAccount")
	}
	for _, d := range []string{"d1.example", "d2.example"} {
		if i, v, p, o := userData(t, s, "alice@"+d); i+p+o != 0 || v != 0 {
			t.Errorf("after DeleteAccount alice@%s has %d items, version %d, %d pending, %d offline", d, i, v, p, o)
		}
		for _, local := range []string{"alic", "alice2", "alice.x", "bob"} {
			if i, v, p, o := userData(t, s, local+"@"+d); i != 1 || v != 1 || p != 1 || o != 1 {
				t.Errorf("after DeleteAccount(alice) %s@%s has %d items, version %d, %d pending, %d offline; want 1 of each", local, d, i, v, p, o)
			}
		}
	}
	names, err := s.Accounts()
	must(t, err)
	if want := []string{"alic", "alice.x", "alice2", "bob"}; !cmp.Equal(names, want) {
		t.Errorf("Accounts = %q, want %q", names, want)
	}
	wantErr(t, "DeleteAccount of a missing account", s.DeleteAccount("alice"), store.ErrNotFound)

	// A new account of the same name starts empty.
	must(t, s.CreateAccount("alice", nil))
	if i, v, p, o := userData(t, s, "alice@d1.example"); i+p+o != 0 || v != 0 {
		t.Errorf("recreated account has %d items, version %d, %d pending, %d offline", i, v, p, o)
	}
}

var itemOpts = cmpopts.EquateEmpty()

func testRoster(t *testing.T, s store.Store) {
	const me = "me@example.com"
	r, err := s.Roster(me)
	must(t, err)
	if r.Version != 0 || r.Items != nil {
		t.Errorf("Roster never saved = %+v, want the zero Roster", r)
	}
	want := fsm.Roster{}
	save := func(item fsm.RosterItem) {
		t.Helper()
		want.Version++
		must(t, s.SaveItem(me, item, want.Version))
		var items []fsm.RosterItem
		for _, it := range want.Items {
			if it.JID != item.JID {
				items = append(items, it)
			}
		}
		items = append(items, item)
		sortItems(items)
		want.Items = items
	}
	remove := func(contact string) {
		t.Helper()
		want.Version++
		must(t, s.RemoveItem(me, contact, want.Version))
		var items []fsm.RosterItem
		for _, it := range want.Items {
			if it.JID != contact {
				items = append(items, it)
			}
		}
		want.Items = items
	}
	check := func(step string) {
		t.Helper()
		got, err := s.Roster(me)
		must(t, err)
		if diff := cmp.Diff(want, got, itemOpts); diff != "" {
			t.Errorf("after %s, roster (-want +got):\n%s", step, diff)
		}
	}
	save(fsm.RosterItem{JID: "zed@example.com", Name: "Zed"})
	save(fsm.RosterItem{JID: "amy@example.com", Sub: fsm.SubTo, Groups: []string{"Friends"}})
	save(fsm.RosterItem{JID: "kim@example.org", Sub: fsm.SubFrom, Ask: true})
	check("three saves")
	save(fsm.RosterItem{JID: "amy@example.com", Name: "Amy", Sub: fsm.SubBoth, Groups: []string{"Work", "Friends"}, Approved: true})
	check("a replacement")
	remove("zed@example.com")
	check("a removal")
	remove("nobody@example.com") // no item: only the version changes
	check("the removal of a missing item")

	// A version is kept as given, even a lower one.
	must(t, s.SaveItem(me, fsm.RosterItem{JID: "kim@example.org"}, 2))
	want.Version = 2
	want.Items[1] = fsm.RosterItem{JID: "kim@example.org"}
	check("a save with a lower version")

	// Rosters are per bare JID, neighbours in key order included.
	for _, other := range []string{"me@example.co", "me@example.com.x", "me@example.comx", "m@example.com"} {
		r, err := s.Roster(other)
		must(t, err)
		if r.Version != 0 || len(r.Items) != 0 {
			t.Errorf("Roster(%q) = %+v, want empty", other, r)
		}
	}

	// The version alone, with no item left.
	remove("amy@example.com")
	remove("kim@example.org")
	check("removing every item")

	// 300 items come back sorted.
	const big = "big@example.com"
	for i := range 300 {
		must(t, s.SaveItem(big, fsm.RosterItem{JID: fmt.Sprintf("c%03d@example.com", (i*7)%300)}, uint64(i+1)))
	}
	r, err = s.Roster(big)
	must(t, err)
	if len(r.Items) != 300 || r.Version != 300 {
		t.Fatalf("big roster: %d items, version %d; want 300, 300", len(r.Items), r.Version)
	}
	for i, it := range r.Items {
		if want := fmt.Sprintf("c%03d@example.com", i); it.JID != want {
			t.Fatalf("big roster item %d is %q, want %q", i, it.JID, want)
		}
	}
}

func sortItems(items []fsm.RosterItem) {
	for i := 1; i < len(items); i++ {
		for j := i; j > 0 && items[j].JID < items[j-1].JID; j-- {
			items[j], items[j-1] = items[j-1], items[j]
		}
	}
}

// testRosterItems round-trips every field of an item.
func testRosterItems(t *testing.T, s store.Store) {
	const me = "me@example.com"
	var items []fsm.RosterItem
	n := 0
	for sub := fsm.SubNone; sub <= fsm.SubBoth; sub++ {
		for _, ask := range []bool{false, true} {
			for _, approved := range []bool{false, true} {
				n++
				items = append(items, fsm.RosterItem{
					JID: fmt.Sprintf("c%02d@example.com", n), Sub: sub, Ask: ask, Approved: approved,
				})
			}
		}
	}
	items = append(items,
		fsm.RosterItem{JID: "d1@example.com", Name: "Zoë 世界 🎉 <&>\"'", Groups: []string{"", "a", "Ünïcode", strings.Repeat("g", 1000)}},
		fsm.RosterItem{JID: "d2@example.com", Name: "\t\n\r", Groups: []string{"one"}},
		fsm.RosterItem{JID: "d3@example.com", Groups: []string{}},
		fsm.RosterItem{JID: "ünïcode@例え.jp", Name: strings.Repeat("n", 5000)},
		fsm.RosterItem{JID: "example.net"}, // a server as a contact
	)
	for i, it := range items {
		must(t, s.SaveItem(me, it, uint64(i+1)))
	}
	got, err := s.Roster(me)
	must(t, err)
	sortItems(items)
	want := fsm.Roster{Version: uint64(len(items)), Items: items}
	if diff := cmp.Diff(want, got, itemOpts); diff != "" {
		t.Errorf("roster (-want +got):\n%s", diff)
	}
	for _, it := range got.Items {
		if it.Groups != nil && len(it.Groups) == 0 {
			t.Errorf("item %q has empty non-nil Groups, want nil", it.JID)
		}
	}
}

func pendingSummary(ps []fsm.PendingRequest) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.From+" "+canon(p.Elem))
	}
	return out
}

func testPending(t *testing.T, s store.Store) {
	const me = "me@example.com"
	ps, err := s.Pending(me)
	must(t, err)
	if len(ps) != 0 {
		t.Errorf("Pending of a new user = %v", pendingSummary(ps))
	}
	req := func(from, status string) fsm.PendingRequest {
		return fsm.PendingRequest{From: from, Elem: Elem(t,
			`<presence from="`+from+`" to="`+me+`" type="subscribe"><status>`+status+`</status></presence>`)}
	}
	var want []fsm.PendingRequest
	set := func(p fsm.PendingRequest) {
		t.Helper()
		must(t, s.SavePending(me, p))
		var keep []fsm.PendingRequest
		for _, q := range want {
			if q.From != p.From {
				keep = append(keep, q)
			}
		}
		want = append(keep, p)
	}
	del := func(from string) {
		t.Helper()
		must(t, s.DeletePending(me, from))
		var keep []fsm.PendingRequest
		for _, q := range want {
			if q.From != from {
				keep = append(keep, q)
			}
		}
		want = keep
	}
	check := func(step string) {
		t.Helper()
		got, err := s.Pending(me)
		must(t, err)
		if diff := cmp.Diff(pendingSummary(want), pendingSummary(got)); diff != "" {
			t.Errorf("after %s, pending (-want +got):\n%s", step, diff)
		}
	}
	// Key order (z, a, m) is not arrival order.
	set(req("zed@example.com", "1"))
	set(req("amy@example.com", "2"))
	set(req("mo@example.org", "3"))
	check("three requests")
	set(req("zed@example.com", "again"))
	check("a replacement (now the newest)")
	del("amy@example.com")
	check("a deletion")
	del("nobody@example.com")
	check("deleting a missing request")
	set(req("amy@example.com", "back"))
	check("a new request after a deletion")

	for _, other := range []string{"me@example.co", "me@example.comx", "zed@example.com"} {
		ps, err := s.Pending(other)
		must(t, err)
		if len(ps) != 0 {
			t.Errorf("Pending(%q) = %v, want none", other, pendingSummary(ps))
		}
	}
	for _, q := range want {
		del(q.From)
	}
	check("deleting all")
}

func offlineSummary(ms []fsm.StoredMessage) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Stamp+" "+canon(m.Elem))
	}
	return out
}

func msg(t testing.TB, i int) fsm.StoredMessage {
	return fsm.StoredMessage{
		Elem:  Elem(t, fmt.Sprintf(`<message from="a@x/r" to="me@example.com" type="chat"><body>message %d</body></message>`, i)),
		Stamp: fmt.Sprintf("2024-05-06T07:08:%02dZ", i%60),
	}
}

func testOffline(t *testing.T, s store.Store) {
	const me = "me@example.com"
	var want []fsm.StoredMessage
	check := func(step string) {
		t.Helper()
		got, err := s.Offline(me)
		must(t, err)
		if diff := cmp.Diff(offlineSummary(want), offlineSummary(got)); diff != "" {
			t.Errorf("after %s, offline (-want +got):\n%s", step, diff)
		}
	}
	check("nothing")
	add := func(i int) {
		t.Helper()
		m := msg(t, i)
		must(t, s.StoreOffline(me, m))
		want = append(want, m)
	}
	del := func(n int) {
		t.Helper()
		must(t, s.DeleteOffline(me, n))
		want = want[min(max(n, 0), len(want)):]
	}
	for i := range 5 {
		add(i)
	}
	check("five messages")
	del(0)
	check("DeleteOffline(0)")
	del(-3)
	check("DeleteOffline(-3)")
	del(2)
	check("DeleteOffline(2)")
	add(5)
	add(6)
	check("two more")
	del(100)
	check("DeleteOffline(100)")
	add(7) // numbering starts again in an empty queue
	add(8)
	check("after emptying")
	must(t, s.DeleteOffline("other@example.com", 5))
	check("DeleteOffline of another user")

	for _, other := range []string{"me@example.co", "me@example.comx", "m@example.com"} {
		ms, err := s.Offline(other)
		must(t, err)
		if len(ms) != 0 {
			t.Errorf("Offline(%q) = %v, want none", other, offlineSummary(ms))
		}
	}
	// An empty stamp is kept as such.
	m := fsm.StoredMessage{Elem: Elem(t, "<message/>")}
	must(t, s.StoreOffline(me, m))
	want = append(want, m)
	check("a message without stamp")
}

func testQuota(t *testing.T, s store.Store) {
	const me, other = "me@example.com", "other@example.com"
	for i := range OfflineLimit {
		must(t, s.StoreOffline(me, msg(t, i)))
	}
	wantErr(t, "StoreOffline beyond the limit", s.StoreOffline(me, msg(t, 99)), store.ErrQuotaExceeded)
	ms, err := s.Offline(me)
	must(t, err)
	if len(ms) != OfflineLimit {
		t.Fatalf("%d messages stored, want %d", len(ms), OfflineLimit)
	}
	for i, m := range ms {
		if want := canon(msg(t, i).Elem); canon(m.Elem) != want {
			t.Errorf("message %d = %s, want %s", i, canon(m.Elem), want)
		}
	}
	// The limit is per user.
	must(t, s.StoreOffline(other, msg(t, 0)))
	// Deleting makes room, and order is kept.
	must(t, s.DeleteOffline(me, 3))
	for i := range 3 {
		must(t, s.StoreOffline(me, msg(t, 100+i)))
	}
	wantErr(t, "StoreOffline beyond the limit again", s.StoreOffline(me, msg(t, 99)), store.ErrQuotaExceeded)
	ms, err = s.Offline(me)
	must(t, err)
	var got, want []string
	for _, m := range ms {
		got = append(got, canon(m.Elem))
	}
	for i := 3; i < OfflineLimit; i++ {
		want = append(want, canon(msg(t, i).Elem))
	}
	for i := range 3 {
		want = append(want, canon(msg(t, 100+i).Elem))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after deleting and refilling (-want +got):\n%s", diff)
	}
}

// Elements are stanzas the way the stream reader produces them: alone,
// declaring what namespaces they use.
var elementTexts = []string{
	`<message/>`,
	`<message xmlns="jabber:client" from="a@b/c" to="d@e" type="chat" id="x1"><body>Hi &amp; &lt;bye&gt; "quoted" 'single' ]]&gt;</body></message>`,
	`<message from="a@b/c"><x:foo xmlns:x="urn:example:x" x:attr="v&amp;&lt;&quot;'&gt;"><x:bar/><baz xmlns="urn:example:y"><x:q/></baz></x:foo></message>`,
	`<presence type="subscribe"><status xmlns="urn:other">s</status><nick xmlns="http://jabber.org/protocol/nick">Zoë</nick></presence>`,
	`<stream:error xmlns:stream="http://etherx.jabber.org/streams"><stream:text>t</stream:text></stream:error>`,
	`<message xml:lang="fr"><body xml:lang="en">héllo 世界 🎉 &#x10FFFF;</body></message>`,
	`<message><body><![CDATA[<not> & markup]]></body><subject>a<![CDATA[b]]>c</subject></message>`,
	"<message>\n  <body> \t </body>\n  <thread/>\n</message>",
	`<message><!-- a comment --><body>x</body></message>`,
	`<message><body>&#xD;&#xA;&#x9;cr lf tab</body></message>`,
	`<message a="&#x9;&#xA;&#xD;" b="&gt;" c='"' d="'"/>`,
	`<iq type="result" id="r"><query xmlns="jabber:iq:roster" ver="7"><item jid="c@x" subscription="both" name="C &amp; D"><group>G</group></item></query></iq>`,
}

// builtElements are elements made in code, whose text must be escaped: CR,
// tabs and newlines in attributes and text, characters XML cannot carry.
func builtElements() []*etree.Element {
	el := etree.NewElement("message")
	el.CreateAttr("to", "a\tb\nc\rd <&>\"'")
	el.CreateAttr("xmlns:p", "urn:example:p")
	body := el.CreateElement("body")
	body.SetText("line1\r\nline2\rline3\n\tend <&> ]]> \"'")
	p := el.CreateElement("p:data")
	p.CreateAttr("p:k", "v")
	p.CreateText("x")
	p.CreateCData("raw <cdata> & ]] >")
	p.CreateText("y")
	bad := etree.NewElement("message")
	bad.CreateElement("body").SetText("bell \x07 nul \x00 bad utf-8 \xff end")
	bad.CreateAttr("id", "\x01\x02")
	long := etree.NewElement("message")
	long.CreateElement("body").SetText(strings.Repeat("long body <&> ", 5000))
	return []*etree.Element{el, bad, long}
}

func allElements(t testing.TB) []*etree.Element {
	var els []*etree.Element
	for _, text := range elementTexts {
		els = append(els, Elem(t, text))
	}
	return append(els, builtElements()...)
}

// testElements round-trips elements through pending requests and offline
// messages: the loaded element's canonical text is the stored one's, byte
// for byte, and the loaded element stands alone.
func testElements(t *testing.T, s store.Store) {
	const me = "me@example.com"
	els := allElements(t)
	for i, el := range els {
		must(t, s.SavePending(me, fsm.PendingRequest{From: fmt.Sprintf("c%02d@example.com", i), Elem: el}))
		must(t, s.StoreOffline(fmt.Sprintf("u%02d@example.com", i), fsm.StoredMessage{Elem: el, Stamp: "s"}))
	}
	ps, err := s.Pending(me)
	must(t, err)
	if len(ps) != len(els) {
		t.Fatalf("%d pending requests, want %d", len(ps), len(els))
	}
	for i, el := range els {
		want := canon(el)
		if got := canon(ps[i].Elem); got != want {
			t.Errorf("pending element %d:\n got %q\nwant %q", i, got, want)
		}
		if ps[i].Elem.Parent() != nil {
			t.Errorf("pending element %d has a parent", i)
		}
		ms, err := s.Offline(fmt.Sprintf("u%02d@example.com", i))
		must(t, err)
		if len(ms) != 1 {
			t.Fatalf("%d offline messages, want 1", len(ms))
		}
		if got := canon(ms[0].Elem); got != want {
			t.Errorf("offline element %d:\n got %q\nwant %q", i, got, want)
		}
		if ms[0].Elem.Parent() != nil {
			t.Errorf("offline element %d has a parent", i)
		}
	}
	// Namespaces survive: the reloaded element resolves its prefixes.
	ms, err := s.Offline("u02@example.com")
	must(t, err)
	foo := ms[0].Elem.ChildElements()[0]
	if ns := foo.NamespaceURI(); ns != "urn:example:x" {
		t.Errorf("reloaded x:foo has namespace %q, want urn:example:x", ns)
	}
	if ns := foo.ChildElements()[1].NamespaceURI(); ns != "urn:example:y" {
		t.Errorf("reloaded baz has namespace %q, want urn:example:y", ns)
	}
	// Escaped text reads back as the text.
	ms, err = s.Offline(fmt.Sprintf("u%02d@example.com", len(elementTexts)))
	must(t, err)
	if got, want := ms[0].Elem.SelectElement("body").Text(), "line1\r\nline2\rline3\n\tend <&> ]]> \"'"; got != want {
		t.Errorf("reloaded body text %q, want %q", got, want)
	}
	if got, want := ms[0].Elem.SelectAttrValue("to", ""), "a\tb\nc\rd <&>\"'"; got != want {
		t.Errorf("reloaded attribute %q, want %q", got, want)
	}
}

func testInvalid(t *testing.T, s store.Store) {
	const me = "me@example.com"
	el := Elem(t, "<message/>")
	for _, local := range []string{"", "a@b", "a\x00b"} {
		wantErr(t, fmt.Sprintf("CreateAccount(%q)", local), s.CreateAccount(local, nil), store.ErrInvalid)
		_, _, err := s.Account(local)
		wantErr(t, fmt.Sprintf("Account(%q)", local), err, store.ErrInvalid)
		wantErr(t, fmt.Sprintf("SetCredentials(%q)", local), s.SetCredentials(local, nil), store.ErrInvalid)
		wantErr(t, fmt.Sprintf("DeleteAccount(%q)", local), s.DeleteAccount(local), store.ErrInvalid)
	}
	for _, bad := range []string{"", "a\x00b@example.com"} {
		_, err := s.Roster(bad)
		wantErr(t, "Roster of a bad JID", err, store.ErrInvalid)
		wantErr(t, "SaveItem for a bad JID", s.SaveItem(bad, fsm.RosterItem{JID: "c@x"}, 1), store.ErrInvalid)
		wantErr(t, "SaveItem of a bad JID", s.SaveItem(me, fsm.RosterItem{JID: bad}, 1), store.ErrInvalid)
		wantErr(t, "RemoveItem for a bad JID", s.RemoveItem(bad, "c@x", 1), store.ErrInvalid)
		wantErr(t, "RemoveItem of a bad JID", s.RemoveItem(me, bad, 1), store.ErrInvalid)
		_, err = s.Pending(bad)
		wantErr(t, "Pending of a bad JID", err, store.ErrInvalid)
		wantErr(t, "SavePending for a bad JID", s.SavePending(bad, fsm.PendingRequest{From: "c@x", Elem: el}), store.ErrInvalid)
		wantErr(t, "SavePending from a bad JID", s.SavePending(me, fsm.PendingRequest{From: bad, Elem: el}), store.ErrInvalid)
		wantErr(t, "DeletePending for a bad JID", s.DeletePending(bad, "c@x"), store.ErrInvalid)
		wantErr(t, "DeletePending from a bad JID", s.DeletePending(me, bad), store.ErrInvalid)
		wantErr(t, "StoreOffline for a bad JID", s.StoreOffline(bad, fsm.StoredMessage{Elem: el}), store.ErrInvalid)
		_, err = s.Offline(bad)
		wantErr(t, "Offline of a bad JID", err, store.ErrInvalid)
		wantErr(t, "DeleteOffline of a bad JID", s.DeleteOffline(bad, 1), store.ErrInvalid)
	}
	wantErr(t, "SavePending of a nil element", s.SavePending(me, fsm.PendingRequest{From: "c@x"}), store.ErrInvalid)
	wantErr(t, "StoreOffline of a nil element", s.StoreOffline(me, fsm.StoredMessage{Stamp: "s"}), store.ErrInvalid)
	// An element whose text would not read back.
	badTag := etree.NewElement("bad tag")
	wantErr(t, "SavePending of an unserialisable element", s.SavePending(me, fsm.PendingRequest{From: "c@x", Elem: badTag}), store.ErrInvalid)
	wantErr(t, "StoreOffline of an unserialisable element", s.StoreOffline(me, fsm.StoredMessage{Elem: badTag}), store.ErrInvalid)

	// Nothing was kept.
	if i, v, p, o := userData(t, s, me); i+p+o != 0 || v != 0 {
		t.Errorf("after invalid calls: %d items, version %d, %d pending, %d offline", i, v, p, o)
	}
	names, err := s.Accounts()
	must(t, err)
	if len(names) != 0 {
		t.Errorf("after invalid calls, accounts %q", names)
	}
}

// testOwnership: changing an argument after the call, or a result, does
// not change the store.
func testOwnership(t *testing.T, s store.Store) {
	const me = "me@example.com"
	creds := []byte("secret")
	must(t, s.CreateAccount("me", creds))
	creds[0] = 'X'
	got, _, err := s.Account("me")
	must(t, err)
	if string(got) != "secret" {
		t.Errorf("credentials changed with the argument: %q", got)
	}
	got[0] = 'Y'
	if got, _, _ := s.Account("me"); string(got) != "secret" {
		t.Errorf("credentials changed with a result: %q", got)
	}

	groups := []string{"a", "b"}
	must(t, s.SaveItem(me, fsm.RosterItem{JID: "c@x", Groups: groups}, 1))
	groups[0] = "changed"
	r, err := s.Roster(me)
	must(t, err)
	if g := r.Items[0].Groups; !cmp.Equal(g, []string{"a", "b"}) {
		t.Errorf("groups changed with the argument: %q", g)
	}
	r.Items[0].Groups[1] = "changed"
	r.Items[0].Name = "changed"
	r2, err := s.Roster(me)
	must(t, err)
	if it := r2.Items[0]; it.Name != "" || !cmp.Equal(it.Groups, []string{"a", "b"}) {
		t.Errorf("item changed with a result: %+v", it)
	}

	el := Elem(t, "<message><body>original</body></message>")
	must(t, s.SavePending(me, fsm.PendingRequest{From: "c@x", Elem: el}))
	must(t, s.StoreOffline(me, fsm.StoredMessage{Elem: el}))
	el.SelectElement("body").SetText("changed")
	el.CreateAttr("id", "changed")
	const want = "<message><body>original</body></message>"
	ps, err := s.Pending(me)
	must(t, err)
	ms, err := s.Offline(me)
	must(t, err)
	if canon(ps[0].Elem) != want || canon(ms[0].Elem) != want {
		t.Errorf("elements changed with the argument: %s, %s", canon(ps[0].Elem), canon(ms[0].Elem))
	}
	ps[0].Elem.SelectElement("body").SetText("changed")
	ms[0].Elem.SelectElement("body").SetText("changed")
	ps, err = s.Pending(me)
	must(t, err)
	ms, err = s.Offline(me)
	must(t, err)
	if canon(ps[0].Elem) != want || canon(ms[0].Elem) != want {
		t.Errorf("elements changed with a result: %s, %s", canon(ps[0].Elem), canon(ms[0].Elem))
	}
}

// Workers is the number of goroutines of the concurrency test.
const Workers = 8

// testConcurrent runs Workers goroutines writing at once, to their own
// users and to one they share, with readers alongside (run it with -race).
func testConcurrent(t *testing.T, s store.Store) {
	const shared, perWorker = "shared@example.com", 6
	var wg sync.WaitGroup
	errs := make(chan error, Workers*100)
	var mu sync.Mutex
	created, stored, quota := 0, 0, 0
	sub1 := Elem(t, "<presence type='subscribe'/>")
	sub2 := Elem(t, "<presence type='subscribe' id='2'/>")
	msgs := make([]fsm.StoredMessage, Workers*10)
	for i := range msgs {
		msgs[i] = msg(t, i)
	}
	for w := range Workers {
		wg.Go(func() {
			fail := func(err error) {
				if err != nil {
					errs <- fmt.Errorf("worker %d: %w", w, err)
				}
			}
			own := fmt.Sprintf("w%d@example.com", w)
			switch err := s.CreateAccount("same", []byte{byte(w)}); {
			case err == nil:
				mu.Lock()
				created++
				mu.Unlock()
			case !errors.Is(err, store.ErrExists):
				fail(err)
			}
			fail(s.CreateAccount(fmt.Sprintf("w%d", w), nil))
			for i := range perWorker {
				fail(s.SaveItem(shared, fsm.RosterItem{JID: fmt.Sprintf("c%d-%d@example.com", w, i)}, uint64(w*perWorker+i+1)))
				fail(s.SaveItem(own, fsm.RosterItem{JID: fmt.Sprintf("c%d@example.com", i)}, uint64(i+1)))
				_, err := s.Roster(shared)
				fail(err)
			}
			fail(s.RemoveItem(shared, fmt.Sprintf("c%d-0@example.com", w), 1000))
			fail(s.SavePending(shared, fsm.PendingRequest{From: own, Elem: sub1}))
			fail(s.SavePending(shared, fsm.PendingRequest{From: own, Elem: sub2}))
			// Two tries each: exactly OfflineLimit of them fit.
			for i := range 2 {
				switch err := s.StoreOffline(shared, msgs[w*10+i]); {
				case err == nil:
					mu.Lock()
					stored++
					mu.Unlock()
				case errors.Is(err, store.ErrQuotaExceeded):
					mu.Lock()
					quota++
					mu.Unlock()
				default:
					fail(err)
				}
				_, err := s.Offline(shared)
				fail(err)
			}
			for i := range 3 {
				fail(s.StoreOffline(own, msgs[i]))
			}
			fail(s.DeleteOffline(own, 1))
			_, err := s.Pending(shared)
			fail(err)
			_, err = s.Accounts()
			fail(err)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if created != 1 {
		t.Errorf("%d concurrent CreateAccount of one name succeeded, want 1", created)
	}
	if stored != OfflineLimit || quota != 2*Workers-OfflineLimit {
		t.Errorf("concurrent StoreOffline: %d stored, %d over quota; want %d, %d", stored, quota, OfflineLimit, 2*Workers-OfflineLimit)
	}
	names, err := s.Accounts()
	must(t, err)
	if len(names) != Workers+1 {
		t.Errorf("%d accounts, want %d", len(names), Workers+1)
	}
	r, err := s.Roster(shared)
	must(t, err)
	if len(r.Items) != Workers*(perWorker-1) || r.Version != 1000 {
		t.Errorf("shared roster: %d items, version %d; want %d, 1000", len(r.Items), r.Version, Workers*(perWorker-1))
	}
	for i := 1; i < len(r.Items); i++ {
		if r.Items[i-1].JID >= r.Items[i].JID {
			t.Errorf("shared roster not sorted at %d", i)
		}
	}
	ps, err := s.Pending(shared)
	must(t, err)
	if len(ps) != Workers {
		t.Errorf("%d pending requests, want %d", len(ps), Workers)
	}
	for _, p := range ps {
		if p.Elem.SelectAttrValue("id", "") != "2" {
			t.Errorf("pending request from %s is not the replacement: %s", p.From, canon(p.Elem))
		}
	}
	ms, err := s.Offline(shared)
	must(t, err)
	if len(ms) != OfflineLimit {
		t.Errorf("%d offline messages, want %d", len(ms), OfflineLimit)
	}
	// Each worker's own messages are in its order.
	for w := range Workers {
		ms, err := s.Offline(fmt.Sprintf("w%d@example.com", w))
		must(t, err)
		if got, want := offlineSummary(ms), offlineSummary([]fsm.StoredMessage{msg(t, 1), msg(t, 2)}); !cmp.Equal(got, want) {
			t.Errorf("worker %d's messages %q, want %q", w, got, want)
		}
		r, err := s.Roster(fmt.Sprintf("w%d@example.com", w))
		must(t, err)
		if len(r.Items) != perWorker || r.Version != perWorker {
			t.Errorf("worker %d's roster: %d items, version %d", w, len(r.Items), r.Version)
		}
	}
}

// testCommit checks that Commit makes a step's writes in order, as the
// single methods would, and all or none.
func testCommit(t *testing.T, s store.Store) {
	const me = "me@example.com"
	sub := Elem(t, `<presence from="amy@example.com" type="subscribe"/>`)
	must(t, s.SaveItem(me, fsm.RosterItem{JID: "old@example.com", Sub: fsm.SubBoth}, 1))
	must(t, s.SavePending(me, fsm.PendingRequest{From: "zed@example.com", Elem: sub}))
	snapshot := func() string {
		t.Helper()
		d, err := Dump(s, []string{me})
		must(t, err)
		return d
	}
	before := snapshot()

	// A step whose last write cannot be kept changes nothing.
	for _, bad := range []fsm.UserEffect{
		{Kind: fsm.UEffSavePending, From: "amy@example.com"}, // no element
		{Kind: fsm.UEffSaveItem, Item: fsm.RosterItem{JID: ""}, Version: 4},
		{Kind: fsm.UEffDeliver, Target: me + "/pc", Elem: sub}, // not a write
	} {
		err := s.Commit(me, []fsm.UserEffect{
			{Kind: fsm.UEffRemoveItem, Item: fsm.RosterItem{JID: "old@example.com"}, Version: 2},
			{Kind: fsm.UEffDeletePending, From: "zed@example.com"},
			{Kind: fsm.UEffSaveItem, Item: fsm.RosterItem{JID: "new@example.com", Ask: true}, Version: 3},
			bad,
		})
		wantErr(t, "Commit with "+bad.Kind.String()+" that cannot be kept", err, store.ErrInvalid)
		if diff := cmp.Diff(before, snapshot()); diff != "" {
			t.Errorf("a Commit that failed on %v changed the store (-before +after):\n%s", bad.Kind, diff)
		}
	}
	must(t, s.Commit(me, nil))

	// The same writes, all good, in order: the later write of an item wins.
	must(t, s.Commit(me, []fsm.UserEffect{
		{Kind: fsm.UEffRemoveItem, Item: fsm.RosterItem{JID: "old@example.com"}, Version: 2},
		{Kind: fsm.UEffDeletePending, From: "zed@example.com"},
		{Kind: fsm.UEffSaveItem, Item: fsm.RosterItem{JID: "new@example.com", Ask: true}, Version: 3},
		{Kind: fsm.UEffSaveItem, Item: fsm.RosterItem{JID: "new@example.com", Sub: fsm.SubTo}, Version: 4},
		{Kind: fsm.UEffSavePending, From: "amy@example.com", Elem: sub},
	}))
	r, err := s.Roster(me)
	must(t, err)
	want := fsm.Roster{Version: 4, Items: []fsm.RosterItem{{JID: "new@example.com", Sub: fsm.SubTo}}}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("roster after Commit (-want +got):\n%s", diff)
	}
	ps, err := s.Pending(me)
	must(t, err)
	if got := pendingSummary(ps); len(got) != 1 || !strings.Contains(got[0], "amy@example.com") {
		t.Errorf("pending after Commit = %v, want amy's request alone", got)
	}
}

func testClosed(t *testing.T, s store.Store) {
	const me = "me@example.com"
	must(t, s.CreateAccount("me", nil))
	must(t, s.Close())
	el := Elem(t, "<message/>")
	closed := func(what string, err error) {
		t.Helper()
		wantErr(t, what+" after Close", err, store.ErrClosed)
	}
	closed("CreateAccount", s.CreateAccount("other", nil))
	_, _, err := s.Account("me")
	closed("Account", err)
	closed("SetCredentials", s.SetCredentials("me", nil))
	closed("DeleteAccount", s.DeleteAccount("me"))
	_, err = s.Accounts()
	closed("Accounts", err)
	_, err = s.Roster(me)
	closed("Roster", err)
	closed("SaveItem", s.SaveItem(me, fsm.RosterItem{JID: "c@x"}, 1))
	closed("RemoveItem", s.RemoveItem(me, "c@x", 2))
	_, err = s.Pending(me)
	closed("Pending", err)
	closed("SavePending", s.SavePending(me, fsm.PendingRequest{From: "c@x", Elem: el}))
	closed("DeletePending", s.DeletePending(me, "c@x"))
	closed("Commit", s.Commit(me, []fsm.UserEffect{{Kind: fsm.UEffDeletePending, From: "c@x"}}))
	closed("StoreOffline", s.StoreOffline(me, fsm.StoredMessage{Elem: el}))
	_, err = s.Offline(me)
	closed("Offline", err)
	closed("DeleteOffline", s.DeleteOffline(me, 1))
	closed("DeleteOffline(0)", s.DeleteOffline(me, 0))
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Populate fills s with some of everything, elements of every kind
// included, for Dump to show (a persistence test compares the Dump of a
// store before and after it is closed and opened again). It returns the
// bare JIDs it used.
func Populate(t testing.TB, s store.Store) []string {
	t.Helper()
	var bares []string
	els := allElements(t)
	for u := range 3 {
		local := fmt.Sprintf("user%d", u)
		if err := s.CreateAccount(local, []byte("creds of "+local)); err != nil {
			t.Fatal(err)
		}
		bare := local + "@example.com"
		bares = append(bares, bare)
		for i := range 5 {
			item := fsm.RosterItem{JID: fmt.Sprintf("c%d@example.org", i), Name: fmt.Sprintf("C %d", i),
				Groups: []string{"g"}, Sub: fsm.Subscription(i % 4), Ask: i%2 == 0, Approved: i == 3}
			if err := s.SaveItem(bare, item, uint64(i+1)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.RemoveItem(bare, "c2@example.org", 6); err != nil {
			t.Fatal(err)
		}
		for i, el := range els {
			if i%3 != u {
				continue
			}
			if err := s.SavePending(bare, fsm.PendingRequest{From: fmt.Sprintf("p%d@example.net", len(els)-i), Elem: el}); err != nil {
				t.Fatal(err)
			}
			if err := s.StoreOffline(bare, fsm.StoredMessage{Elem: el, Stamp: fmt.Sprintf("stamp %d", i)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.DeleteOffline(bare, 1); err != nil {
			t.Fatal(err)
		}
	}
	return bares
}

// Dump renders as text everything s keeps: its accounts and the roster,
// pending requests and offline messages of each of bares.
func Dump(s store.Store, bares []string) (string, error) {
	var b strings.Builder
	names, err := s.Accounts()
	if err != nil {
		return "", err
	}
	for _, n := range names {
		creds, _, err := s.Account(n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "account %q %q\n", n, creds)
	}
	for _, bare := range bares {
		r, err := s.Roster(bare)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s roster version %d\n", bare, r.Version)
		for _, it := range r.Items {
			fmt.Fprintf(&b, "  item %q name %q groups %q sub %v ask %v approved %v\n", it.JID, it.Name, it.Groups, it.Sub, it.Ask, it.Approved)
		}
		ps, err := s.Pending(bare)
		if err != nil {
			return "", err
		}
		for _, p := range ps {
			fmt.Fprintf(&b, "  pending %q %q\n", p.From, canon(p.Elem))
		}
		ms, err := s.Offline(bare)
		if err != nil {
			return "", err
		}
		for _, m := range ms {
			fmt.Fprintf(&b, "  offline %q %q\n", m.Stamp, canon(m.Elem))
		}
	}
	return b.String(), nil
}
