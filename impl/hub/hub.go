// Package hub carries events and effects between the pure machines of
// package fsm: sessions by connection and full JID, users by bare JID. It
// decides nothing: every protocol decision is made by fsm.Step, fsm.StepUser
// and fsm.AnswerServer; the hub only looks up the addressee and hands the
// effect over as an event.
//
// This Hub is the deterministic, single-threaded, in-memory one: the
// embedded default of the simulator and the in-process conformance target,
// and the harness of the multi-user property tests. Work is done in FIFO
// order until nothing is left, stream ids and generated resources come from
// counters, and the clock is a function the caller sets.
package hub

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
)

// Output is what the server wrote to one connection: the effects that reach
// the client (EffSendHeader, EffSend, EffClose, EffAbort), in order.
type Output struct {
	Conn   string
	Effect fsm.Effect
}

// Hub runs sessions and users in one process.
type Hub struct {
	// Policy is the policy of every machine.
	Policy *fsm.Policy
	// Store keeps accounts, rosters, pending requests and offline messages.
	Store *Store
	// Clock returns the time stamped on stored messages (XEP-0082).
	Clock func() string
	// Output receives what is written to clients. Nil discards it.
	Output func(Output)
	// RosterFails, when set, makes the roster load of the bare JIDs it
	// reports fail (EvRosterFailed), to exercise S-56.
	RosterFails func(bare string) bool
	// WritesFail, when set, makes the store refuse the writes of every
	// user step of the bare JIDs it reports (fsm.UEvStoreFailed), to
	// exercise I-56.
	WritesFail func(bare string) bool
	// Trace, when set, sees every step: the machine ("conn c1" or "user
	// alice@localhost"), the event and its effects, rendered.
	Trace func(machine, event string, effects []string)

	// The registries. Queued work points at its machine, so that a step
	// looks nothing up by name: the name is looked up once, when the
	// work is queued.
	sessions map[string]*conn     // by connection id
	byFull   map[string]*conn     // full JID → the session bound to it
	bound    map[string]int       // bare JID → how many full JIDs of it are bound
	users    map[string]*fsm.User // by bare JID
	queue    []work
	ids      int

	// Effect buffers, one per level of nested steps (a question answered
	// at once steps again before the effects of the step that asked are
	// all carried out), reused from step to step.
	sessionBufs [][]fsm.Effect
	userBufs    [][]fsm.UserEffect
	depth       int
}

// conn is a connection's session and what the registry knows of it.
type conn struct {
	id   string
	s    fsm.Session
	held []string // the full JIDs it holds
	// user is the machine of the bare JID userJID, the last one the
	// session's effects went to: a user machine, once loaded, is never
	// unloaded, so this saves the session's next effect a lookup.
	userJID string
	user    *fsm.User
}

// work is one event waiting for its machine.
type work struct {
	c    *conn     // a session, or
	u    *fsm.User // a user machine,
	user string    // whose bare JID this is
	ev   fsm.Event
	uev  fsm.UserEvent
}

// New returns a hub with policy p and an empty store.
func New(p *fsm.Policy) *Hub {
	return &Hub{
		Policy:   p,
		Store:    NewStore(),
		Clock:    func() string { return "2026-01-01T00:00:00Z" },
		sessions: map[string]*conn{},
		byFull:   map[string]*conn{},
		bound:    map[string]int{},
		users:    map[string]*fsm.User{},
	}
}

func (h *Hub) nextID(prefix string) string {
	h.ids++
	return fmt.Sprintf("%s%d", prefix, h.ids)
}

// Session returns the session of connection conn.
func (h *Hub) Session(conn string) (fsm.Session, bool) {
	c, ok := h.sessions[conn]
	if !ok {
		return fsm.Session{}, false
	}
	return c.s, true
}

// User returns the machine of bare JID j, if it is loaded.
func (h *Hub) User(j string) (fsm.User, bool) {
	u, ok := h.users[j]
	if !ok {
		return fsm.User{}, false
	}
	return *u, true
}

// Users returns the bare JIDs of the loaded user machines.
func (h *Hub) Users() []string {
	var js []string
	for j := range h.users {
		js = append(js, j)
	}
	return js
}

// Conns returns the connection ids of the sessions.
func (h *Hub) Conns() []string {
	var cs []string
	for c := range h.sessions {
		cs = append(cs, c)
	}
	return cs
}

// Forget drops the session of connection conn from the registry if it is
// closed, and reports whether it did. A closed session answers nothing
// (S-4) and holds no full JID, so forgetting it changes no answer: an event
// sent to it afterwards is dropped as one to an unknown connection. A
// long-running caller that opens many connections forgets the closed ones
// so that the registry holds the live ones only.
func (h *Hub) Forget(conn string) bool {
	c, ok := h.sessions[conn]
	if !ok || c.s.Phase != fsm.Closed {
		return false
	}
	delete(h.sessions, conn)
	return true
}

// Connect opens connection conn and runs until the hub is idle.
func (h *Hub) Connect(id string) {
	h.sessions[id] = &conn{id: id, s: fsm.New(h.Policy)}
	h.Send(id, fsm.Event{Kind: fsm.EvConnect, Conn: id, ID: h.nextID("stream")})
}

// Send feeds ev to the session of conn (a fresh stream id is added to a
// stream header) and runs until the hub is idle.
func (h *Hub) Send(conn string, ev fsm.Event) {
	if ev.Kind == fsm.EvStreamOpen && ev.ID == "" {
		ev.ID = h.nextID("stream")
	}
	if c, ok := h.sessions[conn]; ok {
		h.queue = append(h.queue, work{c: c, ev: ev})
	}
	h.Run()
}

// Run does queued work until there is none.
func (h *Hub) Run() {
	// Work queued while running is appended and reached by the same loop;
	// the queue keeps its capacity for the next run.
	for i := 0; i < len(h.queue); i++ {
		w := h.queue[i]
		h.queue[i] = work{} // let the elements go
		if w.c != nil {
			h.stepSession(w.c, w.ev)
		} else {
			h.stepUser(w.user, w.u, w.uev)
		}
	}
	h.queue = h.queue[:0]
}

// stepSession steps a session and carries out its effects; effects that ask
// a question are answered at once, before anything else reaches the session.
func (h *Hub) stepSession(c *conn, ev fsm.Event) {
	d := h.enter()
	defer h.leave()
	effects := fsm.StepTo(&c.s, ev, h.sessionBufs[d][:0])
	h.sessionBufs[d] = effects
	if h.Trace != nil {
		h.Trace("conn "+c.id, ev.String(), render(effects))
	}
	var buf [2]fsm.Event
	answers := buf[:0]
	for _, e := range effects {
		if a, ok := h.sessionEffect(c, e); ok {
			answers = append(answers, a)
		}
	}
	for _, a := range answers {
		h.stepSession(c, a)
	}
}

// enter takes the effect buffers of one more level of nesting.
func (h *Hub) enter() int {
	d := h.depth
	h.depth++
	if d == len(h.sessionBufs) {
		h.sessionBufs = append(h.sessionBufs, make([]fsm.Effect, 0, 8))
		h.userBufs = append(h.userBufs, make([]fsm.UserEffect, 0, 8))
	}
	return d
}

// leave gives them back.
func (h *Hub) leave() { h.depth-- }

func render[E fmt.Stringer](effects []E) []string {
	out := make([]string, len(effects))
	for i, e := range effects {
		out[i] = e.String()
	}
	return out
}

// sessionEffect carries out one session effect and returns the answer it
// owes the session, if any.
func (h *Hub) sessionEffect(c *conn, e fsm.Effect) (fsm.Event, bool) {
	switch e.Kind {
	case fsm.EffSendHeader, fsm.EffSend, fsm.EffClose, fsm.EffAbort:
		if h.Output != nil {
			h.Output(Output{Conn: c.id, Effect: e})
		}
	case fsm.EffStartTLS:
		return fsm.Event{Kind: fsm.EvTLSDone}, true // in process: the handshake always works
	case fsm.EffSASLStart, fsm.EffSASLStep:
		return h.sasl(e), true
	case fsm.EffReserveResource:
		return h.reserve(c, e), true
	case fsm.EffReleaseResource:
		h.release(c, e)
	case fsm.EffLoadRoster:
		bare := e.Username + "@" + c.s.Host
		if h.RosterFails != nil && h.RosterFails(bare) {
			return fsm.Event{Kind: fsm.EvRosterFailed}, true
		}
		h.loadUser(bare)
		return fsm.Event{Kind: fsm.EvRosterLoaded}, true
	case fsm.EffBound:
		h.fromSession(c, fsm.UserEvent{Kind: fsm.UEvBound, From: e.From})
	case fsm.EffRoute:
		h.fromSession(c, fsm.UserEvent{Kind: fsm.UEvOutbound, From: e.From, To: e.To, Elem: e.Elem})
	case fsm.EffBroadcast:
		h.fromSession(c, fsm.UserEvent{Kind: fsm.UEvBroadcast, From: e.From, Elem: e.Elem,
			Initial: e.Initial, Directed: e.Directed})
	}
	return fsm.Event{}, false
}

// sasl runs PLAIN against the store: the only mechanism in process.
// The credentials come in the initial response or, when there was none,
// in the response to an empty challenge (RFC 4616, RFC 6120 §6.4.3).
func (h *Hub) sasl(e fsm.Effect) fsm.Event {
	switch {
	case e.Kind == fsm.EffSASLStart && e.Mechanism != "PLAIN":
		return fsm.Event{Kind: fsm.EvSASLFailure, Condition: "invalid-mechanism"}
	case e.Kind == fsm.EffSASLStart && e.Data == nil:
		return fsm.Event{Kind: fsm.EvSASLChallenge, Data: []byte{}}
	}
	parts := strings.Split(string(e.Data), "\x00")
	if len(parts) != 3 || !h.Store.CheckPassword(parts[1], parts[2]) {
		return fsm.Event{Kind: fsm.EvSASLFailure, Condition: "not-authorized"}
	}
	return fsm.Event{Kind: fsm.EvSASLSuccess, Username: parts[1]}
}

// reserve is the resource registry.
func (h *Hub) reserve(c *conn, e fsm.Effect) fsm.Event {
	resource := e.Resource
	if resource == "" {
		resource = h.nextID("r")
	}
	bareJID := e.Username + "@" + c.s.Host
	full := bareJID + "/" + resource
	if holder, taken := h.byFull[full]; taken && holder != c {
		if !e.Replace {
			return fsm.Event{Kind: fsm.EvResourceConflict}
		}
		h.stepSession(holder, fsm.Event{Kind: fsm.EvReplaced})
	}
	if _, taken := h.byFull[full]; !taken {
		h.bound[bareJID]++
	}
	h.byFull[full] = c
	c.held = append(c.held, full)
	// S-99: the session decides on the count of the user's resources.
	return fsm.Event{Kind: fsm.EvResourceGranted, Resource: resource, Resources: h.bound[bareJID]}
}

// release frees a resource and tells the user machine, with the implicit
// unavailable presence the session left.
func (h *Hub) release(c *conn, e fsm.Effect) {
	held := c.held[:0:0]
	for _, full := range c.held {
		if strings.HasPrefix(full, e.Username+"@") && strings.HasSuffix(full, "/"+e.Resource) {
			h.unbind(full)
			continue
		}
		held = append(held, full)
	}
	c.held = held
	if e.From != "" {
		h.fromSession(c, fsm.UserEvent{Kind: fsm.UEvUnbound, From: e.From, Elem: e.Elem, Directed: e.Directed})
	}
}

// unbind forgets the session bound to full JID full. A full JID the hub
// binds is the bare JID of an account (whose localpart, checked against
// the store, and domain, one of the policy's hosts, hold no '/') and a
// resource, so its bare JID is what comes before the first '/'.
func (h *Hub) unbind(full string) {
	if _, ok := h.byFull[full]; !ok {
		return
	}
	delete(h.byFull, full)
	b := bare(full)
	if h.bound[b]--; h.bound[b] == 0 {
		delete(h.bound, b)
	}
}

// toUser queues an event for the user machine of j's bare JID.
func (h *Hub) toUser(j string, ev fsm.UserEvent) {
	b := bare(j)
	h.queue = append(h.queue, work{u: h.loadUser(b), user: b, uev: ev})
}

// fromSession queues an event of session c for the user machine of the
// bare JID of ev.From, as toUser does.
func (h *Hub) fromSession(c *conn, ev fsm.UserEvent) {
	b := bare(ev.From)
	if c.user == nil || c.userJID != b {
		c.userJID, c.user = b, h.loadUser(b)
	}
	h.queue = append(h.queue, work{u: c.user, user: c.userJID, uev: ev})
}

// loadUser makes sure the machine of bare JID j is loaded from the store.
// Loading a machine when its first event is queued rather than stepped
// loads the same roster: nothing but the machine itself changes its
// stored roster, and the hub runs one step at a time.
func (h *Hub) loadUser(j string) *fsm.User {
	if u, ok := h.users[j]; ok {
		return u
	}
	local, dom, _ := strings.Cut(j, "@")
	exists := slices.Contains(h.Policy.Hosts, dom) && h.Store.Exists(local)
	u := fsm.NewUser(h.Policy, j, exists, h.Store.Roster(j), h.Store.Pending(j))
	h.users[j] = &u
	return &u
}

// stepUser steps the user machine u of bare JID j and carries out its
// effects.
func (h *Hub) stepUser(j string, u *fsm.User, ev fsm.UserEvent) {
	d := h.enter()
	defer h.leave()
	var effects []fsm.UserEffect
	if h.WritesFail == nil || !h.WritesFail(j) {
		effects = fsm.StepUserTo(u, ev, h.userBufs[d][:0])
	} else {
		before := *u
		*u, effects = fsm.StepUserAppend(before, ev, h.userBufs[d][:0])
		if slices.ContainsFunc(effects, isWrite) {
			// I-56: the store refused the step's writes; nothing of it happens.
			if h.Trace != nil {
				h.Trace("user "+j, ev.String(), append(render(effects), "(the store refuses the writes)"))
			}
			ev = ev.StoreFailed()
			*u, effects = fsm.StepUserAppend(before, ev, effects[:0])
		}
	}
	h.userBufs[d] = effects
	if h.Trace != nil {
		h.Trace("user "+j, ev.String(), render(effects))
	}
	h.userEffects(j, u, effects)
}

// userEffects carries out the effects of user machine u, of bare JID j.
// A delivery is handed over when it is queued for a bound session (the
// hub's output has no cap); UEffDeleteOffline deletes no more than the
// deliveries before it handed over until the first that was not.
func (h *Hub) userEffects(j string, u *fsm.User, effects []fsm.UserEffect) {
	handed, failed := 0, false
	for _, e := range effects {
		switch e.Kind {
		case fsm.UEffDeliver:
			c, ok := h.byFull[e.Target]
			if !ok {
				failed = true
				continue
			}
			h.queue = append(h.queue, work{c: c, ev: fsm.Event{Kind: fsm.EvRouted, Elem: e.Elem, From: e.From, To: e.To}})
			if !failed {
				handed++
			}
		case fsm.UEffRoute:
			if !strings.Contains(bare(e.To), "@") {
				h.userEffects(j, u, fsm.AnswerServer(u.Policy, domain(e.To), e.From, e.Elem))
				continue
			}
			h.toUser(e.To, fsm.UserEvent{Kind: fsm.UEvInbound, From: e.From, To: e.To, Elem: e.Elem, Directed: e.Directed})
		case fsm.UEffSaveItem:
			h.Store.SaveItem(j, e.Item, e.Version)
		case fsm.UEffRemoveItem:
			h.Store.RemoveItem(j, e.Item.JID, e.Version)
		case fsm.UEffSavePending:
			h.Store.SavePending(j, fsm.PendingRequest{From: e.From, Elem: e.Elem})
		case fsm.UEffDeletePending:
			h.Store.DeletePending(j, e.From)
		case fsm.UEffStoreOffline:
			el := e.Elem.Copy()
			setAttr(el, "from", e.From)
			setAttr(el, "to", e.To)
			h.Store.StoreOffline(j, fsm.StoredMessage{Elem: el, Stamp: h.Clock()})
		case fsm.UEffLoadOffline:
			msgs := h.Store.Offline(j)
			h.stepUserNow(j, u, fsm.UserEvent{Kind: fsm.UEvOfflineLoaded, To: e.To, Offline: msgs})
		case fsm.UEffDeleteOffline:
			h.Store.DeleteOffline(j, min(e.Count, handed))
		}
	}
}

func isWrite(e fsm.UserEffect) bool { return e.Kind.IsWrite() }

// stepUserNow answers a user machine's question at once.
func (h *Hub) stepUserNow(j string, u *fsm.User, ev fsm.UserEvent) { h.stepUser(j, u, ev) }

func setAttr(el *etree.Element, key, value string) {
	if value == "" {
		return
	}
	el.RemoveAttr(key)
	el.CreateAttr(key, value)
}

func bare(j string) string {
	b, _, _ := strings.Cut(j, "/")
	return b
}

func domain(j string) string {
	b := bare(j)
	if _, d, ok := strings.Cut(b, "@"); ok {
		return d
	}
	return b
}

// PlainAuth is the base64 SASL PLAIN initial response for user and password.
func PlainAuth(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
}
