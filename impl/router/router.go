package router

import (
	"crypto/rand"
	"encoding/base32"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/store"
)

// Options configure a Router. The zero value is the default.
type Options struct {
	// Clock returns the time stamped on stored offline messages (XEP-0082
	// date-time). Nil means the current time in UTC.
	Clock func() string
	// NewResource returns a fresh random resource for a client that asks
	// the server to generate one, and a fresh stream id. The resource
	// must be a prepared resourcepart (jid.PrepResource returns it
	// unchanged): the session refuses to bind any other (S-58). Nil means
	// 16 characters of lower-case base32 from crypto/rand. It is called
	// from many goroutines at once.
	NewResource func() string
	// IdleUsers is the number of user machines without a connected
	// resource kept in memory, the most recently stepped ones, so that an
	// offline user who gets stanzas (a contact's presence, messages) is not
	// loaded from the store for each. Zero means 1024; a negative number
	// keeps none: a machine is dropped at the end of any step that leaves
	// it without a resource.
	IdleUsers int
	// Shards is the number of shards of each of the router's maps (users,
	// resources, connections), rounded up to a power of two. Zero or less
	// means 64.
	Shards int
	// Observe, when set, is called after every step of every session with
	// the connection's id, the event as the session was stepped with it
	// (ids filled in) and the effects the step produced, in order: for one
	// session the calls come one at a time, in the order of its steps. It
	// is called with the session's lock held (and often a user machine's):
	// it must not call the Router or a Conn, nor keep the effects or the
	// elements. impl/record writes session logs with it.
	Observe func(conn string, ev fsm.Event, effects []fsm.Effect)
	// ObserveUserLoad and ObserveUser, when set, are the same for the user
	// machines: ObserveUserLoad is called with a user machine as it is
	// loaded from the store (again after each eviction), ObserveUser after
	// every step the router keeps, with the event the machine was stepped
	// with (UEvStoreFailed, not the step whose writes the store refused)
	// and its effects. They are called with the user's lock held, one at a
	// time for each user, in order.
	ObserveUserLoad func(user string, u fsm.User)
	ObserveUser     func(user string, ev fsm.UserEvent, effects []fsm.UserEffect)
}

// Router carries events and effects between the sessions of many
// connections and the user machines, concurrently; see the package
// documentation for how it locks.
type Router struct {
	policy      *fsm.Policy
	store       store.Store
	clock       func() string
	newResource func() string
	observe     func(conn string, ev fsm.Event, effects []fsm.Effect)
	observeLoad func(user string, u fsm.User)
	observeUser func(user string, ev fsm.UserEvent, effects []fsm.UserEffect)

	conns *shardedMap[*Conn] // attached connections, by id
	reg   *registry          // the resource registry: full JID → holder, counts (S-99)
	users *shardedMap[*cell] // user machines, by bare JID
	idle  *idleUsers         // those of users kept without a resource

	runs sync.Pool // *run

	offlineDropped atomic.Uint64
	storeErrors    atomic.Uint64
	undeliverable  atomic.Uint64
}

// New returns a router for machines with policy p (nil means
// fsm.DefaultPolicy) that keeps its data in st.
func New(p *fsm.Policy, st store.Store, opts Options) *Router {
	if p == nil {
		p = &fsm.DefaultPolicy
	}
	shards := opts.Shards
	if shards <= 0 {
		shards = 64
	}
	idleUsers := opts.IdleUsers
	if idleUsers == 0 {
		idleUsers = 1024
	}
	r := &Router{
		policy:      p,
		store:       st,
		clock:       opts.Clock,
		newResource: opts.NewResource,
		observe:     opts.Observe,
		observeLoad: opts.ObserveUserLoad,
		observeUser: opts.ObserveUser,
		conns:       newShardedMap[*Conn](shards),
		reg:         newRegistry(shards),
		users:       newShardedMap[*cell](shards),
		idle:        newIdleUsers(idleUsers),
	}
	if r.clock == nil {
		r.clock = func() string { return time.Now().UTC().Format("2006-01-02T15:04:05Z") }
	}
	if r.newResource == nil {
		r.newResource = randomID
	}
	r.runs.New = func() any { return &run{r: r} }
	return r
}

var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// randomID returns 16 characters of base32 from 80 random bits.
func randomID() string {
	var b [10]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return lowerBase32.EncodeToString(b[:])
}

// Attach adds a connection with id id (unique among the attached ones; a
// duplicate panics) whose writes go to out, and returns it. The caller
// then feeds it EvConnect with Step. The connection is detached when its
// session closes.
//
// out receives, in order and never concurrently for one connection, the
// effects that write to the client (EffSendHeader, EffSend, EffClose,
// EffAbort) of every step of the session, and, from steps the connection
// did not make itself (a routed stanza, EvReplaced, EvShutdown), any
// other effect the router does not carry out (EffStopTimer after such a
// step closed the session). out is called with the session's lock held,
// and often with a user machine's lock held too: it must not block (append
// to a capped buffer; see impl/README.md) and must not call the Router or
// a Conn (Conn.Lost excepted: it only sets a flag).
//
// out reports false when a write (EffSendHeader or EffSend) does not fit
// in the connection's output buffer and was dropped. The router then
// steps the session with EvOutputOverflow at once, under the same lock,
// so that nothing is written in between, and gives out no other write of
// the step that overflowed (its EffClose or EffAbort still): out must
// take the writes of that answering step (its stream error) whatever its
// cap.
func (r *Router) Attach(id string, out func(fsm.Effect) bool) *Conn {
	c := &Conn{r: r, id: id, out: out, s: fsm.New(r.policy)}
	if !r.conns.putIfAbsent(id, c) {
		panic("router: connection id " + id + " is already attached")
	}
	return c
}

// Session returns the session of the attached connection id.
func (r *Router) Session(id string) (fsm.Session, bool) {
	c, ok := r.conns.get(id)
	if !ok {
		return fsm.Session{}, false
	}
	return c.Session(), true
}

// User returns the machine of bare JID j, if it is loaded.
func (r *Router) User(j string) (fsm.User, bool) {
	cl, ok := r.users.get(j)
	if !ok {
		return fsm.User{}, false
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.u, cl.loaded
}

// Users returns the bare JIDs of the loaded user machines, sorted.
func (r *Router) Users() []string {
	keys, cells := r.users.snapshot()
	var out []string
	for i, cl := range cells {
		cl.mu.Lock()
		if cl.loaded {
			out = append(out, keys[i])
		}
		cl.mu.Unlock()
	}
	sort.Strings(out)
	return out
}

// Stats are the router's counters and sizes.
type Stats struct {
	// Conns is the number of attached connections, Resources the number of
	// full JIDs in the resource registry, Users the number of user machines
	// in memory (loaded or being loaded), Idle how many of those the router
	// keeps without a connected resource (Options.IdleUsers).
	Conns, Resources, Users, Idle int
	// Held is the sum of the users' resource counts the registry reports
	// with its grants (S-99), Granting how many of them are grants whose
	// session has not yet stepped them. With no step in progress Held is
	// Resources and Granting zero.
	Held, Granting int
	// OfflineDropped counts messages the store refused to keep for a user
	// over its offline quota (store.ErrQuotaExceeded): they are bounced.
	OfflineDropped uint64
	// StoreErrors counts other failed store calls; see the package
	// documentation for what each failure does.
	StoreErrors uint64
	// Undeliverable counts UEffDeliver not handed over: to a full JID that
	// no connection holds any more, or to a session that was closed or
	// whose output refused the stanza (both closed between the user's step
	// and the delivery, or by it: S-98).
	Undeliverable uint64
}

// Stats returns the router's counters.
func (r *Router) Stats() Stats {
	resources, held, granting := r.reg.sizes()
	return Stats{
		Conns:          r.conns.len(),
		Resources:      resources,
		Held:           held,
		Granting:       granting,
		Users:          r.users.len(),
		Idle:           r.idle.len(),
		OfflineDropped: r.offlineDropped.Load(),
		StoreErrors:    r.storeErrors.Load(),
		Undeliverable:  r.undeliverable.Load(),
	}
}

// Shutdown steps every attached session with EvShutdown and carries out
// what follows (stream errors written, resources released, unavailable
// presence sent). It does not stop new connections from being attached:
// stop accepting first.
func (r *Router) Shutdown() {
	_, conns := r.conns.snapshot()
	w := r.getRun()
	for _, c := range conns {
		w.stepForeign(c, fsm.Event{Kind: fsm.EvShutdown})
		w.drain()
	}
	r.putRun(w)
}
