package hub

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
	"pgregory.net/rapid"
)

const wtDomain = "localhost"

var (
	wtUsers     = []string{"alice", "bob", "carol"}
	wtResources = []string{"r1", "r2", "r3"}
)

// Known disagreements with RFC 6121. The test expects the RFC, so each of
// these makes it fail until the code is fixed; listing an id in the
// environment variable XMPPFSM_WORLD_TOLERATE (comma-separated, or "all")
// makes the model expect what the code does today instead, so that the
// rest of the properties can still be run.
const (
	// I-13: a directed-presence target that is a connected but unavailable
	// resource of the user itself never gets the unavailable presence:
	// I-13 assumes the broadcast reached it, but the broadcast reaches
	// available resources only. RFC 6121 §4.6.3 item 2 (it is not a
	// subscriber) says MUST; WI-3, WI-7.
	bugDirectedOwn = "directed-own-resource"
	// I-13: the same for a connected but unavailable resource of a
	// subscriber, addressed by its full JID: the broadcast to the
	// subscriber's bare JID does not reach it either (WI-3, WI-7; §4.6.3
	// item 1 only says the subscriber keeps getting broadcasts).
	bugDirectedSub = "directed-subscriber-resource"
)

var wtTolerate = func() map[string]bool {
	m := map[string]bool{}
	for _, id := range strings.Split(os.Getenv("XMPPFSM_WORLD_TOLERATE"), ",") {
		if id = strings.TrimSpace(id); id == "all" {
			m[bugDirectedOwn], m[bugDirectedSub] = true, true
		} else if id != "" {
			m[id] = true
		}
	}
	return m
}()

func wtBare(user string) string { return user + "@" + wtDomain }

func wtBareOf(j string) string {
	b, _, _ := strings.Cut(j, "/")
	return b
}

// ---------------------------------------------------------------------------
// The model.

// wtSess is the model of one connection.
type wtSess struct {
	conn string
	user string // bare JID
	res  string
	// exactly one of unbound (authenticated, no resource), live (a
	// connected resource) and closed holds.
	unbound, live, closed bool
	interested, avail     bool
	prio                  int
	tag                   string   // status of the last available presence
	directed              []string // directed-presence targets, in order
}

func (s *wtSess) full() string { return s.user + "/" + s.res }

// wtPair is the model of one user's view of one contact: the roster item,
// if any, and whether a subscription request from the contact is pending.
type wtPair struct {
	item      bool
	name      string
	sub       fsm.Subscription
	ask       bool
	approved  bool
	pendingIn bool
}

// wtMsg is a message kept in offline storage.
type wtMsg struct{ id, from, to, typ string }

// wtWork is a stanza that the model's server still has to process: a
// subscription stanza or a presence probe from one user to another (bare
// JIDs). The hub is FIFO; so is this queue.
type wtWork struct {
	probe    bool
	from, to string
	kind     fsm.SubKind
}

type wtModel struct {
	sessions []*wtSess
	pairs    map[[2]string]*wtPair // [owner, contact]
	pending  map[string][]string   // owner → contacts with a pending request, oldest first
	ver      map[string]uint64
	offline  map[string][]wtMsg
	queue    []wtWork
}

func (m *wtModel) pair(owner, contact string) *wtPair {
	k := [2]string{owner, contact}
	p, ok := m.pairs[k]
	if !ok {
		p = &wtPair{}
		m.pairs[k] = p
	}
	return p
}

func (m *wtModel) state(owner, contact string) fsm.SubState {
	p := m.pair(owner, contact)
	return fsm.SubState{Sub: p.sub, PendingOut: p.ask, PendingIn: p.pendingIn}
}

func (m *wtModel) live() []*wtSess {
	var out []*wtSess
	for _, s := range m.sessions {
		if s.live {
			out = append(out, s)
		}
	}
	return out
}

func (m *wtModel) liveOf(user string) []*wtSess {
	var out []*wtSess
	for _, s := range m.sessions {
		if s.live && s.user == user {
			out = append(out, s)
		}
	}
	return out
}

func (m *wtModel) availOf(user string) []*wtSess {
	var out []*wtSess
	for _, s := range m.liveOf(user) {
		if s.avail {
			out = append(out, s)
		}
	}
	return out
}

func (m *wtModel) boundAt(full string) *wtSess {
	for _, s := range m.sessions {
		if s.live && s.full() == full {
			return s
		}
	}
	return nil
}

func wtSubFrom(s fsm.Subscription) bool { return s == fsm.SubFrom || s == fsm.SubBoth }
func wtSubTo(s fsm.Subscription) bool   { return s == fsm.SubTo || s == fsm.SubBoth }

// ---------------------------------------------------------------------------
// What a connection receives, as one comparable line each.

func wtPres(from, status string) string { return "presence from=" + from + " status=" + status }
func wtUnav(from, status string) string { return "unavailable from=" + from + " status=" + status }
func wtSubKey(kind, from string) string { return kind + " from=" + from }
func wtResult(id string) string         { return "result id=" + id }
func wtError(id, cond string) string    { return "error id=" + id + " cond=" + cond }
func wtPush(ver, item string) string    { return "push ver=" + ver + " " + item }
func wtRemoved(ver, jid string) string  { return "push ver=" + ver + " jid=" + jid + " remove" }
func wtRoster(id, ver, items string) string {
	return "roster id=" + id + " ver=" + ver + " items=[" + items + "]"
}

func wtMsgKey(id, from, to, typ string, delayed bool) string {
	k := "message id=" + id + " from=" + from + " to=" + to + " type=" + typ
	if delayed {
		k += " delay"
	}
	return k
}

func wtItem(jid, name, sub string, ask, approved bool) string {
	k := "jid=" + jid + " name=" + name + " sub=" + sub
	if ask {
		k += " ask"
	}
	if approved {
		k += " approved"
	}
	return k
}

func wtChildText(el *etree.Element, tag string) string {
	if c := el.SelectElement(tag); c != nil {
		return c.Text()
	}
	return ""
}

func wtFirstChild(el *etree.Element) *etree.Element {
	if el == nil {
		return nil
	}
	for _, t := range el.Child {
		if c, ok := t.(*etree.Element); ok {
			return c
		}
	}
	return nil
}

func wtItemKey(it *etree.Element) string {
	return wtItem(it.SelectAttrValue("jid", ""), it.SelectAttrValue("name", ""),
		it.SelectAttrValue("subscription", ""), it.SelectAttrValue("ask", "") == "subscribe",
		it.SelectAttrValue("approved", "") == "true")
}

// wtObserve renders what the server wrote to a connection.
func wtObserve(e fsm.Effect) string {
	switch e.Kind {
	case fsm.EffClose:
		return "close"
	case fsm.EffAbort:
		return "abort"
	case fsm.EffSendHeader:
		return "header"
	}
	el := e.Elem
	if el == nil {
		return "send <nil>"
	}
	from := e.From
	if from == "" {
		from = el.SelectAttrValue("from", "")
	}
	to := e.To
	if to == "" {
		to = el.SelectAttrValue("to", "")
	}
	typ := el.SelectAttrValue("type", "")
	id := el.SelectAttrValue("id", "")
	switch {
	case el.Space == "stream" && el.Tag == "features":
		return "features"
	case el.Space == "stream" && el.Tag == "error":
		if c := wtFirstChild(el); c != nil {
			return "stream-error " + c.Tag
		}
		return "stream-error"
	case el.Tag == "success":
		return "sasl-success"
	case el.Tag == "presence":
		switch typ {
		case "":
			return wtPres(from, wtChildText(el, "status"))
		case "unavailable":
			return wtUnav(from, wtChildText(el, "status"))
		case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
			return wtSubKey(typ, from)
		}
	case el.Tag == "message":
		return wtMsgKey(id, from, to, typ, el.SelectElement("delay") != nil)
	case el.Tag == "iq":
		q := el.SelectElement("query")
		switch {
		case typ == "error":
			return wtError(id, wtFirstChild(el.SelectElement("error")).Tag)
		case typ == "result" && q == nil:
			return wtResult(id)
		case typ == "result":
			var items []string
			for _, it := range q.SelectElements("item") {
				items = append(items, wtItemKey(it))
			}
			return wtRoster(id, q.SelectAttrValue("ver", ""), strings.Join(items, "; "))
		case typ == "set" && q != nil && len(q.SelectElements("item")) == 1:
			it := q.SelectElement("item")
			ver := q.SelectAttrValue("ver", "")
			if it.SelectAttrValue("subscription", "") == "remove" {
				return wtRemoved(ver, it.SelectAttrValue("jid", ""))
			}
			return wtPush(ver, wtItemKey(it))
		}
	}
	return "other from=" + from + " to=" + to + " " + fsm.XML(el)
}

// wtProperty names the property a line of output is about, for messages.
func wtProperty(key string) string {
	switch {
	case strings.HasPrefix(key, "presence"), strings.HasPrefix(key, "unavailable"):
		return "presence broadcast/delivery"
	case strings.HasPrefix(key, "push"):
		return "roster push"
	case strings.HasPrefix(key, "message"):
		return "message routing"
	case strings.HasPrefix(key, "sub"), strings.HasPrefix(key, "unsub"):
		return "subscription stanza"
	case strings.HasPrefix(key, "result"), strings.HasPrefix(key, "roster"), strings.HasPrefix(key, "error"):
		return "iq answer"
	}
	return "stream"
}

// ---------------------------------------------------------------------------
// The world: the hub, the model, and what was observed.

type wtStats struct {
	runs, actions             int
	maxLive, maxAvail         int
	runsWithBoth, bothChecks  int
	runsWithReplace           int
	replaced, logins          int
	delivered                 map[string]int // by property
	messages, stored, flushed int
	bounced                   int
	pushes, probeUnsub        int
	states                    map[string]int // Appendix A states: runs that reached each
	preApproved, autoApproved int
	byAction                  map[string]int
}

type worldTest struct {
	t     *rapid.T
	h     *Hub
	m     *wtModel
	stats *wtStats

	action   string
	got      map[string][]string // conn → what it received during this action
	exp      map[string][]string // conn → what it must receive
	optional map[string][]string // conn → what it may receive (an RFC choice)
	// For the presence-leak property: who had a subscription from whom,
	// and each resource's directed-presence targets, before the action;
	// and who may send whom unavailable presence regardless.
	preFrom     map[[2]string]bool
	preDirected map[string][]string
	mayUnavail  map[[2]string]bool
	directedTo  [2]string   // the action's directed presence: from, to
	before      [][3]string // conn, a, b: on conn, a comes before b
	problems    []string    // broken rules seen by the hooks
	trace       []string    // trace of this action

	shadowS map[string]fsm.Session // each session as of its last step
	shadowU map[string]fsm.User
	dead    map[string]bool // the step being carried out began on a closed session

	conns, ids int
	sawBoth    bool
	sawReplace bool
	states     map[string]bool
}

func newWorldTest(t *rapid.T, stats *wtStats) *worldTest {
	p := fsm.DefaultPolicy
	p.Mechanisms = []fsm.Mechanism{{Name: "PLAIN"}}
	w := &worldTest{
		t:     t,
		h:     New(&p),
		stats: stats,
		m: &wtModel{
			pairs:   map[[2]string]*wtPair{},
			pending: map[string][]string{},
			ver:     map[string]uint64{},
			offline: map[string][]wtMsg{},
		},
		got:     map[string][]string{},
		exp:     map[string][]string{},
		shadowS: map[string]fsm.Session{},
		shadowU: map[string]fsm.User{},
		dead:    map[string]bool{},
		states:  map[string]bool{},
	}
	for _, u := range wtUsers {
		w.h.Store.AddAccount(u, "pw-"+u)
	}
	w.h.Output = w.output
	w.h.Trace = w.traceStep
	return w
}

func (w *worldTest) problem(format string, args ...any) {
	w.problems = append(w.problems, fmt.Sprintf(format, args...))
}

func (w *worldTest) output(o Output) {
	if w.dead[o.Conn] {
		w.problem("output %v to connection %s whose session was already closed", o.Effect, o.Conn)
	}
	w.got[o.Conn] = append(w.got[o.Conn], wtObserve(o.Effect))
}

// wtField returns the value of key=value in a rendered event or effect (the
// fields come before the element).
func wtField(line, key string) string {
	for _, f := range strings.Fields(line) {
		if strings.HasPrefix(f, "<") {
			break
		}
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// traceStep sees every step. It keeps each machine's previous state, to
// check the routing rules against the state a step started from.
func (w *worldTest) traceStep(machine, event string, effects []string) {
	w.trace = append(w.trace, machine+": "+event)
	for _, e := range effects {
		w.trace = append(w.trace, "    "+e)
	}
	if conn, ok := strings.CutPrefix(machine, "conn "); ok {
		pre := w.shadowS[conn]
		post, _ := w.h.Session(conn)
		w.shadowS[conn] = post
		w.dead[conn] = pre.Phase == fsm.Closed
		if strings.HasPrefix(event, "routed") && pre.Phase != fsm.Established {
			w.problem("a stanza was routed to %s, whose session was in phase %v: %s", conn, pre.Phase, event)
		}
		for _, e := range effects {
			if !strings.HasPrefix(e, "route ") && !strings.HasPrefix(e, "broadcast ") {
				continue
			}
			if pre.Phase != fsm.Established || wtField(e, "from") != pre.FullJID {
				w.problem("%s in phase %v (full JID %q) routed %s", conn, pre.Phase, pre.FullJID, e)
			}
		}
		return
	}
	if j, ok := strings.CutPrefix(machine, "user "); ok {
		pre := w.shadowU[j]
		post, _ := w.h.User(j)
		w.shadowU[j] = post
		if !strings.HasPrefix(event, "outbound ") && !strings.HasPrefix(event, "broadcast ") {
			return
		}
		from := wtField(event, "from")
		for _, r := range pre.Resources {
			if r.FullJID == from {
				return
			}
		}
		if len(effects) > 0 {
			w.problem("user %s acted on %s from %s, which is not one of its resources: %v", j, event, from, effects)
		}
	}
}

func (w *worldTest) next(prefix string) string {
	w.ids++
	return prefix + strconv.Itoa(w.ids)
}

// begin starts an action: what is observed from now on is its outcome.
func (w *worldTest) begin(t *rapid.T, format string, args ...any) {
	w.t = t
	w.action = fmt.Sprintf(format, args...)
	w.got = map[string][]string{}
	w.exp = map[string][]string{}
	w.optional = map[string][]string{}
	w.before = nil
	w.trace = nil
	w.preFrom = map[[2]string]bool{}
	w.preDirected = map[string][]string{}
	w.mayUnavail = map[[2]string]bool{}
	w.directedTo = [2]string{}
	for k, p := range w.m.pairs {
		if p.item && wtSubFrom(p.sub) {
			w.preFrom[k] = true
		}
	}
	for _, s := range w.m.live() {
		w.preDirected[s.full()] = s.directed
	}
	w.stats.actions++
	t.Logf("action: %s", w.action)
}

func (w *worldTest) send(conn, xml string) {
	if err := w.h.SendXML(conn, xml); err != nil {
		w.t.Fatalf("SendXML(%s, %s): %v", conn, xml, err)
	}
}

func (w *worldTest) expect(conn, key string) { w.exp[conn] = append(w.exp[conn], key) }

func (w *worldTest) toAvail(user, key string) {
	for _, s := range w.m.availOf(user) {
		w.expect(s.conn, key)
	}
}

func (w *worldTest) toInterested(user, key string) {
	for _, s := range w.m.liveOf(user) {
		if s.interested {
			w.expect(s.conn, key)
		}
	}
}

// presenceTo is where presence addressed to j goes: every available
// resource for a bare JID, the connected resource (available or not) for
// a full JID.
func (w *worldTest) presenceTo(j, key string) {
	if !strings.Contains(j, "/") {
		w.toAvail(j, key)
		return
	}
	if s := w.m.boundAt(j); s != nil {
		w.expect(s.conn, key)
	}
}

func (w *worldTest) who(conn string) string {
	for _, s := range w.m.sessions {
		if s.conn == conn {
			switch {
			case s.live:
				return s.full()
			case s.unbound:
				return s.user + " (unbound)"
			}
			return s.full() + " (closed)"
		}
	}
	return "?"
}

// ---------------------------------------------------------------------------
// The model's server: rosters and subscriptions (RFC 6121 §2, §3, App. A).

func (w *worldTest) itemOf(owner, contact string) string {
	p := w.m.pair(owner, contact)
	return wtItem(contact, p.name, p.sub.String(), p.ask, p.approved)
}

// save records a changed roster item: one version later, pushed to every
// interested resource (RFC 6121 §2.1.6).
func (w *worldTest) save(owner, contact string) {
	w.m.pair(owner, contact).item = true
	w.m.ver[owner]++
	w.toInterested(owner, wtPush(strconv.FormatUint(w.m.ver[owner], 10), w.itemOf(owner, contact)))
}

func (w *worldTest) addPending(owner, contact string) {
	w.m.pair(owner, contact).pendingIn = true
	w.m.pending[owner] = append(w.m.pending[owner], contact)
}

func (w *worldTest) dropPending(owner, contact string) {
	w.m.pair(owner, contact).pendingIn = false
	var keep []string
	for _, c := range w.m.pending[owner] {
		if c != contact {
			keep = append(keep, c)
		}
	}
	w.m.pending[owner] = keep
}

// setState moves owner's view of contact to next; a changed item is saved
// and pushed; an item is never created for a stranger in state None.
func (w *worldTest) setState(owner, contact string, next fsm.SubState, approved bool) {
	p := w.m.pair(owner, contact)
	if !next.PendingIn {
		w.dropPending(owner, contact)
	} else if !p.pendingIn {
		w.t.Fatalf("model: %s → %s enters %v without a request", owner, contact, next)
	}
	if p.item && p.sub == next.Sub && p.ask == next.PendingOut && p.approved == approved {
		return
	}
	if !p.item && next.Sub == fsm.SubNone && !next.PendingOut && !approved {
		return
	}
	p.sub, p.ask, p.approved = next.Sub, next.PendingOut, approved
	w.save(owner, contact)
}

// outboundSub is a subscription stanza of kind k that a resource of user
// a sends to b (Appendix A.2; §3.4 for pre-approval; §3.1.5 and §3.2.2
// for the presence that follows an approval or a cancellation).
func (w *worldTest) outboundSub(a, b string, k fsm.SubKind) {
	if a == b {
		return
	}
	st := w.m.state(a, b)
	row, ok := fsm.OutboundRow(st, k)
	if !ok {
		w.t.Fatalf("model: no Appendix A.2 row for %v %v", st, k)
	}
	p := w.m.pair(a, b)
	if row.PreApproval {
		if !p.approved {
			p.approved = true
			w.stats.preApproved++
			w.save(a, b)
		}
		return
	}
	if k == fsm.Unsubscribed && row.Act == fsm.Must && wtSubFrom(st.Sub) {
		// §3.2.2: a cancelled subscriber first sees the user go; a denied
		// requester never saw the user.
		w.mayUnavail[[2]string{a, b}] = true
		for _, s := range w.m.availOf(a) {
			w.toAvail(b, wtUnav(s.full(), ""))
		}
	}
	if row.Act == fsm.Must {
		w.m.queue = append(w.m.queue, wtWork{from: a, to: b, kind: k})
	}
	approved := p.approved && k != fsm.Unsubscribed
	w.setState(a, b, row.Next, approved)
	if k == fsm.Subscribed && row.Act == fsm.Must {
		for _, s := range w.m.availOf(a) {
			w.toAvail(b, wtPres(s.full(), s.tag))
		}
	}
}

// inboundSub is a subscription stanza of kind k from a arriving at b
// (Appendix A.3; §3.1.3 for where a request goes and the automatic
// answers; §3.4.2 for a pre-approved contact).
func (w *worldTest) inboundSub(a, b string, k fsm.SubKind) {
	st := w.m.state(b, a)
	row, ok := fsm.InboundRow(st, k)
	if !ok {
		w.t.Fatalf("model: no Appendix A.3 row for %v %v", st, k)
	}
	p := w.m.pair(b, a)
	if k == fsm.Subscribe {
		switch {
		case p.approved && !st.PendingIn && (st.Sub == fsm.SubNone || st.Sub == fsm.SubTo):
			next, _ := fsm.Outbound(fsm.SubState{Sub: st.Sub, PendingOut: st.PendingOut, PendingIn: true}, fsm.Subscribed)
			w.stats.autoApproved++
			w.m.queue = append(w.m.queue, wtWork{from: b, to: a, kind: fsm.Subscribed})
			w.setState(b, a, next, false)
			for _, s := range w.m.availOf(b) {
				w.toAvail(a, wtPres(s.full(), s.tag))
			}
		case row.Act == fsm.Must:
			w.addPending(b, a)
			w.toAvail(b, wtSubKey("subscribe", a))
		case row.Note == 2:
			w.m.queue = append(w.m.queue, wtWork{from: b, to: a, kind: fsm.Subscribed})
			for _, s := range w.m.availOf(b) {
				w.toAvail(a, wtPres(s.full(), s.tag))
			}
		}
		return
	}
	if row.Act == fsm.Must {
		w.toInterested(b, wtSubKey(k.String(), a))
	}
	w.setState(b, a, row.Next, p.approved)
	if k == fsm.Unsubscribe && row.Act == fsm.Must {
		// §3.3.3 step 3: unavailable presence to a former subscriber only.
		if wtSubFrom(st.Sub) {
			w.mayUnavail[[2]string{b, a}] = true
			for _, s := range w.m.availOf(b) {
				w.toAvail(a, wtUnav(s.full(), ""))
			}
		}
		w.m.queue = append(w.m.queue, wtWork{from: b, to: a, kind: fsm.Unsubscribed})
	}
}

// probe is a's server asking b's for b's presence (§4.3.2).
func (w *worldTest) probe(a, b string) {
	if p := w.m.pair(b, a); !p.item || !wtSubFrom(p.sub) {
		w.stats.probeUnsub++
		w.m.queue = append(w.m.queue, wtWork{from: b, to: a, kind: fsm.Unsubscribed})
		return
	}
	avail := w.m.availOf(b)
	if len(avail) == 0 {
		w.toAvail(a, wtUnav(b, ""))
	}
	for _, s := range avail {
		w.toAvail(a, wtPres(s.full(), s.tag))
	}
}

func (w *worldTest) runQueue() {
	for len(w.m.queue) > 0 {
		x := w.m.queue[0]
		w.m.queue = w.m.queue[1:]
		if x.probe {
			w.probe(x.from, x.to)
		} else {
			w.inboundSub(x.from, x.to, x.kind)
		}
	}
}

// ---------------------------------------------------------------------------
// The model's server: presence (§4) and session ends.

// unavailable is the unavailable presence key from s, which is already
// marked unavailable: to s itself while it is connected, the user's
// available resources, the subscribers' available resources, and the
// directed-presence targets the broadcast did not reach (§4.5.2, §4.6.3).
func (w *worldTest) unavailable(s *wtSess, key string, directed []string, self bool) {
	if self {
		w.expect(s.conn, key)
	}
	for _, o := range w.m.availOf(s.user) {
		if o != s {
			w.expect(o.conn, key)
		}
	}
	for _, c := range wtUsers {
		c = wtBare(c)
		if c != s.user && w.m.pair(s.user, c).item && wtSubFrom(w.m.pair(s.user, c).sub) {
			w.toAvail(c, key)
		}
	}
	for _, t := range directed {
		b := wtBareOf(t)
		if b == s.user || wtSubFrom(w.m.pair(s.user, b).sub) {
			// The broadcast reached the bare JID's available resources; a
			// full JID that is connected but not available it did not
			// (§4.6.3 item 2 for the user's own; WI-3, WI-7).
			r := w.m.boundAt(t)
			tolerated := wtTolerate[bugDirectedOwn] && b == s.user || wtTolerate[bugDirectedSub] && b != s.user
			if r == nil || r.avail || r == s || !strings.Contains(t, "/") || tolerated {
				continue
			}
		}
		w.presenceTo(t, key) // §4.6.3 item 2
	}
}

// drop ends live session s without a word from it: its unavailable
// presence goes out if it was available or sent directed presence.
func (w *worldTest) drop(s *wtSess, status string) {
	wasAvail, directed := s.avail, s.directed
	s.live, s.closed, s.avail, s.interested, s.prio, s.tag, s.directed = false, true, false, false, 0, "", nil
	key := wtUnav(s.full(), status)
	switch {
	case wasAvail:
		w.unavailable(s, key, directed, false)
	default:
		for _, t := range directed {
			w.presenceTo(t, key)
		}
	}
}

// ---------------------------------------------------------------------------
// Comparing what was received with what the model says.

func (w *worldTest) finish() {
	w.runQueue()
	var bad []string
	conns := map[string]bool{}
	for c := range w.got {
		conns[c] = true
	}
	for c := range w.exp {
		conns[c] = true
	}
	var order []string
	for c := range conns {
		order = append(order, c)
	}
	sort.Strings(order)
	bad = append(bad, w.leaks()...)
	for _, c := range order {
		got, exp := w.got[c], w.exp[c]
		for _, k := range w.optional[c] {
			if i := wtIndex(got, k); i >= 0 {
				exp = append(exp, k)
				w.stats.bounced++
			}
		}
		missing, extra := wtMultisetDiff(exp, got)
		for _, k := range missing {
			bad = append(bad, fmt.Sprintf("%s (%s) did not receive: %s   [%s]", c, w.who(c), k, wtProperty(k)))
		}
		for _, k := range extra {
			bad = append(bad, fmt.Sprintf("%s (%s) received unexpected: %s   [%s]", c, w.who(c), k, wtProperty(k)))
		}
		if len(missing)+len(extra) == 0 {
			// Roster pushes and offline messages come in order.
			for _, prefix := range []string{"push ", "message "} {
				g, e := wtFilter(got, prefix), wtFilter(exp, prefix)
				if prefix == "message " {
					g, e = wtFilter(g, "delay"), wtFilter(e, "delay")
				}
				if strings.Join(g, "\n") != strings.Join(e, "\n") {
					bad = append(bad, fmt.Sprintf("%s (%s) received %q in order\n      %s\n  want\n      %s",
						c, w.who(c), prefix, strings.Join(g, "\n      "), strings.Join(e, "\n      ")))
				}
			}
		}
		for _, k := range got {
			w.stats.delivered[wtProperty(k)]++
			if strings.HasPrefix(k, "message ") {
				w.stats.messages++
				if strings.HasSuffix(k, " delay") {
					w.stats.flushed++
				}
			}
			if strings.HasPrefix(k, "push ") {
				w.stats.pushes++
			}
		}
	}
	for _, b := range w.before {
		g := w.got[b[0]]
		i, j := wtIndex(g, b[1]), wtIndex(g, b[2])
		if i < 0 || j < 0 || i > j {
			bad = append(bad, fmt.Sprintf("%s (%s): %q must come before %q; got\n      %s",
				b[0], w.who(b[0]), b[1], b[2], strings.Join(g, "\n      ")))
		}
	}
	if len(bad) > 0 {
		w.t.Fatalf("after %s:\n  %s\nmodel:\n%s\ntrace of the action:\n%s",
			w.action, strings.Join(bad, "\n  "), w.describe(), strings.Join(w.trace, "\n"))
	}
}

// leaks checks that no resource of one user learns the presence of another
// user's resource without a right to it (RFC 6121 §11, RFC 6120 §13.10.2):
// available presence from a full JID goes only to a subscriber or a
// directed-presence target; unavailable presence from a full JID only to
// one that was a subscriber or target before the action, or to whom the
// user just sent a cancellation (§3.2.2).
func (w *worldTest) leaks() []string {
	var bad []string
	for conn, keys := range w.got {
		var a, full string
		for _, s := range w.m.sessions {
			if s.conn == conn {
				a, full = s.user, s.full()
			}
		}
		for _, k := range keys {
			avail := strings.HasPrefix(k, "presence from=")
			if !avail && !strings.HasPrefix(k, "unavailable from=") {
				continue
			}
			from := wtField(k, "from")
			b := wtBareOf(from)
			if a == "" || b == a || from == b {
				continue // one's own, or nothing about a resource
			}
			ok := from == w.directedTo[0] && (w.directedTo[1] == a || w.directedTo[1] == full)
			switch {
			case ok:
			case avail:
				ok = w.m.pair(b, a).item && wtSubFrom(w.m.pair(b, a).sub)
				if r := w.m.boundAt(from); r != nil {
					ok = ok || wtIndex(r.directed, a) >= 0 || wtIndex(r.directed, full) >= 0
				}
			default:
				d := w.preDirected[from]
				ok = w.preFrom[[2]string{b, a}] || w.mayUnavail[[2]string{b, a}] ||
					wtIndex(d, a) >= 0 || wtIndex(d, full) >= 0
			}
			if !ok {
				bad = append(bad, fmt.Sprintf("%s (%s) received %s: a presence leak, %s has no subscription from %s and no directed presence from %s   [presence leak]",
					conn, w.who(conn), k, a, b, from))
			}
		}
	}
	sort.Strings(bad)
	return bad
}

func wtMultisetDiff(want, got []string) (missing, extra []string) {
	n := map[string]int{}
	for _, k := range got {
		n[k]++
	}
	for _, k := range want {
		if n[k] > 0 {
			n[k]--
			continue
		}
		missing = append(missing, k)
	}
	for _, k := range got {
		if n[k] > 0 {
			n[k]--
			extra = append(extra, k)
		}
	}
	return missing, extra
}

func wtFilter(keys []string, sub string) []string {
	var out []string
	for _, k := range keys {
		if strings.Contains(k, sub) {
			out = append(out, k)
		}
	}
	return out
}

func wtIndex(keys []string, k string) int {
	for i, x := range keys {
		if x == k {
			return i
		}
	}
	return -1
}

// describe renders the model, for failure messages.
func (w *worldTest) describe() string {
	var b strings.Builder
	for _, s := range w.m.sessions {
		if s.closed {
			continue
		}
		fmt.Fprintf(&b, "  %s %s live=%v avail=%v prio=%d interested=%v directed=%v\n",
			s.conn, w.who(s.conn), s.live, s.avail, s.prio, s.interested, s.directed)
	}
	for _, a := range wtUsers {
		for _, c := range wtUsers {
			if a == c {
				continue
			}
			p := w.m.pair(wtBare(a), wtBare(c))
			if p.item || p.pendingIn {
				fmt.Fprintf(&b, "  %s → %s: %v item=%v approved=%v\n", a, c, w.m.state(wtBare(a), wtBare(c)), p.item, p.approved)
			}
		}
		if n := len(w.m.offline[wtBare(a)]); n > 0 {
			fmt.Fprintf(&b, "  %s: %d offline\n", a, n)
		}
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// Invariants, checked before the first action and after every action.

func (w *worldTest) check(t *rapid.T) {
	if len(w.problems) > 0 {
		t.Fatalf("after %s:\n  %s\ntrace:\n%s", w.action, strings.Join(w.problems, "\n  "), strings.Join(w.trace, "\n"))
	}
	w.checkSessions(t)
	w.checkUsers(t)
	w.checkRosters(t)
	w.checkOffline(t)

	live, avail := 0, 0
	for _, s := range w.m.sessions {
		if s.live {
			live++
			if s.avail {
				avail++
			}
		}
	}
	w.stats.maxLive = max(w.stats.maxLive, live)
	w.stats.maxAvail = max(w.stats.maxAvail, avail)
}

// checkSessions: Session.Check for every session; each full JID bound to
// at most one live session, and the registry maps every connected
// resource to its connection and nothing else; each session as the model
// says.
func (w *worldTest) checkSessions(t *rapid.T) {
	holder := map[string]string{}
	for _, c := range w.h.Conns() {
		s, _ := w.h.Session(c)
		if err := s.Check(); err != nil {
			t.Fatalf("after %s: session %s breaks its invariants: %v", w.action, c, err)
		}
		if s.Phase == fsm.Closed || s.FullJID == "" {
			continue
		}
		if other, ok := holder[s.FullJID]; ok {
			t.Fatalf("after %s: %s is bound by live sessions %s and %s", w.action, s.FullJID, other, c)
		}
		holder[s.FullJID] = c
		if got, ok := w.h.byFull[s.FullJID]; !ok || got.id != c {
			t.Fatalf("after %s: session %s is %s but the registry maps it to %v", w.action, c, s.FullJID, got)
		}
	}
	bound := map[string]int{}
	for full, holder := range w.h.byFull {
		bound[bare(full)]++
		c := holder.id
		s, _ := w.h.Session(c)
		if s.Phase != fsm.Established || s.FullJID != full {
			t.Fatalf("after %s: the registry maps %s to %s, whose session is %v %q", w.action, full, c, s.Phase, s.FullJID)
		}
	}
	// The count of each user's bound resources (S-99) is the registry's.
	if !maps.Equal(bound, w.h.bound) {
		t.Fatalf("after %s: the registry binds %v resources per user, the hub counts %v", w.action, bound, w.h.bound)
	}
	for _, ms := range w.m.sessions {
		s, ok := w.h.Session(ms.conn)
		if !ok {
			t.Fatalf("after %s: the hub lost session %s", w.action, ms.conn)
		}
		var bad []string
		switch {
		case ms.closed && s.Phase != fsm.Closed:
			bad = append(bad, fmt.Sprintf("phase %v, want closed", s.Phase))
		case ms.unbound && (s.Phase != fsm.WaitForBind || s.BareJID() != ms.user):
			bad = append(bad, fmt.Sprintf("phase %v as %q, want bind to be awaited", s.Phase, s.BareJID()))
		case ms.live:
			if s.Phase != fsm.Established || s.FullJID != ms.full() {
				bad = append(bad, fmt.Sprintf("phase %v as %q, want established as %s", s.Phase, s.FullJID, ms.full()))
			}
			if s.Available() != ms.avail || int(s.Priority) != ms.prio || s.Interested != ms.interested {
				bad = append(bad, fmt.Sprintf("available %v priority %d interested %v, want %v %d %v",
					s.Available(), s.Priority, s.Interested, ms.avail, ms.prio, ms.interested))
			}
			if s.Available() && wtChildText(s.Presence, "status") != ms.tag {
				bad = append(bad, fmt.Sprintf("presence %s, want status %s", fsm.XML(s.Presence), ms.tag))
			}
			if strings.Join(s.Directed, ",") != strings.Join(ms.directed, ",") {
				bad = append(bad, fmt.Sprintf("directed %v, want %v", s.Directed, ms.directed))
			}
		}
		if len(bad) > 0 {
			t.Fatalf("after %s: session %s (%s): %s", w.action, ms.conn, w.who(ms.conn), strings.Join(bad, "; "))
		}
	}
}

// checkUsers: each user machine knows exactly the user's connected
// resources, each with the session's availability, priority, presence and
// interest.
func (w *worldTest) checkUsers(t *rapid.T) {
	for _, name := range wtUsers {
		j := wtBare(name)
		u, ok := w.h.User(j)
		if !ok {
			if len(w.m.liveOf(j)) > 0 {
				t.Fatalf("after %s: %s has connected resources but no user machine", w.action, j)
			}
			continue
		}
		want := map[string]*wtSess{}
		for _, s := range w.m.liveOf(j) {
			want[s.full()] = s
		}
		if len(u.Resources) != len(want) {
			t.Fatalf("after %s: user %s has resources %v, want %d: %s", w.action, j, wtResourceNames(u), len(want), w.describe())
		}
		for _, r := range u.Resources {
			s := want[r.FullJID]
			if s == nil {
				t.Fatalf("after %s: user %s keeps resource %s, which is not connected", w.action, j, r.FullJID)
			}
			hs, _ := w.h.Session(s.conn)
			if r.Available() != s.avail || int(r.Priority) != s.prio || r.Interested != s.interested ||
				fsm.XML(r.Presence) != fsm.XML(hs.Presence) {
				t.Fatalf("after %s: user %s sees %s as available=%v priority=%d interested=%v presence=%s; its session: %v %d %v %s",
					w.action, j, r.FullJID, r.Available(), r.Priority, r.Interested, fsm.XML(r.Presence),
					hs.Available(), hs.Priority, hs.Interested, fsm.XML(hs.Presence))
			}
		}
	}
}

func wtResourceNames(u fsm.User) []string {
	var out []string
	for _, r := range u.Resources {
		out = append(out, r.FullJID)
	}
	return out
}

// checkRosters: the model's Appendix A states equal the user machines' and
// the store's rosters and pending requests, item for item, version for
// version; and both sides of every pair agree.
func (w *worldTest) checkRosters(t *rapid.T) {
	for _, an := range wtUsers {
		a := wtBare(an)
		stored := w.h.Store.Roster(a)
		rosters := []struct {
			name    string
			roster  fsm.Roster
			pending []fsm.PendingRequest
		}{{"store", stored, w.h.Store.Pending(a)}}
		if u, ok := w.h.User(a); ok {
			rosters = append(rosters, struct {
				name    string
				roster  fsm.Roster
				pending []fsm.PendingRequest
			}{"user machine", u.Roster, u.Pending})
		}
		var want []string
		for _, cn := range wtUsers {
			c := wtBare(cn)
			if p := w.m.pair(a, c); p.item {
				want = append(want, w.itemOf(a, c))
			}
		}
		for _, r := range rosters {
			var got []string
			for _, it := range r.roster.Items {
				got = append(got, wtItem(it.JID, it.Name, it.Sub.String(), it.Ask, it.Approved))
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") || r.roster.Version != w.m.ver[a] {
				t.Fatalf("after %s: %s's roster in the %s (version %d):\n  %s\nwant (version %d):\n  %s\nmodel:\n%s",
					w.action, a, r.name, r.roster.Version, strings.Join(got, "\n  "), w.m.ver[a], strings.Join(want, "\n  "), w.describe())
			}
			var pend []string
			for _, p := range r.pending {
				pend = append(pend, p.From)
			}
			if strings.Join(pend, ",") != strings.Join(w.m.pending[a], ",") {
				t.Fatalf("after %s: %s's pending requests in the %s are %v, want %v", w.action, a, r.name, pend, w.m.pending[a])
			}
		}
	}
	// Both sides agree (nothing is in flight once the hub is idle): a has
	// a subscription to b iff b has one from a, and a asks b iff b holds
	// a's request.
	for _, an := range wtUsers {
		for _, bn := range wtUsers {
			a, b := wtBare(an), wtBare(bn)
			if a == b {
				continue
			}
			ra, rb := w.h.Store.Roster(a), w.h.Store.Roster(b)
			ia, _ := ra.Item(b)
			ib, _ := rb.Item(a)
			pendingB := false
			for _, p := range w.h.Store.Pending(b) {
				pendingB = pendingB || p.From == a
			}
			if wtSubTo(ia.Sub) != wtSubFrom(ib.Sub) {
				t.Fatalf("after %s: %s's item for %s is %v but %s's item for %s is %v\nmodel:\n%s",
					w.action, a, b, ia.Sub, b, a, ib.Sub, w.describe())
			}
			if ia.Ask != pendingB {
				t.Fatalf("after %s: %s's item for %s has ask=%v but %s holds a request from %s: %v\nmodel:\n%s",
					w.action, a, b, ia.Ask, b, a, pendingB, w.describe())
			}
			if ia.Sub == fsm.SubBoth {
				w.stats.bothChecks++
				w.sawBoth = true
			}
			w.states[w.m.state(a, b).String()] = true
		}
	}
}

// checkOffline: the store holds exactly the messages the model kept, in
// order, each addressed to the bare JID.
func (w *worldTest) checkOffline(t *rapid.T) {
	for _, n := range wtUsers {
		j := wtBare(n)
		var got, want []string
		for _, m := range w.h.Store.Offline(j) {
			got = append(got, wtMsgKey(m.Elem.SelectAttrValue("id", ""), m.Elem.SelectAttrValue("from", ""),
				m.Elem.SelectAttrValue("to", ""), m.Elem.SelectAttrValue("type", ""), false))
		}
		for _, m := range w.m.offline[j] {
			want = append(want, wtMsgKey(m.id, m.from, m.to, m.typ, false))
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("after %s: %s's offline store:\n  %s\nwant:\n  %s", w.action, j,
				strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
}

// ---------------------------------------------------------------------------
// Actions.

func (w *worldTest) drawLive(t *rapid.T) *wtSess {
	return w.drawConnected(t, w.m.live())
}

// drawConnected draws one of ss, connected resources, by full JID: a user
// and a resource, and the first of ss at or after that full JID in a fixed
// order. Unlike an index into ss, this names the same session when rapid
// removes an unrelated login while shrinking.
func (w *worldTest) drawConnected(t *rapid.T, ss []*wtSess) *wtSess {
	var all []string
	for _, u := range wtUsers {
		for _, r := range wtResources {
			all = append(all, wtBare(u)+"/"+r)
		}
	}
	full := wtBare(rapid.SampledFrom(wtUsers).Draw(t, "user")) + "/" + rapid.SampledFrom(wtResources).Draw(t, "resource")
	start := wtIndex(all, full)
	for i := range all {
		for _, s := range ss {
			if s.full() == all[(start+i)%len(all)] {
				return s
			}
		}
	}
	t.Fatalf("no connected resource to draw from")
	return nil
}

// drawSess draws one of ss by its connection, which is what rapid logs.
func (w *worldTest) drawSess(t *rapid.T, ss []*wtSess) *wtSess {
	var conns []string
	for _, s := range ss {
		conns = append(conns, s.conn)
	}
	c := rapid.SampledFrom(conns).Draw(t, "conn")
	return ss[wtIndex(conns, c)]
}

func (w *worldTest) newConn() string {
	w.conns++
	return "c" + strconv.Itoa(w.conns)
}

// negotiation is what a client sees of a login: two stream headers and
// features, SASL success and, for a bind, its result.
func (w *worldTest) negotiation(conn string, bind bool) {
	for _, k := range []string{"header", "features", "sasl-success", "header", "features"} {
		w.expect(conn, k)
	}
	if bind {
		w.expect(conn, wtResult("bind"))
	}
}

func (w *worldTest) login(t *rapid.T) {
	user := rapid.SampledFrom(wtUsers).Draw(t, "user")
	res := rapid.SampledFrom(wtResources).Draw(t, "resource")
	conn := w.newConn()
	bare := wtBare(user)
	full := bare + "/" + res
	w.begin(t, "%s logs in as %s", conn, full)
	w.stats.logins++
	if old := w.m.boundAt(full); old != nil {
		// RFC 6120 §7.7.2.2, Prosody's default: the new session replaces
		// the old one, which ends with a conflict stream error.
		w.expect(old.conn, "stream-error conflict")
		w.expect(old.conn, "close")
		w.drop(old, "Disconnected: Replaced by new connection")
		w.stats.replaced++
		w.sawReplace = true
	}
	w.negotiation(conn, true)
	got, err := w.h.Login(conn, wtDomain, user, "pw-"+user, res)
	if err != nil || got != full {
		t.Fatalf("login of %s on %s: %q, %v", full, conn, got, err)
	}
	w.m.sessions = append(w.m.sessions, &wtSess{conn: conn, user: bare, res: res, live: true})
	w.finish()
}

// halfLogin authenticates without binding a resource.
func (w *worldTest) halfLogin(t *rapid.T) {
	user := rapid.SampledFrom(wtUsers).Draw(t, "user")
	conn := w.newConn()
	w.begin(t, "%s authenticates as %s and does not bind", conn, user)
	w.negotiation(conn, false)
	w.h.Connect(conn)
	w.h.Send(conn, Header(wtDomain))
	w.send(conn, fmt.Sprintf("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>", fsm.NSSASL, PlainAuth(user, "pw-"+user)))
	w.h.Send(conn, Header(wtDomain))
	w.m.sessions = append(w.m.sessions, &wtSess{conn: conn, user: wtBare(user), unbound: true})
	w.finish()
}

// poke sends a stanza on a session that is not a connected resource:
// nothing may be routed from it.
func (w *worldTest) poke(t *rapid.T) {
	var dead []*wtSess
	for _, s := range w.m.sessions {
		if !s.live {
			dead = append(dead, s)
		}
	}
	s := w.drawSess(t, dead)
	to := wtBare(rapid.SampledFrom(wtUsers).Draw(t, "to"))
	stanza := rapid.SampledFrom([]string{
		"<message to='%s' type='chat' id='%s'><body>x</body></message>",
		"<presence><status>%[2]s</status></presence>",
		"<presence to='%s' type='subscribe' id='%s'/>",
	}).Draw(t, "stanza")
	w.begin(t, "%s (%s) sends a stanza", s.conn, w.who(s.conn))
	w.send(s.conn, fmt.Sprintf(stanza, to, w.next("x")))
	if s.unbound {
		// RFC 6120 §4.9.3.12 (the default policy): not-authorized.
		w.expect(s.conn, "stream-error not-authorized")
		w.expect(s.conn, "close")
		s.unbound, s.closed = false, true
	}
	w.finish()
}

func (w *worldTest) rosterGet(t *rapid.T) {
	s := w.drawLive(t)
	withVer := rapid.IntRange(0, 3).Draw(t, "ver") == 0
	id := w.next("g")
	w.begin(t, "%s gets the roster (with current ver: %v)", s.full(), withVer)
	ver := strconv.FormatUint(w.m.ver[s.user], 10)
	attrVer := ""
	if withVer {
		attrVer = " ver='" + ver + "'"
	}
	w.send(s.conn, fmt.Sprintf("<iq type='get' id='%s'><query xmlns='jabber:iq:roster'%s/></iq>", id, attrVer))
	if withVer {
		w.expect(s.conn, wtResult(id)) // RFC 6121 §2.6.3: nothing changed
	} else {
		var items []string
		for _, c := range wtUsers {
			if w.m.pair(s.user, wtBare(c)).item {
				items = append(items, w.itemOf(s.user, wtBare(c)))
			}
		}
		w.expect(s.conn, wtRoster(id, ver, strings.Join(items, "; ")))
	}
	s.interested = true
	w.finish()
}

func (w *worldTest) others(user string) []string {
	var out []string
	for _, u := range wtUsers {
		if wtBare(u) != user {
			out = append(out, wtBare(u))
		}
	}
	return out
}

func (w *worldTest) rosterSet(t *rapid.T) {
	s := w.drawLive(t)
	c := rapid.SampledFrom(w.others(s.user)).Draw(t, "contact")
	id, name := w.next("s"), w.next("n")
	w.begin(t, "%s sets roster item %s name=%s", s.full(), c, name)
	w.send(s.conn, fmt.Sprintf("<iq type='set' id='%s'><query xmlns='jabber:iq:roster'><item jid='%s' name='%s'/></query></iq>", id, c, name))
	w.expect(s.conn, wtResult(id))
	w.m.pair(s.user, c).name = name
	w.save(s.user, c)
	if s.interested {
		w.before = append(w.before, [3]string{s.conn, wtResult(id),
			wtPush(strconv.FormatUint(w.m.ver[s.user], 10), w.itemOf(s.user, c))})
	}
	w.finish()
}

// rosterRemove removes a contact (RFC 6121 §2.5.2): the subscriptions both
// ways are cancelled, a pending request is denied.
func (w *worldTest) rosterRemove(t *rapid.T) {
	s := w.drawLive(t)
	c := rapid.SampledFrom(w.others(s.user)).Draw(t, "contact")
	id := w.next("d")
	w.begin(t, "%s removes roster item %s", s.full(), c)
	w.send(s.conn, fmt.Sprintf("<iq type='set' id='%s'><query xmlns='jabber:iq:roster'><item jid='%s' subscription='remove'/></query></iq>", id, c))
	p := w.m.pair(s.user, c)
	if !p.item {
		w.expect(s.conn, wtError(id, "item-not-found"))
		w.finish()
		return
	}
	st := w.m.state(s.user, c)
	if wtSubFrom(st.Sub) || st.PendingIn {
		if wtSubFrom(st.Sub) {
			for _, o := range w.m.availOf(s.user) {
				w.toAvail(c, wtUnav(o.full(), ""))
			}
		}
		w.m.queue = append(w.m.queue, wtWork{from: s.user, to: c, kind: fsm.Unsubscribed})
	}
	if wtSubTo(st.Sub) || st.PendingOut {
		w.m.queue = append(w.m.queue, wtWork{from: s.user, to: c, kind: fsm.Unsubscribe})
	}
	w.dropPending(s.user, c)
	*p = wtPair{}
	w.m.ver[s.user]++
	ver := strconv.FormatUint(w.m.ver[s.user], 10)
	w.expect(s.conn, wtResult(id))
	w.toInterested(s.user, wtRemoved(ver, c))
	if s.interested {
		w.before = append(w.before, [3]string{s.conn, wtResult(id), wtRemoved(ver, c)})
	}
	w.finish()
}

var wtKinds = []fsm.SubKind{fsm.Subscribe, fsm.Subscribe, fsm.Subscribed, fsm.Subscribed, fsm.Unsubscribe, fsm.Unsubscribed}

func (w *worldTest) subscription(t *rapid.T) {
	s := w.drawLive(t)
	// Mostly to another user; now and then to oneself, which changes
	// nothing (a user has no subscription to itself).
	to := rapid.SampledFrom(append(w.others(s.user), s.user)).Draw(t, "to")
	if rapid.IntRange(0, 9).Draw(t, "self") > 0 && to == s.user {
		to = w.others(s.user)[0]
	}
	k := rapid.SampledFrom(wtKinds).Draw(t, "kind")
	w.begin(t, "%s sends %v to %s", s.full(), k, to)
	w.send(s.conn, fmt.Sprintf("<presence to='%s' type='%v'/>", to, k))
	w.outboundSub(s.user, to, k)
	w.finish()
}

// approve answers a pending request with subscribed: the handshake's
// second half, drawn on purpose so that runs reach 'both'.
func (w *worldTest) approve(t *rapid.T) {
	var askers []*wtSess
	for _, s := range w.m.live() {
		if len(w.m.pending[s.user]) > 0 {
			askers = append(askers, s)
		}
	}
	s := w.drawConnected(t, askers)
	c := rapid.SampledFrom(w.m.pending[s.user]).Draw(t, "contact")
	w.begin(t, "%s approves %s", s.full(), c)
	w.send(s.conn, fmt.Sprintf("<presence to='%s' type='subscribed'/>", c))
	w.outboundSub(s.user, c, fsm.Subscribed)
	w.finish()
}

func (w *worldTest) available(t *rapid.T) {
	s := w.drawLive(t)
	prio := rapid.IntRange(-2, 3).Draw(t, "priority")
	toSelf := rapid.IntRange(0, 9).Draw(t, "to-self") == 0
	tag := w.next("p")
	w.begin(t, "%s sends available presence, priority %d", s.full(), prio)
	to := ""
	if toSelf {
		to = " to='" + s.user + "'" // RFC 6121 §4.2.1 allows neither, S-76 treats it as broadcast
	}
	w.send(s.conn, fmt.Sprintf("<presence%s><priority>%d</priority><status>%s</status></presence>", to, prio, tag))
	initial := !s.avail
	s.avail, s.prio, s.tag = true, prio, tag
	key := wtPres(s.full(), tag)
	// §4.2.2, §4.4.2: the user's available resources, itself included,
	// and every subscriber's available resources.
	w.toAvail(s.user, key)
	for _, c := range w.others(s.user) {
		if p := w.m.pair(s.user, c); p.item && wtSubFrom(p.sub) {
			w.toAvail(c, key)
		}
	}
	if initial {
		// §4.2.2, §4.3: probes to the contacts the user is subscribed to;
		// the other resources' presence; the pending requests (§3.1.3);
		// offline messages at non-negative priority (XEP-0160).
		for _, c := range w.others(s.user) {
			if p := w.m.pair(s.user, c); p.item && wtSubTo(p.sub) {
				w.m.queue = append(w.m.queue, wtWork{probe: true, from: s.user, to: c})
			}
		}
		for _, o := range w.m.availOf(s.user) {
			if o != s {
				w.expect(s.conn, wtPres(o.full(), o.tag))
			}
		}
		for _, c := range w.m.pending[s.user] {
			w.expect(s.conn, wtSubKey("subscribe", c))
		}
		if prio >= 0 {
			for _, m := range w.m.offline[s.user] {
				w.expect(s.conn, wtMsgKey(m.id, m.from, m.to, m.typ, true))
			}
			w.m.offline[s.user] = nil
		}
	}
	w.finish()
}

func (w *worldTest) unavailablePresence(t *rapid.T) {
	s := w.drawLive(t)
	tag := w.next("u")
	w.begin(t, "%s sends unavailable presence", s.full())
	w.send(s.conn, fmt.Sprintf("<presence type='unavailable'><status>%s</status></presence>", tag))
	key := wtUnav(s.full(), tag)
	if !s.avail {
		// Nobody but the directed-presence targets saw it available: its
		// echo, and the targets (§4.6.3 item 3).
		w.expect(s.conn, key)
		for _, t := range s.directed {
			w.presenceTo(t, key)
		}
	} else {
		s.avail = false
		w.unavailable(s, key, s.directed, true)
	}
	s.avail, s.prio, s.tag, s.directed = false, 0, "", nil
	w.finish()
}

func (w *worldTest) directed(t *rapid.T) {
	s := w.drawLive(t)
	var targets []string
	for _, u := range wtUsers {
		if wtBare(u) != s.user {
			targets = append(targets, wtBare(u))
		}
		for _, r := range wtResources {
			if f := wtBare(u) + "/" + r; f != s.full() {
				targets = append(targets, f)
			}
		}
	}
	to := rapid.SampledFrom(targets).Draw(t, "to")
	avail := rapid.IntRange(0, 3).Draw(t, "available") > 0
	tag := w.next("d")
	w.begin(t, "%s sends directed presence to %s (available: %v)", s.full(), to, avail)
	typ := ""
	if !avail {
		typ = " type='unavailable'"
	}
	w.send(s.conn, fmt.Sprintf("<presence to='%s'%s><status>%s</status></presence>", to, typ, tag))
	w.directedTo = [2]string{s.full(), to}
	i := wtIndex(s.directed, to)
	if avail {
		if i < 0 {
			s.directed = append(append([]string(nil), s.directed...), to)
		}
		w.presenceTo(to, wtPres(s.full(), tag))
	} else {
		if i >= 0 {
			d := append([]string(nil), s.directed[:i]...)
			s.directed = append(d, s.directed[i+1:]...)
			if len(s.directed) == 0 {
				s.directed = nil
			}
		}
		w.presenceTo(to, wtUnav(s.full(), tag))
	}
	w.finish()
}

func (w *worldTest) message(t *rapid.T) {
	s := w.drawLive(t)
	var targets []string
	for _, u := range wtUsers {
		targets = append(targets, wtBare(u))
		for _, r := range wtResources {
			targets = append(targets, wtBare(u)+"/"+r)
		}
	}
	to := rapid.SampledFrom(targets).Draw(t, "to")
	typ := rapid.SampledFrom([]string{"chat", "chat", "chat", "normal", "headline", ""}).Draw(t, "type")
	id := w.next("m")
	w.begin(t, "%s sends a %q message to %s", s.full(), typ, to)
	typAttr := ""
	if typ != "" {
		typAttr = " type='" + typ + "'"
	}
	w.send(s.conn, fmt.Sprintf("<message to='%s'%s id='%s'><body>hi</body></message>", to, typAttr, id))
	key := wtMsgKey(id, s.full(), to, typ, false)
	bare := wtBareOf(to)
	if r := w.m.boundAt(to); r != nil && to != bare {
		w.expect(r.conn, key) // RFC 6121 §8.5.3.1: a connected resource
		w.finish()
		return
	}
	if to != bare && typ != "chat" {
		// §8.5.3.2.1: normal and headline to a full JID that matches no
		// resource are ignored, or bounced with service-unavailable.
		w.optional[s.conn] = append(w.optional[s.conn], wtMsgKey(id, to, s.full(), "error", false))
		w.finish()
		return
	}
	// §8.5.2 (and §8.5.3.2.1 for a chat message to a full JID that
	// matches no resource).
	avail := w.m.availOf(bare)
	top := -1
	for _, r := range avail {
		top = max(top, r.prio)
	}
	switch {
	case typ == "headline":
		for _, r := range avail {
			if r.prio >= 0 {
				w.expect(r.conn, key)
			}
		}
	case top < 0:
		w.m.offline[bare] = append(w.m.offline[bare], wtMsg{id: id, from: s.full(), to: bare, typ: typ})
		w.stats.stored++
	default:
		for _, r := range avail {
			if r.prio == top {
				w.expect(r.conn, key)
			}
		}
	}
	w.finish()
}

func (w *worldTest) streamEnd(t *rapid.T) {
	s := w.drawLive(t)
	w.begin(t, "%s closes its stream", s.full())
	w.h.Send(s.conn, fsm.Event{Kind: fsm.EvStreamEnd})
	w.expect(s.conn, "close")
	w.drop(s, "")
	w.finish()
}

func (w *worldTest) connLost(t *rapid.T) {
	s := w.drawLive(t)
	w.begin(t, "%s loses its connection", s.full())
	w.h.Send(s.conn, fsm.Event{Kind: fsm.EvConnLost, Text: "closed"})
	w.drop(s, "Disconnected: closed")
	w.finish()
}

// wtOps are the actions and how often each is drawn (out of wtSlots).
// An action that is not possible in the current state (ready says so)
// is replaced by a login, which always is.
var wtOps = []struct {
	name   string
	weight int
	ready  func(*worldTest) bool
	do     func(*worldTest, *rapid.T)
}{
	{"login", 3, nil, (*worldTest).login},
	{"half-login", 1, nil, (*worldTest).halfLogin},
	{"poke", 1, (*worldTest).anyDead, (*worldTest).poke},
	{"roster-get", 3, (*worldTest).anyLive, (*worldTest).rosterGet},
	{"roster-set", 2, (*worldTest).anyLive, (*worldTest).rosterSet},
	{"roster-remove", 1, (*worldTest).anyLive, (*worldTest).rosterRemove},
	{"subscription", 7, (*worldTest).anyLive, (*worldTest).subscription},
	{"approve", 5, (*worldTest).anyAsked, (*worldTest).approve},
	{"available", 6, (*worldTest).anyLive, (*worldTest).available},
	{"unavailable", 2, (*worldTest).anyLive, (*worldTest).unavailablePresence},
	{"directed", 2, (*worldTest).anyLive, (*worldTest).directed},
	{"message", 6, (*worldTest).anyLive, (*worldTest).message},
	{"stream-end", 1, (*worldTest).anyLive, (*worldTest).streamEnd},
	{"conn-lost", 1, (*worldTest).anyLive, (*worldTest).connLost},
}

const wtSlotBits = 6 // 64 slots

// wtSlots maps each of the 64 slots to an action, in proportion to the
// weights; slot 0, where rapid shrinks to, is a login.
var wtSlots = func() []int {
	total := 0
	for _, op := range wtOps {
		total += op.weight
	}
	var slots []int
	cum := 0
	for i, op := range wtOps {
		cum += op.weight
		for len(slots) < cum*(1<<wtSlotBits)/total {
			slots = append(slots, i)
		}
	}
	return slots
}()

// wtOp draws an action. rapid's own choice of a Repeat key (SampledFrom)
// is biased towards the first keys; six fair bits are not.
var wtOp = rapid.Custom(func(t *rapid.T) string {
	n := 0
	for i := range wtSlotBits {
		if rapid.Bool().Draw(t, "bit") {
			n |= 1 << i
		}
	}
	return wtOps[wtSlots[n]].name
})

func (w *worldTest) anyLive() bool { return len(w.m.live()) > 0 }

func (w *worldTest) anyDead() bool {
	for _, s := range w.m.sessions {
		if !s.live {
			return true
		}
	}
	return false
}

func (w *worldTest) anyAsked() bool {
	for _, s := range w.m.live() {
		if len(w.m.pending[s.user]) > 0 {
			return true
		}
	}
	return false
}

func (w *worldTest) step(t *rapid.T) {
	name := wtOp.Draw(t, "op")
	for _, op := range wtOps {
		if op.name != name {
			continue
		}
		if op.ready != nil && !op.ready(w) {
			op = wtOps[0]
		}
		op.do(w, t)
		w.stats.byAction[op.name]++
		return
	}
}

// TestWorld is a rapid state-machine test of the whole in-process server:
// three users (alice, bob, carol) with up to three resources each (fixed
// names r1…r3, so that logins conflict and replace each other), driven by
// random logins, half-logins, roster gets, sets and removals, subscription
// stanzas, available, unavailable and directed presence, messages of every
// common type to bare and full JIDs, clean closes and lost connections.
//
// After every action it compares everything each connection received (the
// Output hook) with what a small independent model of RFC 6121 says, and
// checks the invariants that tie the sessions, the user machines, the store
// and the hub's registry together. The model borrows from fsm only the data
// of Appendix A (fsm.OutboundRow, fsm.InboundRow, fsm.Outbound), which
// fsm/subscription_test.go checks cell by cell against the RFC. Properties
// (the WI-n of spec/im.md):
//
//   - WI-1: every full JID is bound to at most one live session, every
//     connected resource is mapped to its connection in the registry and
//     nothing else is; each session, and each user machine's view of its
//     resources, is what the model says (checkSessions, checkUsers).
//   - WI-2: a roster push reaches exactly the interested resources, in
//     version order, and the setter's result comes first (finish).
//   - WI-3: a presence broadcast reaches exactly the user's available
//     resources (the sender included while connected), each subscriber's
//     available resources and, for unavailable, the directed-presence
//     targets the broadcast did not reach; no one else (finish).
//   - WI-4: rosters and pending requests equal the model's Appendix A
//     states, in the user machines and in the store, version for version;
//     and both sides of every pair agree (checkRosters).
//   - WI-5: a message reaches exactly the resources RFC 6121 §8.5 names, or
//     the offline store, once; stored messages come back once, in order, at
//     the next initial presence of non-negative priority (finish,
//     checkOffline).
//   - WI-6: nothing is routed from a session that is not a connected
//     resource, nothing is delivered to one that is not (the Trace hook).
//   - WI-7: a dropped or replaced session's contacts and other resources
//     get its unavailable presence exactly once (finish).
//   - No presence leak: available presence from another user's full JID
//     reaches a resource only from a subscription or directed presence;
//     unavailable only where one existed before, or after a cancellation.
//   - Session.Check holds for every session.
//
// Run it with -v for counts showing how far the runs get (logins,
// replacements, subscription states reached, messages delivered).
// wtCapShrink limits rapid's minimization of a failing run to 10 s (its
// default is 30 s), unless -rapid.shrinktime or RAPID_SHRINKTIME says
// otherwise, so that a known failure does not hold up go test ./... .
func wtCapShrink() {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.shrinktime" })
	if _, env := os.LookupEnv("RAPID_SHRINKTIME"); !set && !env {
		_ = flag.Set("rapid.shrinktime", "10s")
	}
}

func TestWorld(t *testing.T) {
	wtCapShrink()
	stats := &wtStats{delivered: map[string]int{}, states: map[string]int{}, byAction: map[string]int{}}
	start := time.Now()
	rapid.Check(t, func(rt *rapid.T) {
		w := newWorldTest(rt, stats)
		stats.runs++
		actions := map[string]func(*rapid.T){"": w.check, "act": w.step}
		// Five rounds: about 150 actions a run, enough to log in several
		// resources and complete subscription handshakes both ways.
		for range 5 {
			rt.Repeat(actions)
		}
		if w.sawBoth {
			stats.runsWithBoth++
		}
		if w.sawReplace {
			stats.runsWithReplace++
		}
		for st := range w.states {
			stats.states[st]++
		}
	})
	t.Logf("%d runs, %d actions in %v", stats.runs, stats.actions, time.Since(start).Round(time.Millisecond))
	t.Logf("at most %d connected resources (%d available) at once; %d logins, %d replaced a session (in %d runs)",
		stats.maxLive, stats.maxAvail, stats.logins, stats.replaced, stats.runsWithReplace)
	t.Logf("subscription 'both' reached in %d runs (%d pair-checks); %d probes answered unsubscribed",
		stats.runsWithBoth, stats.bothChecks, stats.probeUnsub)
	t.Logf("messages delivered %d (%d of them from offline storage, %d bounced), stored offline %d; roster pushes %d",
		stats.messages, stats.flushed, stats.bounced, stats.stored, stats.pushes)
	var acts []string
	for _, a := range wtOps {
		acts = append(acts, fmt.Sprintf("%s: %d", a.name, stats.byAction[a.name]))
	}
	t.Logf("actions done: %s", strings.Join(acts, ", "))
	var states []string
	for _, st := range fsm.States {
		states = append(states, fmt.Sprintf("%v: %d", st, stats.states[st.String()]))
	}
	t.Logf("runs reaching each Appendix A state: %s; %d pre-approvals, %d requests approved by one",
		strings.Join(states, ", "), stats.preApproved, stats.autoApproved)
	var props []string
	for p, n := range stats.delivered {
		props = append(props, fmt.Sprintf("%s: %d", p, n))
	}
	sort.Strings(props)
	t.Logf("stanzas received, by property: %s", strings.Join(props, ", "))
}
