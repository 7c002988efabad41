package fsm_test

import (
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/beevik/etree"
	"github.com/google/go-cmp/cmp"
	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/jid"
	"github.com/xmppfsm/xmppfsm/spec"
	"pgregory.net/rapid"
)

// The rapid tests drive fsm.Step with random event sequences under every
// policy of spec.Policies() and check the session after every step:
//
//   - TestSessionAgainstModel: the whole alphabet of spec.Input, against
//     spec.Model, the invariants (SI-n), purity and S-4;
//   - TestSessionMalformed: random and malformed headers, elements,
//     stanzas, SASL and binding results, routed stanzas, timers and events,
//     against the rules of spec/session.md that say what the effects are
//     (checkStep lists them);
//   - TestSessionConnectedJID: a connected session's full JID;
//   - TestSessionPriorityClamp: <priority/> parsing and clamping (S-70);
//   - TestSessionSiblings: two steps from one session share nothing.
//
// They take well under a second at the default 100 checks; for a longer
// search:
//
//	go test ./fsm -run TestSession -rapid.checks=20000
//
// A failure writes testdata/rapid/<test>/*.fail, which later runs replay
// first: delete it once the bug is fixed (or keep it as a regression seed).

// happyWeight is how many action keys drive the happy path. rapid draws the
// action keys uniformly; with one key per alphabet input (42), most of which
// close a session in most phases, a single happy-path key would almost
// never see a session bound.
const happyWeight = 20

// policyNames returns the names of spec.Policies() in a fixed order.
func policyNames() []string {
	names := make([]string, 0, 3)
	for name := range spec.Policies() {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// happyInput returns the alphabet input that moves a session in abstract
// state st one step along a successful login under p; in established it
// picks a stanza, and a closed session gets a (second) connect, which S-4
// ignores.
func happyInput(t *rapid.T, p *fsm.Policy, st spec.State) spec.Input {
	switch st.Phase {
	case fsm.Unconnected:
		return spec.Connect
	case fsm.WaitForStream:
		return spec.Header
	case fsm.WaitForFeature:
		if st.TLSOffered && (p.RequireTLS || rapid.Bool().Draw(t, "starttls")) {
			return spec.StartTLS
		}
		return spec.AuthSCRAM // SCRAM-SHA-256 needs no TLS in every policy
	case fsm.WaitForTLS:
		return spec.TLSDone
	case fsm.WaitForSASLResult:
		return rapid.SampledFrom([]spec.Input{spec.Success, spec.Success, spec.Challenge}).Draw(t, "mechanism")
	case fsm.WaitForSASLResponse:
		return spec.Response
	case fsm.WaitForBind:
		return spec.Bind
	case fsm.WaitForResource:
		return spec.Granted
	case fsm.WaitForRoster:
		return spec.RosterLoaded
	case fsm.Established:
		return rapid.SampledFrom([]spec.Input{
			spec.Available, spec.Unavailable, spec.RosterGet, spec.Directed,
			spec.DirectedOff, spec.Message, spec.Session, spec.Routed,
		}).Draw(t, "stanza")
	}
	return spec.Connect
}

// establish steps the alphabet's happy path (STARTTLS when offered, SCRAM,
// bind) from a new session under p until it is established.
func establish(tb testing.TB, p *fsm.Policy) fsm.Session {
	tb.Helper()
	s := fsm.New(p)
	for i := 0; s.Phase != fsm.Established; i++ {
		st := spec.Abstract(s)
		var in spec.Input
		switch {
		case i > 20 || s.Phase == fsm.Closed:
			tb.Fatalf("the happy path does not establish a session: stuck in %v", s.Phase)
		case st.Phase == fsm.WaitForFeature && st.TLSOffered:
			in = spec.StartTLS
		case st.Phase == fsm.WaitForFeature:
			in = spec.AuthSCRAM
		case st.Phase == fsm.WaitForSASLResult:
			in = spec.Success
		default:
			in = map[fsm.Phase]spec.Input{
				fsm.Unconnected: spec.Connect, fsm.WaitForStream: spec.Header,
				fsm.WaitForTLS: spec.TLSDone, fsm.WaitForBind: spec.Bind,
				fsm.WaitForResource: spec.Granted, fsm.WaitForRoster: spec.RosterLoaded,
			}[st.Phase]
		}
		s, _ = fsm.Step(s, in.Event())
	}
	return s
}

// coverage counts the rapid runs that bound a session, to show that the
// generators still exercise connected resources.
type coverage struct{ runs, established atomic.Int64 }

func (c *coverage) run() { c.runs.Add(1) }

// see counts the run once when s is established; reached says whether it
// was already counted, and see returns the new value.
func (c *coverage) see(s fsm.Session, reached bool) bool {
	if s.Phase == fsm.Established && !reached {
		c.established.Add(1)
		return true
	}
	return reached
}

// check fails the test when under 5 % of 100 or more runs bound a session
// (the happy path binds most of them).
func (c *coverage) check(t *testing.T) {
	runs, est := c.runs.Load(), c.established.Load()
	t.Logf("%d of %d runs reached established", est, runs)
	if !t.Failed() && runs >= 100 && est*20 < runs {
		t.Errorf("only %d of %d runs reached established: the generator no longer exercises bound sessions", est, runs)
	}
}

// snapshot is a deep copy of everything in a Session, to show that Step
// left its argument alone: Fields() plus what Fields does not show, and the
// stored presence and directed targets by value (they are shared pointers).
type snapshot struct {
	Fields                                 []fsm.Field
	Conn, StreamID, Lang, BindID, Reserved string
	Presence                               string
	Directed                               []string
	Policy                                 *fsm.Policy
}

func snap(s fsm.Session) snapshot {
	x := snapshot{
		Fields: s.Fields(), Conn: s.Conn, StreamID: s.StreamID, Lang: s.Lang,
		BindID: s.BindID, Reserved: s.Reserved, Directed: slices.Clone(s.Directed),
		Policy: s.Policy,
	}
	if s.Presence != nil {
		x.Presence = fsm.XML(s.Presence)
	}
	return x
}

// equal is a fast comparison of snapshots, for every step; cmp.Diff
// explains a difference.
func (x snapshot) equal(y snapshot) bool {
	return slices.Equal(x.Fields, y.Fields) && x.Conn == y.Conn && x.StreamID == y.StreamID &&
		x.Lang == y.Lang && x.BindID == y.BindID && x.Reserved == y.Reserved &&
		x.Presence == y.Presence && slices.Equal(x.Directed, y.Directed) && x.Policy == y.Policy
}

// cmpXML shows elements as XML in diffs.
var cmpXML = cmp.Transformer("XML", func(el *etree.Element) string { return fsm.XML(el) })

// cmpSnap compares snapshots; the policy by pointer, since Step must keep
// the very policy it was given.
var cmpSnap = cmp.Comparer(func(a, b *fsm.Policy) bool { return a == b })

// step is one call of fsm.Step and what the checks need to judge it.
type step struct {
	policy  *fsm.Policy
	prev    fsm.Session
	before  snapshot // of prev, taken before the call
	ev      fsm.Event
	evXML   string // ev.Elem before the call
	next    fsm.Session
	after   snapshot // of next, taken right after the call
	effects []fsm.Effect
}

// doStep calls fsm.Step and records the step. A panic fails the test with
// the session and the event that caused it.
func doStep(t *rapid.T, p *fsm.Policy, s fsm.Session, ev fsm.Event) (r step) {
	r = step{policy: p, prev: s, before: snap(s), ev: ev}
	if ev.Elem != nil {
		r.evXML = fsm.XML(ev.Elem)
	}
	defer func() {
		if x := recover(); x != nil {
			t.Fatalf("Step panicked: %v\n  session %v\n  event %v", x, s.Fields(), ev)
		}
	}()
	r.next, r.effects = fsm.Step(s, ev)
	r.after = snap(r.next)
	t.Logf("%v: %v → %v%v", s.Phase, ev, r.next.Phase, effectList(r.effects))
	return r
}

// effectList formats effects one per line when printed, so that logging a
// step costs nothing unless rapid prints the log.
type effectList []fsm.Effect

func (l effectList) String() string { return effectLines(l) }

func effectLines(effs []fsm.Effect) string {
	var b strings.Builder
	for _, e := range effs {
		b.WriteString("\n    < ")
		b.WriteString(e.String())
	}
	return b.String()
}

// driver runs one session through a rapid run: it steps events, keeps the
// abstract model in step when there is one, counts coverage, and provides
// the actions every test shares.
type driver struct {
	p       *fsm.Policy
	model   *spec.Model // nil: no model to follow
	st      spec.State  // the model's state
	s       fsm.Session
	last    *step // the last step, nil after a new connection
	cover   *coverage
	reached bool
	// check judges the last step; it runs after every step.
	check func(*rapid.T, step)
	// forkEvent draws the event of a fork (see actions).
	forkEvent func(*rapid.T) fsm.Event
	// vary, when set, may replace the event of a happy-path input with a
	// random one of the same kind (only without a model to follow).
	vary func(*rapid.T, spec.Input) (fsm.Event, bool)
}

func newDriver(p *fsm.Policy, cover *coverage, check func(*rapid.T, step)) *driver {
	cover.run()
	return &driver{p: p, s: fsm.New(p), cover: cover, check: check,
		forkEvent: func(t *rapid.T) fsm.Event { return rapid.SampledFrom(spec.Inputs).Draw(t, "fork-input").Event() },
		vary:      func(*rapid.T, spec.Input) (fsm.Event, bool) { return fsm.Event{}, false }}
}

// event steps ev.
func (d *driver) event(t *rapid.T, ev fsm.Event) {
	r := doStep(t, d.p, d.s, ev)
	d.s, d.last = r.next, &r
	d.reached = d.cover.see(d.s, d.reached)
}

// input steps the alphabet input in, and the model with it.
func (d *driver) input(t *rapid.T, in spec.Input) {
	d.event(t, in.Event())
	if d.model != nil {
		d.st = d.model.Next(d.st, in)
	}
}

// state is the abstract state the happy path starts from.
func (d *driver) state() spec.State {
	if d.model != nil {
		return d.st
	}
	return spec.Abstract(d.s)
}

// open reports whether the session is connected and not closed: the only
// sessions most actions are worth running on (S-3 and S-4 need just a few).
func (d *driver) open() bool {
	return d.s.Phase != fsm.Unconnected && d.s.Phase != fsm.Closed
}

// live makes action f run only on an open session.
func (d *driver) live(f func(*rapid.T)) func(*rapid.T) {
	return func(t *rapid.T) {
		if !d.open() {
			t.Skip("the session is not open")
		}
		f(t)
	}
}

// actions returns the actions every test shares:
//
//   - "": check the last step (before the first action and after each);
//   - happy-path/NN (happyWeight keys, so that sessions bind often): step
//     the happy path 1…12 times or until the session closes, checking each
//     step, so one action can log a session in and the random inputs land
//     between its steps; a closed session ignores everything (S-4), so on
//     one the happy path starts with a new connection;
//   - idle-input: an alphabet input on an unconnected or closed session
//     (S-1, S-3, S-4);
//   - fork: step the session the last step started from once more with
//     another event, and check that this changed neither that session nor
//     the one the last step returned: sessions are values, and two
//     successors of one session share nothing that Step changes (the
//     explorer steps every state with every input).
func (d *driver) actions(happyWeight int) map[string]func(*rapid.T) {
	happy := func(t *rapid.T) {
		if d.s.Phase == fsm.Closed {
			d.s, d.st, d.last = fsm.New(d.p), spec.State{}, nil
		}
		n := rapid.IntRange(1, 12).Draw(t, "happy-steps")
		for i := 0; i < n && d.s.Phase != fsm.Closed; i++ {
			in := happyInput(t, d.p, d.state())
			if ev, ok := d.vary(t, in); ok && d.model == nil {
				d.event(t, ev)
			} else {
				d.input(t, in)
			}
			d.check(t, *d.last)
		}
	}
	a := map[string]func(*rapid.T){
		"": func(t *rapid.T) {
			switch {
			case d.last != nil:
				d.check(t, *d.last)
			case d.model != nil && spec.Abstract(d.s) != d.st:
				t.Fatalf("a new session is not the model's start (-model +fsm):\n%s", cmp.Diff(d.st, spec.Abstract(d.s)))
			}
		},
		"idle-input": func(t *rapid.T) {
			if d.open() {
				t.Skip("the session is open")
			}
			d.input(t, rapid.SampledFrom(spec.Inputs).Draw(t, "input"))
		},
		"fork": func(t *rapid.T) {
			if d.last == nil {
				t.Skip("no step to fork")
			}
			r := doStep(t, d.p, d.last.prev, d.forkEvent(t))
			checkPure(t, r)
			if after := snap(d.last.next); !d.last.after.equal(after) {
				diff := cmp.Diff(d.last.after, after, cmpSnap)
				t.Fatalf("stepping a session again changed the session its earlier step returned (-before +after):\n%s", diff)
			}
		},
	}
	for i := range happyWeight {
		a[fmt.Sprintf("happy-path/%02d", i)] = happy
	}
	return a
}

// checkPure checks the properties every step has, whatever the input: the
// invariants (SI-1…SI-14), Step leaves its argument and the event's element
// alone, and a closed session answers nothing (S-4).
func checkPure(t *rapid.T, r step) {
	if err := r.next.Check(); err != nil {
		t.Fatalf("invariant broken after %v in %v:\n%v\nsession: %v", r.ev, r.prev.Phase, err, r.next.Fields())
	}
	if now := snap(r.prev); !r.before.equal(now) {
		diff := cmp.Diff(r.before, now, cmpSnap)
		t.Fatalf("Step changed its argument (-before +after):\n%s", diff)
	}
	if r.ev.Elem != nil {
		if now := fsm.XML(r.ev.Elem); now != r.evXML {
			diff := cmp.Diff(r.evXML, now)
			t.Fatalf("Step changed the event's element, which the session owns and never changes (-before +after):\n%s", diff)
		}
	}
	if r.prev.Phase == fsm.Closed {
		if len(r.effects) > 0 {
			t.Fatalf("S-4: a closed session produced effects:%s", effectLines(r.effects))
		}
		if !r.before.equal(r.after) {
			diff := cmp.Diff(r.before, r.after, cmpSnap)
			t.Fatalf("S-4: a closed session changed (-before +after):\n%s", diff)
		}
	}
}

// ----------------------------------------------------------------------
// (a) The session against the abstract model.

// TestSessionAgainstModel steps fsm.Step and spec.Model.Next side by side
// over random sequences of the whole alphabet and checks after every step
// that the invariants hold, that the abstract session is the model's state,
// that Step left its argument alone, and that a closed session produced no
// effect.
func TestSessionAgainstModel(t *testing.T) {
	for _, name := range policyNames() {
		p := spec.Policies()[name]
		t.Run(name, func(t *testing.T) {
			var cover coverage
			rapid.Check(t, func(t *rapid.T) {
				var d *driver
				d = newDriver(p, &cover, func(t *rapid.T, r step) {
					checkPure(t, r)
					if got := spec.Abstract(r.next); got != d.st {
						diff := cmp.Diff(d.st, got)
						t.Fatalf("after %v from %v the fsm left the model (-model +fsm):\n%s", r.ev, r.prev.Phase, diff)
					}
				})
				d.model = &spec.Model{Policy: p}
				actions := d.actions(happyWeight)
				for _, in := range spec.Inputs {
					actions[in.String()] = d.live(func(t *rapid.T) { d.input(t, in) })
				}
				t.Repeat(actions)
			})
			cover.check(t)
		})
	}
}

// ----------------------------------------------------------------------
// (b) Malformed and random inputs.

// Values the generators favour: the world of spec.Input (localhost, alice,
// phone, bob) and its near misses.
var (
	jidPool = []string{
		"", spec.Host, spec.User + "@" + spec.Host, spec.User + "@" + spec.Host + "/" + spec.Resource,
		spec.User + "@" + spec.Host + "/other", spec.Contact, spec.Contact + "/laptop",
		"ALICE@LocalHost", "Alice@localhost/phone", "carol@example.com/x", "example.com",
		"localhost/res", "@localhost", "alice@", "a@b@c", "alice@localhost/", "/phone",
		"[::1]", "192.0.2.1", "é@localhost", "ﬀ@localhost", "alice@xn--", strings.Repeat("a", 1100) + "@localhost",
		"alice@local host", "\x00@localhost", "\xff",
	}
	namespacePool = []string{
		"", fsm.NSClient, fsm.NSStreams, fsm.NSTLS, fsm.NSSASL, fsm.NSBind, fsm.NSSession,
		fsm.NSRoster, fsm.NSStreamErr, fsm.NSStanzaErr, "jabber:server", "urn:example:x",
	}
	tagPool = []string{
		"message", "presence", "iq", "starttls", "auth", "response", "abort", "error",
		"stream", "bind", "query", "session", "proceed", "success", "failure", "foo", "",
	}
	typePool = []string{
		"", "get", "set", "result", "error", "chat", "normal", "headline", "groupchat",
		"available", "unavailable", "subscribe", "subscribed", "unsubscribe", "unsubscribed",
		"probe", "invisible", "GET", " get", "bogus",
	}
	mechanismPool = []string{"", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN", "scram-sha-256", "SCRAM-SHA-256-PLUS", "X-UNKNOWN"}
	resourcePool  = []string{"", spec.Resource, "other", "Phone", " phone", "phone ", "a/b", "a@b", "☃", "\u00a0", "\u0000", strings.Repeat("r", 1024)}
	userPool      = []string{"", spec.User, "Alice", "ALICE", "bob", "a@b", "a/b", "a:b", "a b", "é", "ﬀ", "\u0000", "\xff", strings.Repeat("u", 1024)}
	condPool      = []string{
		"", "not-authorized", "aborted", "account-disabled", "credentials-expired", "encryption-required",
		"incorrect-encoding", "invalid-authzid", "invalid-mechanism", "malformed-request",
		"mechanism-too-weak", "temporary-auth-failure", "bad-auth", "not-well-formed",
		"restricted-xml", "bad-format", "bad-namespace-prefix", "invalid-xml",
		"unsupported-encoding", "policy-violation", "invalid-namespace", "system-shutdown", "conflict",
	}
)

// str draws from the pool most of the time, else the empty string or an
// arbitrary one (any runes).
func str(t *rapid.T, label string, pool []string) string {
	switch rapid.IntRange(0, 7).Draw(t, label+"-kind") {
	case 0:
		return ""
	case 1:
		return rapid.String().Draw(t, label)
	}
	return rapid.SampledFrom(pool).Draw(t, label)
}

// genHeader draws a stream header: each part is the right one, a wrong one
// or an arbitrary string.
func genHeader(t *rapid.T) *fsm.StreamHeader {
	pick := func(label, good string, pool []string) string {
		if rapid.Bool().Draw(t, label+"-good?") {
			return good
		}
		return str(t, label, pool)
	}
	return &fsm.StreamHeader{
		Space:   pick("space", fsm.NSStreams, namespacePool),
		Local:   pick("local", "stream", tagPool),
		Default: pick("default", fsm.NSClient, namespacePool),
		To:      pick("to", spec.Host, jidPool),
		From:    pick("from", spec.User+"@"+spec.Host, jidPool),
		Version: pick("version", "1.0", []string{"", "1.0", "0.9", "01.0", "1.01", "2.0", "1", "1.", ".0", "1.0.0", "a.b", "0.0", "00.5", "10.0", "-1.0", "١.٠"}),
		Lang:    pick("lang", "", []string{"", "en", "de-CH", "x-☃"}),
	}
}

// genElement draws an element: a name, a namespace (none, a default
// namespace or a prefixed one), the stanza attributes type, id, to and from
// (each absent or present, possibly empty), up to two other attributes, up
// to three children and some text.
func genElement(t *rapid.T, label string, depth int) *etree.Element {
	tag := str(t, label+"-tag", tagPool)
	el := etree.NewElement(tag)
	switch rapid.IntRange(0, 3).Draw(t, label+"-ns-kind") {
	case 1:
		el.CreateAttr("xmlns", str(t, label+"-ns", namespacePool))
	case 2:
		el.Space = "stream"
		if rapid.Bool().Draw(t, label+"-declare-stream") {
			el.CreateAttr("xmlns:stream", str(t, label+"-ns", namespacePool))
		}
	}
	addStanzaAttrs(t, el, label)
	addChildren(t, el, label, depth)
	return el
}

// genStanza draws a message, presence or iq (or the given kind) in
// jabber:client (no namespace declared, as the framer delivers them), with
// random attributes and children.
func genStanza(t *rapid.T, label, tag string) *etree.Element {
	if tag == "" {
		tag = rapid.SampledFrom([]string{"message", "presence", "iq"}).Draw(t, label+"-tag")
	}
	el := etree.NewElement(tag)
	addStanzaAttrs(t, el, label)
	addChildren(t, el, label, 0)
	return el
}

func addStanzaAttrs(t *rapid.T, el *etree.Element, label string) {
	for _, key := range []string{"type", "id", "to", "from"} {
		if !rapid.Bool().Draw(t, label+"-has-"+key) {
			continue
		}
		var v string
		switch key {
		case "type":
			v = str(t, label+"-type", typePool)
		case "id":
			v = str(t, label+"-id", []string{"", "b1", "r1", "x"})
		default:
			v = str(t, label+"-"+key, jidPool)
		}
		el.CreateAttr(key, v)
	}
	if el.Tag == "auth" && rapid.Bool().Draw(t, label+"-has-mechanism") {
		el.CreateAttr("mechanism", str(t, label+"-mechanism", mechanismPool))
	}
	for i := range rapid.IntRange(0, 2).Draw(t, label+"-extra-attrs") {
		key := str(t, fmt.Sprintf("%s-attr%d", label, i), []string{"xml:lang", "xmlns:foo", "foo", "a:to", "a:type", "ver"})
		el.CreateAttr(key, rapid.String().Draw(t, fmt.Sprintf("%s-attr%d-value", label, i)))
	}
}

// addChildren adds 0…3 children, each an arbitrary element (nesting to
// depth 2) or one the machine reads: a priority, a bind request, a roster
// query, a session request, a body.
func addChildren(t *rapid.T, el *etree.Element, label string, depth int) {
	n := rapid.IntRange(0, 3).Draw(t, label+"-children")
	for i := range n {
		cl := fmt.Sprintf("%s.%d", label, i)
		var c *etree.Element
		switch k := rapid.IntRange(0, 5).Draw(t, cl+"-kind"); {
		case k == 0 && depth < 2:
			c = genElement(t, cl, depth+1)
		case k == 1:
			c = etree.NewElement("priority")
			c.SetText(str(t, cl+"-priority", []string{"0", "5", "-1", "127", "128", "-129", "+7", "007", "x", "", "1.5"}))
		case k == 2:
			c = etree.NewElement("bind")
			c.CreateAttr("xmlns", fsm.NSBind)
			if rapid.Bool().Draw(t, cl+"-has-resource") {
				c.CreateElement("resource").SetText(str(t, cl+"-resource", resourcePool))
			}
		case k == 3:
			c = etree.NewElement("query")
			c.CreateAttr("xmlns", fsm.NSRoster)
		case k == 4:
			c = etree.NewElement("session")
			c.CreateAttr("xmlns", fsm.NSSession)
		default:
			c = etree.NewElement("body")
			c.SetText(rapid.String().Draw(t, cl+"-body"))
		}
		el.AddChild(c)
	}
	if rapid.Bool().Draw(t, label+"-has-text") {
		text := str(t, label+"-text", []string{"", "=", "AGFsaWNlAHNlY3JldA==", "cj1yZXNwb25zZQ==", "not base64!", " =", "YQ", "YQ==\n", "5"})
		if n == 0 {
			el.SetText(text)
		} else {
			el.CreateText(text)
		}
	}
}

// genRouted draws a stanza routed to the session. The adapter contract
// (fsm.EvRouted) gives its final from and to in the event, prepared JIDs;
// the element's own from and to, its type, id and children are random.
func genRouted(t *rapid.T) fsm.Event {
	el := etree.NewElement(rapid.SampledFrom([]string{"message", "presence", "iq", "foo"}).Draw(t, "routed-tag"))
	for _, key := range []string{"from", "to", "type", "id"} {
		if !rapid.Bool().Draw(t, "routed-has-"+key) {
			continue
		}
		pool := typePool
		if key == "from" || key == "to" {
			pool = jidPool
		}
		el.CreateAttr(key, str(t, "routed-"+key, pool))
	}
	addChildren(t, el, "routed", 0)
	return fsm.Event{
		Kind: fsm.EvRouted,
		Elem: el,
		From: rapid.SampledFrom([]string{spec.Contact + "/laptop", spec.Contact, spec.Host, "carol@example.com/x"}).Draw(t, "routed-from"),
		To: rapid.SampledFrom([]string{
			spec.User + "@" + spec.Host + "/" + spec.Resource, spec.User + "@" + spec.Host, spec.User + "@" + spec.Host + "/other",
		}).Draw(t, "routed-to"),
	}
}

// genIQ draws an iq as a client sends it: mostly get or set with an id and
// one child (a bind request with a random resource, a roster query, a
// session request, a ping), to the account, the server, a contact or a
// malformed address (S-50…S-52, S-57, S-64…S-67, S-69).
func genIQ(t *rapid.T) *etree.Element {
	el := etree.NewElement("iq")
	typ := rapid.SampledFrom([]string{"get", "get", "set", "set", "result", "error", "", "bogus"}).Draw(t, "iq-type")
	if typ != "" {
		el.CreateAttr("type", typ)
	}
	if rapid.IntRange(0, 5).Draw(t, "iq-no-id") > 0 {
		el.CreateAttr("id", rapid.SampledFrom([]string{"i1", "b1", "r1"}).Draw(t, "iq-id"))
	}
	if rapid.Bool().Draw(t, "iq-addressed") {
		el.CreateAttr("to", rapid.SampledFrom([]string{
			spec.User + "@" + spec.Host, "Alice@LOCALHOST", spec.Host, spec.Contact, spec.User + "@" + spec.Host + "/other", "", "a@b@c",
		}).Draw(t, "iq-to"))
	}
	for i := range rapid.SampledFrom([]int{1, 1, 1, 1, 0, 2}).Draw(t, "iq-children") {
		var c *etree.Element
		switch rapid.SampledFrom([]int{0, 1, 1, 2, 3}).Draw(t, fmt.Sprintf("iq-child%d", i)) {
		case 0:
			c = etree.NewElement("bind")
			c.CreateAttr("xmlns", fsm.NSBind)
			if rapid.IntRange(0, 3).Draw(t, "bind-no-resource") > 0 {
				c.CreateElement("resource").SetText(str(t, "bind-resource", resourcePool))
			}
		case 1:
			c = etree.NewElement("query")
			c.CreateAttr("xmlns", fsm.NSRoster)
		case 2:
			c = etree.NewElement("session")
			c.CreateAttr("xmlns", fsm.NSSession)
		default:
			c = etree.NewElement("ping")
			c.CreateAttr("xmlns", "urn:xmpp:ping")
		}
		el.AddChild(c)
	}
	return el
}

// genDirected draws presence to one of a few contacts, or to the user's
// own JIDs, available, unavailable or of another type (S-74, S-75, S-76).
func genDirected(t *rapid.T) *etree.Element {
	el := etree.NewElement("presence")
	el.CreateAttr("to", rapid.SampledFrom([]string{
		spec.Contact, spec.Contact + "/laptop", "Bob@LOCALHOST", "carol@example.com/x", "dave@example.com",
		"erin@example.org", "frank@example.net/a", spec.Host, spec.User + "@" + spec.Host, spec.User + "@" + spec.Host + "/other",
	}).Draw(t, "directed-to"))
	if typ := rapid.SampledFrom([]string{"", "", "", "", "unavailable", "unavailable", "error", "subscribe", "probe"}).Draw(t, "directed-type"); typ != "" {
		el.CreateAttr("type", typ)
	}
	return el
}

// genEvent draws an event of any kind, including kinds that do not exist,
// with random fields.
func genEvent(t *rapid.T) fsm.Event {
	ev := fsm.Event{
		Kind:      fsm.EventKind(rapid.OneOf(rapid.IntRange(0, 19), rapid.IntRange(0, 255)).Draw(t, "kind")),
		ID:        str(t, "id", []string{"", "s2"}),
		Conn:      str(t, "conn", []string{"", "c2"}),
		Secure:    rapid.Bool().Draw(t, "secure"),
		Username:  str(t, "username", userPool),
		Resource:  str(t, "resource", resourcePool),
		Condition: str(t, "condition", condPool),
		Text:      rapid.String().Draw(t, "text"),
		Timer:     fsm.Timer(rapid.Uint8().Draw(t, "timer")),
	}
	if rapid.Bool().Draw(t, "has-data") {
		ev.Data = rapid.SliceOf(rapid.Byte()).Draw(t, "data")
	}
	if rapid.Bool().Draw(t, "has-header") {
		ev.Header = genHeader(t)
	}
	if rapid.Bool().Draw(t, "has-elem") {
		ev.Elem = genElement(t, "elem", 0)
	}
	if ev.Kind == fsm.EvRouted {
		// The adapter contract: a routed stanza comes with its final
		// addresses (genRouted varies the rest).
		r := genRouted(t)
		ev.From, ev.To = r.From, r.To
	}
	return ev
}

// varyHappy replaces, half of the time, a step of the happy path with a
// random event of the same kind, so that random data reaches the phases
// that wait for it: a SASL success with a random username, a bind request
// with a random resource (S-44, S-50, S-51), a grant of a random resource,
// a random presence or iq once established.
func varyHappy(t *rapid.T, in spec.Input) (fsm.Event, bool) {
	switch in {
	case spec.Success, spec.Bind, spec.Granted, spec.Available, spec.Directed, spec.RosterGet:
	default:
		return fsm.Event{}, false
	}
	if !rapid.Bool().Draw(t, "vary") {
		return fsm.Event{}, false
	}
	switch in {
	case spec.Success:
		return fsm.Event{Kind: fsm.EvSASLSuccess, Username: str(t, "username", userPool)}, true
	case spec.Bind:
		iq := etree.NewElement("iq")
		iq.CreateAttr("type", "set")
		iq.CreateAttr("id", "b1")
		b := iq.CreateElement("bind")
		b.CreateAttr("xmlns", fsm.NSBind)
		b.CreateElement("resource").SetText(str(t, "bind-resource", resourcePool))
		return fsm.Event{Kind: fsm.EvElement, Elem: iq}, true
	case spec.Granted:
		return fsm.Event{Kind: fsm.EvResourceGranted, Resource: str(t, "resource", resourcePool)}, true
	case spec.Available:
		return fsm.Event{Kind: fsm.EvElement, Elem: genStanza(t, "presence", "presence")}, true
	case spec.Directed:
		return fsm.Event{Kind: fsm.EvElement, Elem: genDirected(t)}, true
	}
	return fsm.Event{Kind: fsm.EvElement, Elem: genIQ(t)}, true
}

// TestSessionMalformed feeds random and malformed inputs (headers, elements,
// stanzas, SASL and binding results, routed stanzas, timers, events of any
// kind) between steps of the happy path, under every policy, and checks
// after every step the properties checkStep lists.
func TestSessionMalformed(t *testing.T) {
	for _, name := range policyNames() {
		p := spec.Policies()[name]
		t.Run(name, func(t *testing.T) {
			var cover coverage
			rapid.Check(t, func(t *rapid.T) {
				d := newDriver(p, &cover, checkStep)
				d.forkEvent = func(t *rapid.T) fsm.Event {
					if rapid.Bool().Draw(t, "fork-directed") {
						return fsm.Event{Kind: fsm.EvElement, Elem: genDirected(t)}
					}
					return rapid.SampledFrom(spec.Inputs).Draw(t, "fork-input").Event()
				}
				d.vary = varyHappy
				actions := d.actions(happyWeight)
				live := map[string]func(*rapid.T){
					"alphabet": func(t *rapid.T) {
						d.event(t, rapid.SampledFrom(spec.Inputs).Draw(t, "input").Event())
					},
					"header": func(t *rapid.T) {
						d.event(t, fsm.Event{Kind: fsm.EvStreamOpen, Header: genHeader(t), ID: str(t, "id", []string{"", "s2"})})
					},
					"element": func(t *rapid.T) {
						d.event(t, fsm.Event{Kind: fsm.EvElement, Elem: genElement(t, "elem", 0)})
					},
					"stanza": func(t *rapid.T) {
						d.event(t, fsm.Event{Kind: fsm.EvElement, Elem: genStanza(t, "stanza", "")})
					},
					"presence": func(t *rapid.T) {
						d.event(t, fsm.Event{Kind: fsm.EvElement, Elem: genStanza(t, "presence", "presence")})
					},
					"iq": func(t *rapid.T) {
						d.event(t, fsm.Event{Kind: fsm.EvElement, Elem: genIQ(t)})
					},
					"directed-presence": func(t *rapid.T) {
						d.event(t, fsm.Event{Kind: fsm.EvElement, Elem: genDirected(t)})
					},
					"sasl-result": func(t *rapid.T) {
						ev := fsm.Event{Kind: rapid.SampledFrom([]fsm.EventKind{fsm.EvSASLChallenge, fsm.EvSASLSuccess, fsm.EvSASLFailure}).Draw(t, "kind")}
						if rapid.Bool().Draw(t, "has-data") {
							ev.Data = rapid.SliceOf(rapid.Byte()).Draw(t, "data")
						}
						ev.Username = str(t, "username", userPool)
						ev.Condition = str(t, "condition", condPool)
						ev.Text = rapid.String().Draw(t, "text")
						d.event(t, ev)
					},
					"resource-granted": func(t *rapid.T) {
						d.event(t, fsm.Event{Kind: fsm.EvResourceGranted, Resource: str(t, "resource", resourcePool)})
					},
					"bind-result": func(t *rapid.T) {
						d.event(t, fsm.Event{Kind: rapid.SampledFrom([]fsm.EventKind{fsm.EvResourceConflict, fsm.EvRosterLoaded, fsm.EvRosterFailed}).Draw(t, "kind")})
					},
					"routed": func(t *rapid.T) {
						d.event(t, genRouted(t))
					},
					"timer": func(t *rapid.T) {
						d.event(t, fsm.Event{Kind: fsm.EvTimeout, Timer: fsm.Timer(rapid.Uint8().Draw(t, "timer"))})
					},
					"xml-error": func(t *rapid.T) {
						d.event(t, fsm.Event{Kind: fsm.EvXMLError, Condition: str(t, "condition", condPool), Text: rapid.String().Draw(t, "text")})
					},
				}
				for name, f := range live {
					actions[name] = d.live(f)
				}
				// Any event, in any phase (S-2, S-3, S-4).
				actions["event"] = func(t *rapid.T) { d.event(t, genEvent(t)) }
				t.Repeat(actions)
			})
			cover.check(t)
		})
	}
}

// checkStep checks one step of the machine on any input. Each property
// names the rule of spec/session.md it comes from.
func checkStep(t *rapid.T, r step) {
	checkPure(t, r)
	prev, ev, next, effs := r.prev, r.ev, r.next, r.effects
	p := r.policy
	if int(next.Phase) >= fsm.NumPhases || next.Phase.String() == "phase(?)" {
		t.Fatalf("invalid phase %d", next.Phase)
	}
	kinds := make([]fsm.EffectKind, len(effs))
	for i, e := range effs {
		kinds[i] = e.Kind
	}
	has := func(k fsm.EffectKind) bool { return slices.Contains(kinds, k) }
	open := func(ph fsm.Phase) bool { return ph != fsm.Unconnected && ph != fsm.Closed }
	unchanged := r.before.equal(r.after)

	// S-3: before the connection only connect does anything; S-1: connect
	// starts the session and arms the negotiation timer.
	if prev.Phase == fsm.Unconnected {
		if ev.Kind != fsm.EvConnect {
			if len(effs) > 0 || !unchanged {
				t.Fatalf("S-3: %v before the connection changed the session or produced effects:%s", ev, effectLines(effs))
			}
			return
		}
		want := []fsm.Effect{{Kind: fsm.EffStartTimer, Timer: fsm.TimerNegotiation}}
		if diff := cmp.Diff(want, effs, cmpXML); diff != "" {
			t.Fatalf("S-1: connect effects (-want +got):\n%s", diff)
		}
		if next.Phase != fsm.WaitForStream || !next.NotOpen || next.Conn != ev.Conn || next.StreamID != ev.ID || next.Secure != ev.Secure || next.Type != fsm.TypeUnauthed {
			t.Fatalf("S-1: connect made %v", next.Fields())
		}
		return
	}
	if prev.Phase == fsm.Closed {
		return // checkPure checked S-4
	}

	// S-2: an event a working adapter cannot send (a second connect, an
	// element event without an element, an unknown kind) ends the session.
	if (ev.Kind == fsm.EvConnect || ev.Kind == fsm.EvElement && ev.Elem == nil || ev.Kind.String() == "event(?)") &&
		next.Phase != fsm.Closed {
		t.Fatalf("S-2: impossible event %v left the session %v", ev, next.Phase)
	}

	closedAt := -1 // index of the EffClose or EffAbort, if any
	for i, e := range effs {
		// Effects that write or carry an element have one.
		switch e.Kind {
		case fsm.EffSend, fsm.EffRoute, fsm.EffBroadcast:
			if e.Elem == nil {
				t.Fatalf("effect %d (%v) has no element", i, e.Kind)
			}
		case fsm.EffSendHeader:
			// S-11, S-16: one server header per stream, from a host we
			// serve, version 1.0, the id of the current stream.
			if e.Header == nil {
				t.Fatalf("effect %d: send-header without a header", i)
			}
			if !prev.NotOpen {
				t.Fatalf("S-11: a second server header on an open stream: %v", e)
			}
			wantID := prev.StreamID
			if ev.Kind == fsm.EvStreamOpen && ev.Header != nil && prev.Phase == fsm.WaitForStream {
				wantID = ev.ID // a fresh id from the event
			}
			if e.Header.Version != "1.0" || !slices.Contains(p.Hosts, e.Header.From) || e.Header.ID != wantID {
				t.Fatalf("S-11: bad server header %v (want id %q)", e, wantID)
			}
		}
		// Nothing is written and nothing asked once the connection is
		// closed or aborted: only the retirement effects of S-97 follow.
		if closedAt >= 0 {
			switch e.Kind {
			case fsm.EffReleaseResource, fsm.EffStopTimer:
			default:
				t.Fatalf("effect %d (%v) after the connection was closed at %d:%s", i, e.Kind, closedAt, effectLines(effs))
			}
		}
		if e.Kind == fsm.EffClose || e.Kind == fsm.EffAbort {
			closedAt = i
		}
		// S-16, S-97: a stream error is preceded by a header when the
		// stream had none, followed by the closing tag, and ends the
		// session. (A routed element is written as it is, S-80: the
		// router routes stanzas, but the session does not look.)
		if e.Kind == fsm.EffSend && isStreamError(e.Elem) && ev.Kind != fsm.EvRouted {
			if prev.NotOpen && !slices.Contains(kinds[:i], fsm.EffSendHeader) {
				t.Fatalf("S-16: stream error on a stream with no server header:%s", effectLines(effs))
			}
			if i+1 >= len(effs) || effs[i+1].Kind != fsm.EffClose {
				t.Fatalf("S-97: a stream error not followed by the close:%s", effectLines(effs))
			}
		}
	}
	if closedAt >= 0 && next.Phase != fsm.Closed {
		t.Fatalf("the connection was closed but the session is %v", next.Phase)
	}

	// Routing (S-63, S-64, S-68, S-69, S-74, S-75, S-81) and broadcasts
	// (S-70, S-71).
	for _, e := range effs {
		switch e.Kind {
		case fsm.EffRoute:
			if e.To == "" {
				t.Fatalf("route without a destination: %v", e)
			}
			if prev.Phase == fsm.Established {
				// S-63: whatever the client wrote, the session's stanzas
				// leave from its full JID, to a prepared JID (S-64).
				if e.From != prev.FullJID {
					t.Fatalf("S-63: routed from %q, not the full JID %q: %v", e.From, prev.FullJID, e)
				}
				if j, err := jid.Parse(e.To); err != nil || j.String() != e.To {
					t.Fatalf("S-64: routed to %q, which is not a prepared JID (%v)", e.To, err)
				}
			} else if ev.Kind != fsm.EvRouted {
				// Only S-81 routes for a session that is not connected.
				t.Fatalf("%v in %v routed %v", ev, prev.Phase, e)
			}
		case fsm.EffBroadcast:
			// S-70, S-71: only a connected resource broadcasts, from its
			// full JID, presence with no to, available or unavailable.
			typ := attrOf(e.Elem, "type")
			if prev.Phase != fsm.Established || e.From != prev.FullJID || e.Elem.Tag != "presence" ||
				hasAttr(e.Elem, "to") || (typ != "" && typ != "unavailable") {
				t.Fatalf("bad broadcast from a session in %v (%q): %v", prev.Phase, prev.FullJID, e)
			}
			if e.Initial && (prev.Available() || typ != "") {
				t.Fatalf("S-70: initial broadcast from an available session or of unavailable: %v", e)
			}
			if typ == "" && e.Initial == prev.Available() {
				t.Fatalf("S-70: available broadcast with initial=%v from a session with available=%v", e.Initial, prev.Available())
			}
			if typ == "unavailable" && !slices.Equal(e.Directed, prev.Directed) {
				t.Fatalf("S-71: unavailable broadcast to directed %q, the session had %q", e.Directed, prev.Directed)
			}
			if typ == "" && (!next.Available() || next.Priority != priorityOf(e.Elem)) {
				t.Fatalf("S-70: after an available broadcast: available %v priority %d", next.Available(), next.Priority)
			}
		}
	}

	// S-97: a session that ends retires: it releases the resource it holds,
	// with its implicit unavailable presence and its directed-presence
	// targets when it was available or has targets (the user machine sends
	// them), releases a resource reserved for the roster load but not one
	// only asked for, broadcasts and routes nothing itself, and disarms the
	// negotiation timer.
	if next.Phase == fsm.Closed {
		var releases []fsm.Effect
		for _, e := range effs {
			switch e.Kind {
			case fsm.EffReleaseResource:
				releases = append(releases, e)
			case fsm.EffBroadcast, fsm.EffRoute:
				t.Fatalf("S-97: an ending session sent %v itself", e)
			}
		}
		switch {
		case prev.Resource != "":
			if len(releases) != 1 || releases[0].Resource != prev.Resource || releases[0].From != prev.FullJID {
				t.Fatalf("S-97: resource %q of %q not released once:%s", prev.Resource, prev.FullJID, effectLines(effs))
			}
			e := releases[0]
			if prev.Available() || len(prev.Directed) > 0 {
				if e.Elem == nil || e.Elem.Tag != "presence" || attrOf(e.Elem, "type") != "unavailable" || hasAttr(e.Elem, "to") ||
					!slices.Equal(e.Directed, prev.Directed) {
					t.Fatalf("S-97: release without the implicit unavailable to %q: %v", prev.Directed, e)
				}
			} else if e.Elem != nil || len(e.Directed) > 0 {
				t.Fatalf("S-97: an unavailable resource with no targets released with presence: %v", e)
			}
		case prev.Phase == fsm.WaitForRoster:
			if len(releases) != 1 || releases[0].Resource != prev.Reserved {
				t.Fatalf("S-97: reserved resource %q not released once:%s", prev.Reserved, effectLines(effs))
			}
		case len(releases) > 0:
			t.Fatalf("S-97: a session in %v holding no resource released one:%s", prev.Phase, effectLines(effs))
		}
		stopped := slices.ContainsFunc(effs, func(e fsm.Effect) bool {
			return e.Kind == fsm.EffStopTimer && e.Timer == fsm.TimerNegotiation
		})
		if prev.Phase != fsm.Established && !stopped {
			t.Fatalf("S-97: the negotiation timer was left armed:%s", effectLines(effs))
		}
	}

	// S-53, S-58, S-99: a grant the session waits for is kept (and waits
	// for the roster) or handed back (released, unless empty, and the
	// bind request answered); nothing else.
	if ev.Kind == fsm.EvResourceGranted && prev.Phase == fsm.WaitForResource {
		released := slices.ContainsFunc(effs, func(e fsm.Effect) bool {
			return e.Kind == fsm.EffReleaseResource && e.Resource == ev.Resource
		})
		kept := next.Phase == fsm.WaitForRoster && next.Reserved == ev.Resource && !released
		refused := next.Phase == fsm.WaitForBind && (released || ev.Resource == "")
		if !kept && !refused {
			t.Fatalf("S-58: grant of %q in wait-for-resource neither kept nor handed back:%s", ev.Resource, effectLines(effs))
		}
	}

	// A release names a resource this session held, asked for or was
	// granted (S-56, S-59, S-97), never one it still holds.
	for _, e := range effs {
		if e.Kind != fsm.EffReleaseResource {
			continue
		}
		if e.Resource == "" || e.Username != prev.Username ||
			e.Resource != prev.Resource && e.Resource != prev.Reserved && e.Resource != ev.Resource {
			t.Fatalf("release of a resource the session never had: %v (session %v)", e, prev.Fields())
		}
		if e.Resource == next.Resource || e.Resource == next.Reserved {
			t.Fatalf("S-59: released resource %q, which the session still holds", e.Resource)
		}
	}

	// S-67: a session becomes interested only by a roster get to the
	// user's own account.
	if !prev.Interested && next.Interested {
		el := ev.Elem
		if ev.Kind != fsm.EvElement || el == nil || fsm.Classify(el) != fsm.ClassIQ || attrOf(el, "type") != "get" ||
			len(el.ChildElements()) != 1 || el.ChildElements()[0].Tag != "query" ||
			el.ChildElements()[0].NamespaceURI() != fsm.NSRoster || !toSelf(prev, attrOf(el, "to")) {
			t.Fatalf("S-67: %v made the session interested", ev)
		}
	}

	// S-70, S-71, S-97: the stored presence changes only with a broadcast.
	if open(next.Phase) && r.before.Presence != r.after.Presence && !has(fsm.EffBroadcast) {
		t.Fatalf("S-70: presence changed from %q to %q without a broadcast", r.before.Presence, r.after.Presence)
	}

	if prev.Phase == fsm.Established && next.Phase == fsm.Established && ev.Kind == fsm.EvElement {
		for _, e := range effs {
			if e.Kind != fsm.EffRoute || e.Elem != ev.Elem {
				continue
			}
			typ := attrOf(e.Elem, "type")
			switch fsm.Classify(e.Elem) {
			case fsm.ClassIQ:
				// S-65: only valid iqs are routed: with an id, and exactly
				// one child for get and set.
				if attrOf(e.Elem, "id") == "" || (typ == "get" || typ == "set") && len(e.Elem.ChildElements()) != 1 ||
					!slices.Contains([]string{"get", "set", "result", "error"}, typ) {
					t.Fatalf("S-65: invalid iq routed: %v", e)
				}
			case fsm.ClassPresence:
				// S-74: directed available presence remembers its target,
				// unavailable and error forget it.
				switch typ {
				case "":
					if !slices.Contains(next.Directed, e.To) {
						t.Fatalf("S-74: directed presence to %q not remembered: %q", e.To, next.Directed)
					}
				case "unavailable", "error":
					if slices.Contains(next.Directed, e.To) {
						t.Fatalf("S-74: %s presence to %q, still remembered: %q", typ, e.To, next.Directed)
					}
				}
			}
		}
	}

	// While the connection lasts, what was proved stays proved: TLS, the
	// host, the username, the failed attempts; a connected resource stays
	// one, with the same full JID.
	if open(next.Phase) {
		switch {
		case next.Conn != prev.Conn:
			t.Fatalf("the connection id changed from %q to %q", prev.Conn, next.Conn)
		case prev.Secure && !next.Secure:
			t.Fatalf("S-23: TLS was lost")
		case prev.Host != "" && next.Host != prev.Host:
			t.Fatalf("S-10: host changed from %q to %q", prev.Host, next.Host)
		case prev.Username != "" && next.Username != prev.Username:
			t.Fatalf("S-36: username changed from %q to %q", prev.Username, next.Username)
		case next.SASLFailures < prev.SASLFailures:
			t.Fatalf("S-37: failed attempts went from %d to %d", prev.SASLFailures, next.SASLFailures)
		case prev.Phase == fsm.Established && (next.Phase != fsm.Established || next.FullJID != prev.FullJID):
			t.Fatalf("S-57: a connected resource became %v %q", next.Phase, next.FullJID)
		case prev.Interested && !next.Interested:
			t.Fatalf("S-67: an interested resource stopped being one")
		}
		// S-23, S-36: a stream restarts only with a parser reset.
		if next.NotOpen && !prev.NotOpen && !has(fsm.EffResetStream) {
			t.Fatalf("the stream restarted without reset-stream:%s", effectLines(effs))
		}
	}

	// S-55: a session becomes a connected resource when its roster loads,
	// with the bind answered with its full JID and the timer disarmed.
	if next.Phase == fsm.Established && prev.Phase != fsm.Established {
		if ev.Kind != fsm.EvRosterLoaded || prev.Phase != fsm.WaitForRoster {
			t.Fatalf("S-55: established by %v in %v", ev, prev.Phase)
		}
		if next.Resource != prev.Reserved || next.Username != prev.Username {
			t.Fatalf("S-55: bound %q, reserved %q", next.FullJID, prev.Reserved)
		}
		answered := slices.ContainsFunc(effs, func(e fsm.Effect) bool {
			if e.Kind != fsm.EffSend || e.Elem == nil {
				return false
			}
			j := e.Elem.FindElement("./bind/jid")
			return attrOf(e.Elem, "type") == "result" && attrOf(e.Elem, "id") == prev.BindID &&
				j != nil && j.Text() == next.FullJID
		})
		if !answered || !has(fsm.EffStopTimer) {
			t.Fatalf("S-55: the bind was not answered with the full JID %q, or the timer not disarmed:%s", next.FullJID, effectLines(effs))
		}
	}

	// Questions to the adapter are asked only where the rules ask them.
	for _, e := range effs {
		switch e.Kind {
		case fsm.EffStartTLS: // S-20
			if prev.Phase != fsm.WaitForFeature || !prev.Offered.Has(fsm.FeatureStartTLS) || next.Phase != fsm.WaitForTLS {
				t.Fatalf("S-20: start-tls in %v with offered %v", prev.Phase, prev.Offered)
			}
		case fsm.EffSASLStart: // S-26, S-30, S-32
			mech, ok := policyMechanism(p, e.Mechanism)
			if !ok || mech.NeedsTLS && !prev.Secure || p.TLS && p.RequireTLS && !prev.Secure ||
				prev.Phase != fsm.WaitForFeature || next.Phase != fsm.WaitForSASLResult || next.Mechanism != e.Mechanism {
				t.Fatalf("S-30: sasl-start %q in %v (secure %v) to %v", e.Mechanism, prev.Phase, prev.Secure, next.Phase)
			}
		case fsm.EffSASLStep: // S-35
			if prev.Phase != fsm.WaitForSASLResponse || e.Data == nil {
				t.Fatalf("S-35: sasl-step in %v", prev.Phase)
			}
		case fsm.EffReserveResource: // S-50, S-54
			ok := (ev.Kind == fsm.EvElement && prev.Phase == fsm.WaitForBind) ||
				(ev.Kind == fsm.EvResourceConflict && prev.Phase == fsm.WaitForResource)
			if !ok || e.Username == "" || e.Username != prev.Username || next.Phase != fsm.WaitForResource {
				t.Fatalf("S-50: reserve-resource %v in %v", e, prev.Phase)
			}
			if e.Resource != "" {
				if r, err := jid.PrepResource(e.Resource); err != nil || r != e.Resource {
					t.Fatalf("S-51: reserve-resource of an unprepared resource %q (%v)", e.Resource, err)
				}
			}
		case fsm.EffLoadRoster: // S-53, S-58
			if ev.Kind != fsm.EvResourceGranted || prev.Phase != fsm.WaitForResource || ev.Resource == "" || next.Reserved != ev.Resource {
				t.Fatalf("S-53: load-roster after %v in %v", ev, prev.Phase)
			}
			if r, err := jid.PrepResource(ev.Resource); err != nil || r != ev.Resource {
				t.Fatalf("S-58: load-roster after a grant of the unprepared resource %q", ev.Resource)
			}
		}
	}

	switch ev.Kind {
	case fsm.EvRouted:
		// S-80, S-81: a routed stanza changes nothing in the session.
		if !unchanged {
			t.Fatalf("S-80: a routed stanza changed the session:\n%s", cmp.Diff(r.before, r.after, cmpSnap))
		}
		if ev.Elem == nil || ev.From == "" || ev.To == "" {
			break // outside the adapter contract
		}
		var want []fsm.Effect
		typ := attrOf(ev.Elem, "type")
		c := fsm.Classify(ev.Elem)
		switch {
		case c != fsm.ClassMessage && c != fsm.ClassPresence && c != fsm.ClassIQ:
			// S-80: only stanzas are routed; anything else is dropped.
		case prev.Phase == fsm.Established:
			// S-80: written as it is, with the router's addresses.
			want = []fsm.Effect{{Kind: fsm.EffSend, Elem: ev.Elem, From: ev.From, To: ev.To}}
		case typ == "error":
			// S-81: an error stanza is dropped.
		case c == fsm.ClassIQ && (typ == "get" || typ == "set"), c == fsm.ClassMessage && typ != "chat":
			// S-81: service-unavailable, routed back.
			want = []fsm.Effect{{Kind: fsm.EffRoute, From: ev.To, To: ev.From}}
		case c == fsm.ClassMessage:
			// S-81: a chat message to the full JID goes to the bare JID.
			if j, err := jid.Parse(ev.To); err == nil && !j.IsBare() {
				want = []fsm.Effect{{Kind: fsm.EffRoute, Elem: ev.Elem, From: ev.From, To: j.Bare().String()}}
			}
		}
		// want's nil Elem stands for the service-unavailable error.
		same := len(want) == len(effs)
		for i := 0; same && i < len(want); i++ {
			w, g := want[i], effs[i]
			same = w.Kind == g.Kind && w.From == g.From && w.To == g.To && g.Elem != nil &&
				(w.Elem == g.Elem || w.Elem == nil && attrOf(g.Elem, "type") == "error" &&
					g.Elem.FindElement("./error/service-unavailable") != nil)
		}
		if !same {
			t.Fatalf("S-80/S-81: effects of a routed stanza in %v (-want +got):\n%s", prev.Phase, cmp.Diff(want, effs, cmpXML))
		}
	case fsm.EvElement:
		if ev.Elem == nil {
			break
		}
		// An element in an open stream is answered, or changes the
		// session, unless it is one the rules drop: an error stanza
		// (S-60, S-64, S-65) or an iq result (S-60, S-65).
		typ := attrOf(ev.Elem, "type")
		if len(effs) == 0 && unchanged && typ != "error" && !(ev.Elem.Tag == "iq" && typ == "result") {
			t.Fatalf("%v in %v got no answer", ev, prev.Phase)
		}
		// S-63, S-64, S-65: a stanza the server writes back to a connected
		// client in answer to its stanza goes to its full JID; an error
		// reply keeps the name and id of the stanza.
		if prev.Phase == fsm.Established && next.Phase == fsm.Established {
			for _, e := range effs {
				if e.Kind != fsm.EffSend || !isStanza(e.Elem) {
					continue
				}
				if to := attrOf(e.Elem, "to"); to != prev.FullJID {
					t.Fatalf("S-63: answer to %q, not the full JID %q: %v", to, prev.FullJID, e)
				}
				if attrOf(e.Elem, "type") == "error" &&
					(e.Elem.Tag != ev.Elem.Tag || attrOf(e.Elem, "id") != attrOf(ev.Elem, "id")) {
					t.Fatalf("error reply %v to %v", fsm.XML(e.Elem), fsm.XML(ev.Elem))
				}
			}
		}
	}
}

// attrOf returns the unprefixed attribute key of el, as the machine reads
// it (etree's SelectAttr would also match a:key).
func attrOf(el *etree.Element, key string) string {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == key {
			return a.Value
		}
	}
	return ""
}

func hasAttr(el *etree.Element, key string) bool {
	return slices.ContainsFunc(el.Attr, func(a etree.Attr) bool { return a.Space == "" && a.Key == key })
}

// toSelf reports whether a stanza's to names the user's own account: none,
// or the bare JID (S-64).
func toSelf(s fsm.Session, to string) bool {
	if to == "" {
		return true
	}
	j, err := jid.Parse(to)
	return err == nil && j.String() == s.BareJID()
}

func isStreamError(el *etree.Element) bool {
	return el != nil && el.Space == "stream" && el.Tag == "error"
}

func isStanza(el *etree.Element) bool {
	return el.Space == "" && (el.Tag == "message" || el.Tag == "presence" || el.Tag == "iq")
}

func policyMechanism(p *fsm.Policy, name string) (fsm.Mechanism, bool) {
	for _, m := range p.Mechanisms {
		if m.Name == name {
			return m, true
		}
	}
	return fsm.Mechanism{}, false
}

// ----------------------------------------------------------------------
// (c) The full JID and the priority.

// TestSessionConnectedJID: after any sequence of alphabet inputs, SASL
// successes with random usernames and grants of random resources, a
// connected session's full JID is username@host/resource with a non-empty
// username and resource and a host the policy serves (SI-3, SI-4, S-44, S-55).
func TestSessionConnectedJID(t *testing.T) {
	for _, name := range policyNames() {
		p := spec.Policies()[name]
		t.Run(name, func(t *testing.T) {
			var cover coverage
			rapid.Check(t, func(t *rapid.T) {
				d := newDriver(p, &cover, func(t *rapid.T, r step) {
					checkPure(t, r)
					s := r.next
					if !s.Connected() {
						return
					}
					want := s.Username + "@" + s.Host + "/" + s.Resource
					if want != s.FullJID || s.Username == "" || s.Resource == "" || !slices.Contains(p.Hosts, s.Host) {
						diff := cmp.Diff(want, s.FullJID)
						t.Fatalf("connected with full JID %q, username %q, host %q, resource %q (-want +got):\n%s",
							s.FullJID, s.Username, s.Host, s.Resource, diff)
					}
				})
				// The happy path logs in with random usernames and resources
				// half of the time.
				d.vary = func(t *rapid.T, in spec.Input) (fsm.Event, bool) {
					if (in != spec.Success && in != spec.Granted) || !rapid.Bool().Draw(t, "vary") {
						return fsm.Event{}, false
					}
					if in == spec.Success {
						return fsm.Event{Kind: fsm.EvSASLSuccess, Username: str(t, "username", userPool)}, true
					}
					return fsm.Event{Kind: fsm.EvResourceGranted, Resource: str(t, "resource", resourcePool)}, true
				}
				actions := d.actions(4)
				actions["alphabet"] = d.live(func(t *rapid.T) {
					d.event(t, rapid.SampledFrom(spec.Inputs).Draw(t, "input").Event())
				})
				actions["success"] = d.live(func(t *rapid.T) {
					d.event(t, fsm.Event{Kind: fsm.EvSASLSuccess, Username: str(t, "username", userPool)})
				})
				actions["granted"] = d.live(func(t *rapid.T) {
					d.event(t, fsm.Event{Kind: fsm.EvResourceGranted, Resource: str(t, "resource", resourcePool)})
				})
				t.Repeat(actions)
			})
			cover.check(t)
		})
	}
}

var integerRE = regexp.MustCompile(`^[+-]?[0-9]+$`)

// clampPriority is S-70's reading of <priority/>: an integer (RFC 6121
// §4.7.2.3, Prosody's ^[+-]?[0-9]+$) clamped to -128…127, else 0.
func clampPriority(text string) int8 {
	if !integerRE.MatchString(text) {
		return 0
	}
	n, ok := new(big.Int).SetString(strings.TrimPrefix(text, "+"), 10)
	if !ok {
		panic("unparsable integer " + text)
	}
	switch {
	case n.Cmp(big.NewInt(127)) > 0:
		return 127
	case n.Cmp(big.NewInt(-128)) < 0:
		return -128
	}
	return int8(n.Int64())
}

// priorityOf reads the first <priority/> child in jabber:client (an
// element with no namespace of its own is in jabber:client).
func priorityOf(el *etree.Element) int8 {
	for _, c := range el.ChildElements() {
		ns := c.NamespaceURI()
		if ns == "" && c.Space == "" {
			ns = fsm.NSClient
		}
		if c.Tag == "priority" && ns == fsm.NSClient {
			return clampPriority(c.Text())
		}
	}
	return 0
}

// genInteger draws the text of an integer: a sign or none, leading zeros,
// and digits that are small, around the clamping bounds, or huge.
func genInteger(t *rapid.T) string {
	sign := rapid.SampledFrom([]string{"", "+", "-"}).Draw(t, "sign")
	zeros := strings.Repeat("0", rapid.IntRange(0, 3).Draw(t, "zeros"))
	var digits string
	switch rapid.IntRange(0, 3).Draw(t, "size") {
	case 0:
		digits = strconv.Itoa(rapid.IntRange(0, 300).Draw(t, "small"))
	case 1:
		digits = strconv.Itoa(rapid.SampledFrom([]int{0, 126, 127, 128, 129, 255, 256, 1270, 1280}).Draw(t, "bound"))
	case 2:
		digits = strconv.FormatUint(rapid.Uint64().Draw(t, "u64"), 10)
	default:
		digits = rapid.StringMatching(`[1-9][0-9]{18,60}`).Draw(t, "huge")
	}
	return sign + zeros + digits
}

// genNotInteger draws text that is not an integer.
func genNotInteger(t *rapid.T) string {
	return rapid.OneOf(
		rapid.SampledFrom([]string{
			"", "+", "-", "+-1", "--1", "1-", "1.5", "1.0", "1e3", "0x10", " 5", "5 ", "\n5",
			"12a", "NaN", "∞", "٣", "５", "1_000", "1,000", "- 1", "⁵",
		}),
		rapid.String().Filter(func(s string) bool { return !integerRE.MatchString(s) }),
	).Draw(t, "text")
}

// TestSessionPriorityClamp: an available presence with <priority>n</priority>
// from an established session sets Priority to n clamped to -128…127 for any
// integer n (huge, signed, with leading zeros), and to 0 for text that is
// not an integer (S-70); the broadcast is initial exactly for the first
// one; addressing it to the user's own bare JID changes nothing (S-76); and
// an unavailable presence resets the priority to 0 (S-71).
func TestSessionPriorityClamp(t *testing.T) {
	for _, name := range policyNames() {
		p := spec.Policies()[name]
		base := establish(t, p)
		t.Run(name, func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				s := base
				if rapid.Bool().Draw(t, "already-available") {
					s, _ = fsm.Step(s, spec.Available.Event())
				}
				text := genNotInteger(t)
				if rapid.Bool().Draw(t, "integer") {
					text = genInteger(t)
				}
				want := clampPriority(text)
				el := etree.NewElement("presence")
				if rapid.Bool().Draw(t, "to-self") {
					el.CreateAttr("to", rapid.SampledFrom([]string{spec.User + "@" + spec.Host, "Alice@LOCALHOST"}).Draw(t, "self"))
				}
				if rapid.Bool().Draw(t, "show-first") {
					el.CreateElement("show").SetText("away")
				}
				el.CreateElement("priority").SetText(text)
				if rapid.Bool().Draw(t, "status-after") {
					el.CreateElement("status").SetText("2")
				}
				r := doStep(t, p, s, fsm.Event{Kind: fsm.EvElement, Elem: el})
				checkStep(t, r)
				if r.next.Priority != want || !r.next.Available() {
					t.Fatalf("<priority>%s</priority>: priority %d available %v, want %d", strconv.Quote(text), r.next.Priority, r.next.Available(), want)
				}
				wantEff := []fsm.Effect{{Kind: fsm.EffBroadcast, From: s.FullJID, Initial: !s.Available()}}
				if diff := cmp.Diff(wantEff, r.effects, cmp.Comparer(func(a, b *etree.Element) bool { return true })); diff != "" {
					t.Fatalf("effects (-want +got):\n%s", diff)
				}
				if hasAttr(r.next.Presence, "to") {
					t.Fatalf("S-76: stored presence keeps its to: %s", fsm.XML(r.next.Presence))
				}
				u := doStep(t, p, r.next, spec.Unavailable.Event())
				checkStep(t, u)
				if u.next.Priority != 0 || u.next.Available() {
					t.Fatalf("S-71: after unavailable: priority %d available %v", u.next.Priority, u.next.Available())
				}
			})
		})
	}
}

// TestSessionSiblings: sessions are values. From an established session
// with 0…7 directed-presence targets (and maybe available), two different
// steps give two sessions that share nothing Step changes: taking the
// second step changes neither the first result nor the session both
// started from (the explorer and any adapter that keeps an old session
// rely on it).
func TestSessionSiblings(t *testing.T) {
	for _, name := range policyNames() {
		p := spec.Policies()[name]
		base := establish(t, p)
		t.Run(name, func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				s := base
				if rapid.Bool().Draw(t, "available") {
					s, _ = fsm.Step(s, spec.Available.Event())
				}
				directed := func(to string) fsm.Event {
					el := etree.NewElement("presence")
					el.CreateAttr("to", to)
					return fsm.Event{Kind: fsm.EvElement, Elem: el}
				}
				for i := range rapid.IntRange(0, 7).Draw(t, "targets") {
					s, _ = fsm.Step(s, directed(fmt.Sprintf("c%d@example.com", i)))
				}
				gen := func(label string) fsm.Event {
					switch rapid.IntRange(0, 3).Draw(t, label+"-kind") {
					case 0: // a new target
						return directed(fmt.Sprintf("%s%d@example.com", label, rapid.IntRange(0, 7).Draw(t, label+"-target")))
					case 1: // unavailable to a target, maybe one already there
						ev := directed(fmt.Sprintf("c%d@example.com", rapid.IntRange(0, 7).Draw(t, label+"-target")))
						ev.Elem.CreateAttr("type", "unavailable")
						return ev
					case 2:
						return fsm.Event{Kind: fsm.EvElement, Elem: genDirected(t)}
					}
					return rapid.SampledFrom(spec.Inputs).Draw(t, label).Event()
				}
				a := doStep(t, p, s, gen("a"))
				checkStep(t, a)
				b := doStep(t, p, s, gen("b"))
				checkStep(t, b)
				if now := snap(a.next); !a.after.equal(now) {
					t.Fatalf("a sibling step changed the first result (-before +after):\n%s", cmp.Diff(a.after, now, cmpSnap))
				}
			})
		})
	}
}
