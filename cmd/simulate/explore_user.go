package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/conformance"
	"github.com/xmppfsm/xmppfsm/fsm"
)

// This file is `simulate explore --machine user`: breadth-first
// exploration of the user machine (fsm.StepUser) in a bounded world of two
// users with two resources each, the machines joined by a small synchronous
// router of our own, checking every transition.

// stepUserFunc is the user machine the explorer checks. Tests replace it
// with a broken one to see that the explorer catches it.
var stepUserFunc = fsm.StepUser

// exploreUsersFunc is the explorer; tests reuse one exploration of the real
// machine through it.
var exploreUsersFunc = exploreUsers

// The bounded world.
var (
	uxUsers     = [2]string{"alice", "bob"}
	uxResources = [2]string{"r1", "r2"}
)

const (
	uxMaxSteps  = 1000      // machine steps an input may cause before the router gives up
	uxMaxStates = 1_000_000 // states explored before the explorer gives up (a broken machine's world can be infinite)
)

func uxBare(u int) string         { return uxUsers[u] + "@" + domain }
func uxFull(u, r int) string      { return uxBare(u) + "/" + uxResources[r] }
func uxShort(j string) string     { return strings.ReplaceAll(j, "@"+domain, "") }
func uxOther(u int) int           { return 1 - u }
func uxSubKind(k int) fsm.SubKind { return fsm.SubKind(k + 1) }

// uxKind is one kind of input of the alphabet.
type uxKind uint8

const (
	uxBound uxKind = iota
	uxUnbound
	uxAvailable
	uxUnavailable
	uxRosterGet
	uxSubscription // sub: 0 subscribe … 3 unsubscribed
	uxMessageBare
	uxMessageFull
	uxProbe
)

// uxInput is one input: an event for one user's machine, as a session or
// the hub would give it.
type uxInput struct {
	user int
	kind uxKind
	res  int // the resource (the sender's resource r1 for stanzas to the other user)
	sub  int // uxSubscription: the kind
}

func (in uxInput) String() string {
	who := uxUsers[in.user]
	other := uxUsers[uxOther(in.user)]
	switch in.kind {
	case uxBound:
		return who + " bound " + uxResources[in.res]
	case uxUnbound:
		return who + " unbound " + uxResources[in.res]
	case uxAvailable:
		return who + " available " + uxResources[in.res]
	case uxUnavailable:
		return who + " unavailable " + uxResources[in.res]
	case uxRosterGet:
		return who + " roster-get " + uxResources[in.res]
	case uxSubscription:
		return who + " " + uxSubKind(in.sub).String() + " " + other
	case uxMessageBare:
		return who + " message " + other
	case uxMessageFull:
		return who + " message " + other + "/" + uxResources[0]
	case uxProbe:
		return who + " probe " + other
	}
	return who + " ?"
}

// uxAlphabet lists the inputs, for each user: bound and unbound of each
// resource, available and unavailable broadcast presence of each, a roster
// get from each, the four subscription stanzas to the other user, a chat
// message to the other's bare JID and to its full JID r1, and a probe of
// the other (stanzas from resource r1).
var uxAlphabet = func() []uxInput {
	var in []uxInput
	for u := range 2 {
		for _, k := range []uxKind{uxBound, uxUnbound, uxAvailable, uxUnavailable, uxRosterGet} {
			for r := range 2 {
				in = append(in, uxInput{user: u, kind: k, res: r})
			}
		}
		for sub := range 4 {
			in = append(in, uxInput{user: u, kind: uxSubscription, sub: sub})
		}
		in = append(in, uxInput{user: u, kind: uxMessageBare}, uxInput{user: u, kind: uxMessageFull}, uxInput{user: u, kind: uxProbe})
	}
	return in
}()

// uxChecks names the checks made after every transition.
var uxChecks = []string{
	"invariant: checkUser (UI-2, UI-4…UI-6) and (fsm.User).Check (UI-1…UI-9 but UI-8) hold for both users",
	"version: each step's saved and removed items carry the roster version one by one, the roster's version after it is the last, and it changes only with them (UI-8)",
	"deliver: a stanza is delivered only to a resource connected after the step",
	"pure: StepUser leaves its argument unchanged",
	"appendix-a: once the router is idle, A has to/both for B ⇔ B has from/both for A, and A has ask for B ⇔ B keeps A's request, both ways (WI-4)",
	"idle: the router becomes idle within " + strconv.Itoa(uxMaxSteps) + " machine steps",
	"panic: StepUser does not panic",
}

// The elements of the inputs, built once: the machines never change an
// element they are given.
var (
	uxPresence      = newEl("presence")
	uxUnavailableEl = newEl("presence", "type", "unavailable")
	uxRosterGetEl   = withChild(newEl("iq", "type", "get", "id", "rg"), newEl("query", "xmlns", fsm.NSRoster))
	// uxStanzas[u][i]: user u's subscription stanzas (i 0…3), chat to the
	// other's bare JID (4) and full JID r1 (5), probe (6).
	uxStanzas = func() (els [2][7]*etree.Element) {
		for u := range 2 {
			other := uxBare(uxOther(u))
			for k := range 4 {
				els[u][k] = newEl("presence", "to", other, "type", uxSubKind(k).String())
			}
			for i, to := range []string{other, uxFull(uxOther(u), 0)} {
				els[u][4+i] = withChild(newEl("message", "to", to, "type", "chat", "id", "m"), withText(newEl("body"), "hi"))
			}
			els[u][6] = newEl("presence", "to", other, "type", "probe")
		}
		return els
	}()
)

// uxWorld is the joint state: both users' machines.
type uxWorld struct {
	users [2]fsm.User
}

// uxEvent builds the user event of in, for the world as it stands.
func (w *uxWorld) uxEvent(in uxInput) fsm.UserEvent {
	u := &w.users[in.user]
	me := uxBare(in.user)
	other := uxBare(uxOther(in.user))
	full := uxFull(in.user, in.res)
	available := false
	for _, r := range u.Resources {
		if r.FullJID == full {
			available = r.Available()
		}
	}
	switch in.kind {
	case uxBound:
		return fsm.UserEvent{Kind: fsm.UEvBound, From: full}
	case uxUnbound:
		// As a session releases its resource (S-97): with its implicit
		// unavailable presence when it was available.
		ev := fsm.UserEvent{Kind: fsm.UEvUnbound, From: full}
		if available {
			ev.Elem = uxUnavailableEl
		}
		return ev
	case uxAvailable:
		return fsm.UserEvent{Kind: fsm.UEvBroadcast, From: full, Elem: uxPresence, Initial: !available}
	case uxUnavailable:
		return fsm.UserEvent{Kind: fsm.UEvBroadcast, From: full, Elem: uxUnavailableEl}
	case uxRosterGet:
		return fsm.UserEvent{Kind: fsm.UEvOutbound, From: full, To: me, Elem: uxRosterGetEl}
	case uxSubscription:
		return fsm.UserEvent{Kind: fsm.UEvOutbound, From: full, To: other, Elem: uxStanzas[in.user][in.sub]}
	case uxMessageBare:
		return fsm.UserEvent{Kind: fsm.UEvOutbound, From: full, To: other, Elem: uxStanzas[in.user][4]}
	case uxMessageFull:
		return fsm.UserEvent{Kind: fsm.UEvOutbound, From: full, To: uxFull(uxOther(in.user), 0), Elem: uxStanzas[in.user][5]}
	case uxProbe:
		return fsm.UserEvent{Kind: fsm.UEvOutbound, From: full, To: other, Elem: uxStanzas[in.user][6]}
	}
	return fsm.UserEvent{}
}

// uxViolation is a failed check of one transition.
type uxViolation struct {
	check string
	err   error
}

// uxOutcome is what one input did.
type uxOutcome struct {
	steps, delivered, stored int
	violations               []uxViolation
}

// uxWork is an event waiting for a user machine.
type uxWork struct {
	user int
	ev   fsm.UserEvent
}

// apply gives in to its user and routes the effects until the router is
// idle: UEffRoute to the other user becomes its UEvInbound (to the
// server's domain, fsm.AnswerServer's answers are routed back); UEffDeliver
// is recorded; UEffLoadOffline is answered at once with nothing stored
// (offline storage is outside this world: UEffStoreOffline is recorded);
// the other store effects are checked against the machine (version).
func (w *uxWorld) apply(in uxInput) uxOutcome {
	var out uxOutcome
	fail := func(check string, err error) { out.violations = append(out.violations, uxViolation{check, err}) }
	queue := []uxWork{{in.user, w.uxEvent(in)}}
	var step func(int, fsm.UserEvent) bool
	step = func(i int, ev fsm.UserEvent) bool {
		out.steps++
		if out.steps > uxMaxSteps {
			fail("idle", fmt.Errorf("still routing after %d machine steps", uxMaxSteps))
			return false
		}
		before := w.users[i]
		snapshot := uxSnapshot(before)
		next, effects, err := safeStepUser(before, ev)
		if err != nil {
			fail("panic", err)
			return false
		}
		if !uxSameUser(before, snapshot) {
			fail("pure", fmt.Errorf("StepUser changed its argument on %v", ev))
		}
		if err := checkUserStep(before, next, effects); err != nil {
			fail("version", fmt.Errorf("%v on %v", err, ev))
		}
		w.users[i] = next
		var effs func([]fsm.UserEffect) bool
		effs = func(effects []fsm.UserEffect) bool {
			for _, e := range effects {
				switch e.Kind {
				case fsm.UEffDeliver:
					out.delivered++
					if !slices.ContainsFunc(next.Resources, func(r fsm.Resource) bool { return r.FullJID == e.Target }) {
						fail("deliver", fmt.Errorf("%s delivered to %s, which is not connected after the step %v", fsm.XML(e.Elem), e.Target, ev))
					}
				case fsm.UEffRoute:
					to := bareJID(e.To)
					switch {
					case to == uxBare(0) || to == uxBare(1):
						j := 0
						if to == uxBare(1) {
							j = 1
						}
						queue = append(queue, uxWork{j, fsm.UserEvent{Kind: fsm.UEvInbound, From: e.From, To: e.To, Elem: e.Elem, Directed: e.Directed}})
					case !strings.Contains(to, "@"):
						if !effs(fsm.AnswerServer(w.users[i].Policy, to, e.From, e.Elem)) {
							return false
						}
					}
				case fsm.UEffStoreOffline:
					out.stored++
				case fsm.UEffLoadOffline:
					if !step(i, fsm.UserEvent{Kind: fsm.UEvOfflineLoaded, To: e.To}) {
						return false
					}
				}
			}
			return true
		}
		return effs(effects)
	}
	for len(queue) > 0 {
		wk := queue[0]
		queue = queue[1:]
		if !step(wk.user, wk.ev) {
			return out
		}
	}
	return out
}

// checkState checks an idle world: the user invariants of both users and
// that their subscriptions agree (WI-4). It depends on the state alone, so
// the explorer checks each state once, when it is first reached.
func (w *uxWorld) checkState() []uxViolation {
	var vs []uxViolation
	for u := range 2 {
		if err := checkUser(w.users[u]); err != nil {
			vs = append(vs, uxViolation{"invariant", fmt.Errorf("%s: %v", uxUsers[u], oneLineErr(err))})
		} else if err := w.users[u].Check(); err != nil {
			vs = append(vs, uxViolation{"invariant", fmt.Errorf("%s: %v", uxUsers[u], oneLineErr(err))})
		}
	}
	if err := uxAgree(w.users[0], w.users[1]); err != nil {
		vs = append(vs, uxViolation{"appendix-a", err})
	}
	return vs
}

func bareJID(j string) string {
	b, _, _ := strings.Cut(j, "/")
	return b
}

// safeStepUser steps and turns a panic into an error.
func safeStepUser(u fsm.User, ev fsm.UserEvent) (next fsm.User, effects []fsm.UserEffect, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic on %v: %v", ev, r)
		}
	}()
	next, effects = stepUserFunc(u, ev)
	return next, effects, nil
}

// checkUserStep checks UI-8 over one step: the saved and removed items
// carry the versions one after another from the version before, the
// roster's version after the step is the last of them, and the items
// change only with them.
func checkUserStep(before, after fsm.User, effects []fsm.UserEffect) error {
	v := before.Roster.Version
	for _, e := range effects {
		if e.Kind != fsm.UEffSaveItem && e.Kind != fsm.UEffRemoveItem {
			continue
		}
		v++
		if e.Version != v {
			return fmt.Errorf("UI-8 %v of %s carries version %d, want %d", e.Kind, e.Item.JID, e.Version, v)
		}
	}
	if after.Roster.Version != v {
		return fmt.Errorf("UI-8 roster version %d after the step, the store got %d", after.Roster.Version, v)
	}
	if v == before.Roster.Version && !uxRosterEqual(before.Roster, after.Roster) {
		return errors.New("UI-8 the roster changed but its version did not")
	}
	return nil
}

// uxAgree checks WI-4 between the two users of an idle world.
func uxAgree(a, b fsm.User) error {
	for _, p := range [2][2]fsm.User{{a, b}, {b, a}} {
		x, y := p[0], p[1]
		ix, _ := x.Roster.Item(y.JID)
		iy, _ := y.Roster.Item(x.JID)
		if subTo(ix.Sub) != subFrom(iy.Sub) {
			return fmt.Errorf("WI-4 %s's item for %s is %v but %s's item for %s is %v",
				uxShort(x.JID), uxShort(y.JID), ix.Sub, uxShort(y.JID), uxShort(x.JID), iy.Sub)
		}
		if ix.Ask != pendingFrom(y.Pending, x.JID) {
			return fmt.Errorf("WI-4 %s's item for %s has ask=%v but %s keeps a request from %s: %v",
				uxShort(x.JID), uxShort(y.JID), ix.Ask, uxShort(y.JID), uxShort(x.JID), !ix.Ask)
		}
	}
	return nil
}

// uxScratch holds the snapshot of the user being stepped, reused from
// step to step (the explorer is single-threaded).
var uxScratch struct {
	items     []fsm.RosterItem
	pending   []fsm.PendingRequest
	resources []fsm.Resource
}

// uxSnapshot copies everything a User holds that StepUser could change
// in place: the slices' elements.
func uxSnapshot(u fsm.User) fsm.User {
	c := u
	uxScratch.items = append(uxScratch.items[:0], u.Roster.Items...)
	uxScratch.pending = append(uxScratch.pending[:0], u.Pending...)
	uxScratch.resources = append(uxScratch.resources[:0], u.Resources...)
	c.Roster.Items, c.Pending, c.Resources = uxScratch.items, uxScratch.pending, uxScratch.resources
	return c
}

// uxSameUser reports whether u still holds what its snapshot does.
func uxSameUser(u, snap fsm.User) bool {
	if u.JID != snap.JID || u.Exists != snap.Exists || u.Roster.Version != snap.Roster.Version ||
		len(u.Roster.Items) != len(snap.Roster.Items) || len(u.Pending) != len(snap.Pending) || len(u.Resources) != len(snap.Resources) {
		return false
	}
	for i, it := range u.Roster.Items {
		s := snap.Roster.Items[i]
		if it.JID != s.JID || it.Name != s.Name || it.Sub != s.Sub || it.Ask != s.Ask || it.Approved != s.Approved || !slices.Equal(it.Groups, s.Groups) {
			return false
		}
	}
	for i, p := range u.Pending {
		if p != snap.Pending[i] {
			return false
		}
	}
	for i, r := range u.Resources {
		s := snap.Resources[i]
		if r.FullJID != s.FullJID || r.Presence != s.Presence || r.Priority != s.Priority || r.Interested != s.Interested || !slices.Equal(r.Directed, s.Directed) {
			return false
		}
	}
	return true
}

// uxRosterEqual reports whether two rosters hold the same items (the
// version aside).
func uxRosterEqual(a, b fsm.Roster) bool {
	return slices.EqualFunc(a.Items, b.Items, func(x, y fsm.RosterItem) bool {
		return x.JID == y.JID && x.Name == y.Name && x.Sub == y.Sub && x.Ask == y.Ask && x.Approved == y.Approved && slices.Equal(x.Groups, y.Groups)
	})
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, '1')
	}
	return append(b, '0')
}

// appendUserKey renders a user's state canonically: its roster items,
// pending requests and resources with their availability, priority,
// interest and directed-presence targets. The roster version is left out
// (it grows without bound; checkUserStep watches it).
func appendUserKey(b []byte, u fsm.User) []byte {
	for _, it := range u.Roster.Items {
		b = append(b, it.JID...)
		b = append(b, ':', '0'+byte(it.Sub))
		b = appendBool(b, it.Ask)
		b = appendBool(b, it.Approved)
		b = strconv.AppendQuote(b, it.Name)
		for _, g := range it.Groups {
			b = strconv.AppendQuote(b, g)
		}
		b = append(b, ';')
	}
	b = append(b, '|')
	for _, p := range u.Pending {
		b = append(b, p.From...)
		b = append(b, ';')
	}
	b = append(b, '|')
	for _, r := range u.Resources {
		b = append(b, r.FullJID...)
		b = append(b, ':')
		b = appendBool(b, r.Available())
		b = strconv.AppendInt(b, int64(r.Priority), 10)
		b = appendBool(b, r.Interested)
		for _, d := range r.Directed {
			b = append(b, d...)
			b = append(b, ',')
		}
		b = append(b, ';')
	}
	return b
}

// appendKey renders the world's state.
func (w *uxWorld) appendKey(b []byte) []byte {
	b = appendUserKey(b, w.users[0])
	b = append(b, '#')
	return appendUserKey(b, w.users[1])
}

// userExploration is what the explorer found.
type userExploration struct {
	States, Transitions int
	// BySubState counts the states by alice's Appendix A state for bob
	// and bob's for alice.
	BySubState map[[2]fsm.SubState]int
	// Steps, Delivered and Stored add up the machine steps, deliveries and
	// stored messages over all transitions.
	Steps, Delivered, Stored int
	// Fixpoint is false when the exploration stopped at uxMaxStates.
	Fixpoint   bool
	Violations []userViolation
}

type userViolation struct {
	Check string
	Err   error
	Path  []uxInput
}

// exploreUsers explores the world breadth-first from two users with empty
// rosters and no resources, over the whole alphabet, until no new state
// appears (or uxMaxStates states were explored). Each state is explored
// from the first path that reached it, so every violation comes with a
// shortest path; one is kept per distinct failure. A state that breaks a
// user invariant (or after a panic or a router that never became idle) is
// reported and not explored further: it is not a state of the machine.
func exploreUsers() userExploration {
	p := conformance.LoopbackPolicy()
	type node struct {
		w    uxWorld
		path []int
	}
	start := uxWorld{}
	for u := range 2 {
		start.users[u] = fsm.NewUser(p, uxBare(u), true, fsm.Roster{}, nil)
	}
	x := userExploration{BySubState: map[[2]fsm.SubState]int{}, Fixpoint: true}
	var buf []byte
	seen := map[string]bool{string(start.appendKey(buf)): true}
	queue := []node{{w: start}}
	reported := map[string]bool{}
	report := func(vs []uxViolation, path []int) {
		for _, v := range vs {
			k := v.check + "\x00" + v.err.Error()
			if reported[k] {
				continue // one shortest example per distinct failure
			}
			reported[k] = true
			inputs := make([]uxInput, len(path))
			for j, pi := range path {
				inputs[j] = uxAlphabet[pi]
			}
			x.Violations = append(x.Violations, userViolation{Check: v.check, Err: v.err, Path: inputs})
		}
	}
	report(start.checkState(), nil)
	for len(queue) > 0 {
		if x.States == uxMaxStates {
			x.Fixpoint = false
			break
		}
		n := queue[0]
		queue = queue[1:]
		x.States++
		a, b := n.w.users[0], n.w.users[1]
		x.BySubState[[2]fsm.SubState{userSubState(a, b.JID), userSubState(b, a.JID)}]++
		for i, in := range uxAlphabet {
			x.Transitions++
			w := n.w
			out := w.apply(in)
			x.Steps += out.steps
			x.Delivered += out.delivered
			x.Stored += out.stored
			path := append(slices.Clip(n.path), i)
			report(out.violations, path)
			if slices.ContainsFunc(out.violations, func(v uxViolation) bool { return v.check == "panic" || v.check == "idle" }) {
				continue // the state is not whole
			}
			buf = w.appendKey(buf[:0])
			if !seen[string(buf)] {
				seen[string(buf)] = true
				vs := w.checkState()
				report(vs, path)
				if slices.ContainsFunc(vs, func(v uxViolation) bool { return v.check == "invariant" }) {
					continue
				}
				queue = append(queue, node{w: w, path: path})
			}
		}
	}
	return x
}

func userSubState(u fsm.User, contact string) fsm.SubState {
	return subState(u.Roster, u.Pending, contact)
}

// userReport is the exploration of the user machine as explore prints it;
// --json prints it as it is.
type userReport struct {
	Users       []string `json:"users"`
	Resources   []string `json:"resources"`
	Inputs      []string `json:"inputs"`
	States      int      `json:"states"`
	Transitions int      `json:"transitions"`
	// SubStates counts the states by the pair of Appendix A states
	// (alice's for bob, bob's for alice), e.g. "To / From".
	SubStates  map[string]int  `json:"sub_states"`
	Steps      int             `json:"machine_steps"`
	Delivered  int             `json:"delivered"`
	Checks     []string        `json:"checks"`
	ElapsedMS  float64         `json:"elapsed_ms"`
	Fixpoint   bool            `json:"fixpoint"`
	Violations []violationJSON `json:"violations"`
	elapsed    time.Duration
	subOrder   [][2]fsm.SubState
}

// exploreUserReport runs the user explorer and reports it.
func exploreUserReport() userReport {
	start := time.Now()
	x := exploreUsersFunc()
	elapsed := time.Since(start)
	r := userReport{
		Users: []string{uxBare(0), uxBare(1)}, Resources: uxResources[:],
		States: x.States, Transitions: x.Transitions, SubStates: map[string]int{},
		Steps: x.Steps, Delivered: x.Delivered, Checks: uxChecks,
		ElapsedMS: float64(elapsed.Microseconds()) / 1000, Fixpoint: x.Fixpoint,
		Violations: []violationJSON{}, elapsed: elapsed,
	}
	for _, in := range uxAlphabet {
		r.Inputs = append(r.Inputs, in.String())
	}
	for _, a := range fsm.States {
		for _, b := range fsm.States {
			if n := x.BySubState[[2]fsm.SubState{a, b}]; n > 0 {
				r.SubStates[a.String()+" / "+b.String()] = n
				r.subOrder = append(r.subOrder, [2]fsm.SubState{a, b})
			}
		}
	}
	for k, n := range x.BySubState {
		if !slices.Contains(r.subOrder, k) { // a state outside Appendix A.1
			r.SubStates[k[0].String()+" / "+k[1].String()] = n
			r.subOrder = append(r.subOrder, k)
		}
	}
	for _, v := range x.Violations {
		path := make([]string, len(v.Path))
		for i, in := range v.Path {
			path[i] = in.String()
		}
		r.Violations = append(r.Violations, violationJSON{Check: v.Check, Error: v.Err.Error(), Path: path})
	}
	return r
}

func (r userReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "machine user: %d states, %d transitions, explored in %v\n", r.States, r.Transitions, r.elapsed.Round(10*time.Microsecond))
	fmt.Fprintf(w, "  world: users %s × resources %s, RFC policy (LoopbackPolicy); the machines joined by a synchronous router\n",
		strings.Join(uxUsers[:], ", "), strings.Join(uxResources[:], ", "))
	fmt.Fprintf(w, "  %d inputs in every state:", len(r.Inputs))
	for i, in := range r.Inputs {
		if i%6 == 0 {
			fmt.Fprint(w, "\n    ")
		} else {
			fmt.Fprint(w, ", ")
		}
		fmt.Fprint(w, in)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  %d machine steps in all, %d stanzas delivered\n", r.Steps, r.Delivered)
	width := len("alice → bob")
	for _, k := range r.subOrder {
		width = max(width, len(k[0].String()))
	}
	fmt.Fprintf(w, "  %-*s  %-*s  %s\n", width, "alice → bob", width, "bob → alice", "states")
	for _, k := range r.subOrder {
		fmt.Fprintf(w, "  %-*s  %-*s  %d\n", width, k[0], width, k[1], r.SubStates[k[0].String()+" / "+k[1].String()])
	}
	fmt.Fprintln(w, "  checks after every transition:")
	for _, c := range r.Checks {
		fmt.Fprintf(w, "    %s\n", c)
	}
	reached := "fixpoint reached"
	if !r.Fixpoint {
		reached = fmt.Sprintf("NO fixpoint: stopped after %d states", uxMaxStates)
	}
	if len(r.Violations) == 0 {
		fmt.Fprintf(w, "  %s: no violation\n", reached)
		return
	}
	fmt.Fprintf(w, "  %s: %d %s\n", reached, len(r.Violations), plural(len(r.Violations), "violation", "violations"))
	for _, v := range r.Violations {
		fmt.Fprintf(w, "  %s: %s\n", v.Check, v.Error)
		fmt.Fprintf(w, "    shortest path: %s\n", strings.Join(v.Path, " → "))
	}
}
