package fsm_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/xmppfsm/xmppfsm/fsm"
)

// User transcripts in testdata/user/*.txt drive the user machine
// (fsm.StepUser) the way testdata/*.txt drive the session machine:
//
//	# I-41: the first comment lines name the rules the transcript checks
//	policy no-rosterver                      optional, before "user"
//	user alice@localhost version=3 roster=bob@localhost:both+name=Bob+group=Friends pending=dave@localhost
//	> bound from=alice@localhost/phone       a user event
//	< deliver target=… from=… to=… <xml/>    the effects it must produce, in order
//	? resources=… roster=… pending=… version=…   the user after it
//
// The "user" line builds the machine with fsm.NewUser: its bare JID, then
// any of noaccount (Exists is false), version=N (the roster version),
// roster=ITEM,ITEM… and pending=JID,JID… (inbound subscription requests,
// each the stanza <presence type='subscribe'/>). A roster item is written
// jid:subscription followed by +ask, +approved, +name=NAME and +group=NAME
// (names without spaces, commas or plus signs); the "?" lines render the
// roster the same way.
//
// The "policy" line takes the words of the session transcripts'
// parsePolicy (hosts localhost and example.com) and no-offline,
// iq-from-strangers, no-rosterver, no-preapproval, subscribe-ack,
// probe-on-approval and max-roster=N (Policy.MaxRosterItems).
//
// Events are "> kind field=value… [<xml/>]" with the kinds of
// fsm.UserEventKind: bound, unbound, broadcast, outbound, inbound and
// offline-loaded, offline-refused and store-failed, and the fields from, to,
// cause=KIND (store-failed), directed=a,b and the flag
// initial. The messages an offline-loaded event carries are written before
// it, one a line: "stored stamp=2026-01-01T00:00:00Z <message…/>".
// A "writes-fail" line says the store refused the writes of the step before
// it: the user goes back to what it was before that step, as the hub keeps
// it, and the next event is usually "> store-failed cause=KIND …".
//
// "?" compares resources (full JIDs, each with +available, +prio=N when
// not 0, +interested), roster, pending, version and exists.
//
// After every step the runner checks that StepUser did not change its
// argument, the user invariants UI-1…UI-9 of spec/im.md (checkUser) and
// the properties of the step itself (checkUserStep).
//
// go test ./fsm -run TestUserTranscripts -rewrite regenerates the "<" and
// "?" lines from what StepUser does now: read the diff before committing
// it. Transcripts that expect the RFC's behaviour where the code differs
// fail until the code is fixed; their first comment says so and ends with
// "Do not -rewrite this file.", which makes -rewrite leave them alone.

func TestUserTranscripts(t *testing.T) {
	forEachTranscript(t, "testdata/user/*.txt", "user transcripts", runUserTranscript)
}

func runUserTranscript(t *testing.T, path string) {
	policy, _ := parsePolicy(nil)
	var u fsm.User
	haveUser := false
	var stored []fsm.StoredMessage // for the next offline-loaded event
	var beforeStep fsm.User        // the user before the last step (writes-fail)
	tr := transcript{t: t, path: path, machine: "user"}
	tr.own = func(n int, raw string, flush func()) bool {
		switch {
		case strings.HasPrefix(raw, "policy"):
			flush()
			p, err := parseUserPolicy(strings.Fields(raw)[1:])
			if err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
			policy = p
		case strings.HasPrefix(raw, "user "):
			flush()
			var err error
			u, err = parseUser(policy, strings.Fields(raw)[1:])
			if err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
			if err := checkUser(u); err != nil {
				t.Fatalf("%s:%d: the initial user breaks an invariant:\n%v", path, n, err)
			}
			haveUser = true
		case raw == "writes-fail":
			// The store refused the last step's writes: the hub keeps the
			// user it stepped (fsm.UEvStoreFailed).
			flush()
			u = beforeStep
		case strings.HasPrefix(raw, "stored "):
			flush()
			msg, err := parseStored(raw[len("stored "):])
			if err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
			stored = append(stored, msg)
		default:
			return false
		}
		return true
	}
	tr.step = func(n int, raw string) []string {
		if !haveUser {
			t.Fatalf("%s:%d: an event before the \"user\" line", path, n)
		}
		ev, err := parseUserEvent(raw[2:])
		if err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		if ev.Kind == fsm.UEvOfflineLoaded {
			ev.Offline, stored = stored, nil
		}
		before := dumpUser(u)
		next, effects := fsm.StepUser(u, ev)
		if diff := cmp.Diff(before, dumpUser(u)); diff != "" {
			t.Fatalf("%s:%d: StepUser changed its argument (-before +after):\n%s", path, n, diff)
		}
		if err := checkUser(next); err != nil {
			t.Errorf("%s:%d: invariant broken after %q:\n%v", path, n, raw, err)
		}
		if err := checkUserStep(u, next, ev, effects); err != nil {
			t.Errorf("%s:%d: step property broken by %q:\n%v", path, n, raw, err)
		}
		beforeStep, u = u, next
		return effectStrings(effects)
	}
	tr.fields = func() map[string]string { return userFields(u) }
	lines, out := tr.run()
	if len(stored) > 0 {
		t.Errorf("%s: stored messages with no offline-loaded event after them", path)
	}
	if *rewrite && strings.Contains(commentText(lines), keepExpectations) {
		t.Logf("%s: not rewritten: it expects the RFC's behaviour where the code differs", path)
		return
	}
	tr.write(out)
}

// keepExpectations, in a transcript's comments, keeps -rewrite from
// replacing its expectations: the transcript says what the RFC asks where
// the code does something else (spec/im.md, "Open disagreements").
const keepExpectations = "Do not -rewrite this file."

// commentText joins a transcript's comment lines into one line of words.
func commentText(lines []string) string {
	var words []string
	for _, l := range lines {
		if c, ok := strings.CutPrefix(l, "#"); ok {
			words = append(words, strings.Fields(c)...)
		}
	}
	return strings.Join(words, " ")
}

// parseUserPolicy reads the policy words of the session transcripts and
// the user machine's own.
func parseUserPolicy(words []string) (*fsm.Policy, error) {
	var rest []string
	var set []func(*fsm.Policy)
	for _, w := range words {
		if v, ok := strings.CutPrefix(w, "max-roster="); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, err
			}
			set = append(set, func(p *fsm.Policy) { p.MaxRosterItems = n })
			continue
		}
		switch w {
		case "no-offline":
			set = append(set, func(p *fsm.Policy) { p.OfflineStorage = false })
		case "subscribe-ack":
			set = append(set, func(p *fsm.Policy) { p.SubscribeAck = true })
		case "probe-on-approval":
			set = append(set, func(p *fsm.Policy) { p.ProbeOnApproval = true })
		case "iq-from-strangers":
			set = append(set, func(p *fsm.Policy) { p.IQFromStrangers = true })
		case "no-rosterver":
			set = append(set, func(p *fsm.Policy) { p.RosterVersioning = false })
		case "no-preapproval":
			set = append(set, func(p *fsm.Policy) { p.PreApproval = false })
		default:
			rest = append(rest, w)
		}
	}
	p, err := parsePolicy(rest)
	if err != nil {
		return nil, err
	}
	for _, f := range set {
		f(p)
	}
	return p, nil
}

// parseUser reads the words after "user".
func parseUser(p *fsm.Policy, words []string) (fsm.User, error) {
	if len(words) == 0 {
		return fsm.User{}, fmt.Errorf("user without a JID")
	}
	bare, exists := words[0], true
	var roster fsm.Roster
	var pending []fsm.PendingRequest
	for _, w := range words[1:] {
		k, v, _ := strings.Cut(w, "=")
		switch k {
		case "noaccount":
			exists = false
		case "version":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return fsm.User{}, err
			}
			roster.Version = n
		case "roster":
			items, err := parseRosterItems(v)
			if err != nil {
				return fsm.User{}, err
			}
			roster.Items = items
		case "pending":
			for _, from := range splitList(v) {
				el := etree.NewElement("presence")
				el.CreateAttr("type", "subscribe")
				pending = append(pending, fsm.PendingRequest{From: from, Elem: el})
			}
		default:
			return fsm.User{}, fmt.Errorf("unknown user word %q", w)
		}
	}
	return fsm.NewUser(p, bare, exists, roster, pending), nil
}

func splitList(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// parseRosterItems reads ITEM,ITEM… where ITEM is
// jid:subscription[+ask][+approved][+name=N][+group=G]….
func parseRosterItems(v string) ([]fsm.RosterItem, error) {
	var items []fsm.RosterItem
	for _, s := range splitList(v) {
		j, rest, ok := strings.Cut(s, ":")
		if !ok {
			return nil, fmt.Errorf("roster item %q: no subscription", s)
		}
		parts := strings.Split(rest, "+")
		it := fsm.RosterItem{JID: j}
		switch parts[0] {
		case "none":
			it.Sub = fsm.SubNone
		case "to":
			it.Sub = fsm.SubTo
		case "from":
			it.Sub = fsm.SubFrom
		case "both":
			it.Sub = fsm.SubBoth
		default:
			return nil, fmt.Errorf("roster item %q: subscription %q", s, parts[0])
		}
		for _, f := range parts[1:] {
			k, val, _ := strings.Cut(f, "=")
			switch k {
			case "ask":
				it.Ask = true
			case "approved":
				it.Approved = true
			case "name":
				it.Name = val
			case "group":
				it.Groups = append(it.Groups, val)
			default:
				return nil, fmt.Errorf("roster item %q: unknown flag %q", s, f)
			}
		}
		items = append(items, it)
	}
	return items, nil
}

// renderRosterItem writes an item as parseRosterItems reads it.
func renderRosterItem(it fsm.RosterItem) string {
	var b strings.Builder
	b.WriteString(it.JID + ":" + it.Sub.String())
	if it.Ask {
		b.WriteString("+ask")
	}
	if it.Approved {
		b.WriteString("+approved")
	}
	if it.Name != "" {
		b.WriteString("+name=" + it.Name)
	}
	for _, g := range it.Groups {
		b.WriteString("+group=" + g)
	}
	return b.String()
}

// userFields renders what "?" lines can compare.
func userFields(u fsm.User) map[string]string {
	var rs, items, pending []string
	for _, r := range u.Resources {
		s := r.FullJID
		if r.Available() {
			s += "+available"
		}
		if r.Priority != 0 {
			s += "+prio=" + strconv.Itoa(int(r.Priority))
		}
		if r.Interested {
			s += "+interested"
		}
		rs = append(rs, s)
	}
	for _, it := range u.Roster.Items {
		items = append(items, renderRosterItem(it))
	}
	for _, p := range u.Pending {
		pending = append(pending, p.From)
	}
	return map[string]string{
		"resources": strings.Join(rs, ","),
		"roster":    strings.Join(items, ","),
		"pending":   strings.Join(pending, ","),
		"version":   strconv.FormatUint(u.Roster.Version, 10),
		"exists":    strconv.FormatBool(u.Exists),
	}
}

var userEventKinds = func() map[string]fsm.UserEventKind {
	m := map[string]fsm.UserEventKind{}
	for k := fsm.UserEventKind(0); k.String() != "user-event(?)"; k++ {
		m[k.String()] = k
	}
	return m
}()

// parseUserEvent reads "kind key=value ... [<xml/>]".
func parseUserEvent(text string) (fsm.UserEvent, error) {
	words, xmlText, err := eventWords(text)
	if err != nil {
		return fsm.UserEvent{}, err
	}
	kind, ok := userEventKinds[words[0][0]]
	if !ok {
		return fsm.UserEvent{}, fmt.Errorf("unknown user event %q", words[0][0])
	}
	ev := fsm.UserEvent{Kind: kind}
	for _, w := range words[1:] {
		k, v := w[1], w[2]
		switch k {
		case "from":
			ev.From = v
		case "to":
			ev.To = v
		case "initial":
			ev.Initial = true
		case "directed":
			ev.Directed = splitList(v)
		case "cause":
			c, ok := userEventKinds[v]
			if !ok {
				return ev, fmt.Errorf("unknown cause %q", v)
			}
			ev.Cause = c
		default:
			return ev, fmt.Errorf("unknown field %q for %v", k, kind)
		}
	}
	ev.Elem, err = eventElem(xmlText)
	return ev, err
}

// parseStored reads "stamp=… <message…/>".
func parseStored(text string) (fsm.StoredMessage, error) {
	head, xmlText, ok := strings.Cut(text, "<")
	stamp, found := strings.CutPrefix(strings.TrimSpace(head), "stamp=")
	if !ok || !found {
		return fsm.StoredMessage{}, fmt.Errorf("stored message %q: want stamp=… <message/>", text)
	}
	el, err := parseXML("<" + xmlText)
	if err != nil {
		return fsm.StoredMessage{}, err
	}
	return fsm.StoredMessage{Elem: el, Stamp: stamp}, nil
}

// dumpUser renders everything a User holds, elements included, so that a
// change to a StepUser argument shows up as a difference.
func dumpUser(u fsm.User) []string {
	d := []string{
		fmt.Sprintf("policy %p", u.Policy),
		"jid " + u.JID,
		"exists " + strconv.FormatBool(u.Exists),
		"version " + strconv.FormatUint(u.Roster.Version, 10),
	}
	for _, it := range u.Roster.Items {
		d = append(d, fmt.Sprintf("item %q %q %q %v %v %v", it.JID, it.Name, it.Groups, it.Sub, it.Ask, it.Approved))
	}
	for _, p := range u.Pending {
		d = append(d, "pending "+p.From+" "+fsm.XML(p.Elem))
	}
	for _, r := range u.Resources {
		d = append(d, fmt.Sprintf("resource %s %d %v %s", r.FullJID, r.Priority, r.Interested, fsm.XML(r.Presence)))
	}
	return d
}

// checkUser checks the user invariants with (fsm.User).Check.
func checkUser(u fsm.User) error { return u.Check() }

// checkUserStep checks what spec/im.md says of a step (Invariants): the
// roster version grows by one with each saved or removed item, and only
// then (UI-8); the stored items are the new roster's; a stanza is delivered
// only to a resource connected after the step; and an event from a
// resource that is not bound changes nothing and does nothing.
func checkUserStep(before, after fsm.User, ev fsm.UserEvent, effects []fsm.UserEffect) error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	v := before.Roster.Version
	for _, e := range effects {
		if e.Kind.IsWrite() && ev.Kind != fsm.UEvOutbound && ev.Kind != fsm.UEvInbound {
			// I-56 answers a refused write for these two causes only.
			bad("I-56 %v writes (%v): only a stanza's step may, so that a refusal has somebody to answer", ev.Kind, e.Kind)
		}
		switch e.Kind {
		case fsm.UEffSaveItem:
			v++
			if e.Version != v {
				bad("UI-8 save-item %s with version %d, want %d", e.Item.JID, e.Version, v)
			}
			if it, ok := after.Roster.Item(e.Item.JID); !ok || !cmp.Equal(it, e.Item, cmpopts.EquateEmpty()) {
				bad("UI-8 save-item %s does not store the item the roster now holds", e.Item.JID)
			}
		case fsm.UEffRemoveItem:
			v++
			if e.Version != v {
				bad("UI-8 remove-item %s with version %d, want %d", e.Item.JID, e.Version, v)
			}
			if _, ok := after.Roster.Item(e.Item.JID); ok {
				bad("UI-8 remove-item %s but the roster still holds it", e.Item.JID)
			}
		case fsm.UEffDeliver:
			if !slices.ContainsFunc(after.Resources, func(r fsm.Resource) bool { return r.FullJID == e.Target }) {
				bad("deliver to %s, which is not a connected resource", e.Target)
			}
		}
	}
	if after.Roster.Version != v {
		bad("UI-8 roster version %d after the step, the effects stored %d", after.Roster.Version, v)
	}
	if v == before.Roster.Version && !cmp.Equal(before.Roster.Items, after.Roster.Items, cmpopts.EquateEmpty()) {
		bad("UI-8 the roster changed but its version did not")
	}
	if ev.Kind == fsm.UEvBroadcast || ev.Kind == fsm.UEvOutbound {
		bound := slices.ContainsFunc(before.Resources, func(r fsm.Resource) bool { return r.FullJID == ev.From })
		if !bound && (len(effects) > 0 || !cmp.Equal(dumpUser(before), dumpUser(after))) {
			bad("an event from %q, which is not bound, had an effect", ev.From)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}
