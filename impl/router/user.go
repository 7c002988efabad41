package router

import (
	"errors"
	"slices"
	"sync"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/store"
)

// cell holds one user machine. mu is held while the machine steps and its
// effects are carried out.
type cell struct {
	mu     sync.Mutex
	loaded bool
	// gone is set, under mu, when the cell is dropped from the map: a
	// goroutine that found it before then and locks it after looks again.
	gone bool
	u    fsm.User
}

// lockUser returns the cell of bare JID j locked, with its machine loaded
// from the store on first use (and again after the cell was evicted).
func (r *Router) lockUser(j string) (*cell, error) {
	for {
		cl := r.users.getOrCreate(j, func() *cell { return &cell{} })
		cl.mu.Lock()
		if cl.gone {
			cl.mu.Unlock()
			continue
		}
		if cl.loaded {
			return cl, nil
		}
		u, err := r.loadUser(j)
		if err != nil {
			r.evictLocked(cl, j) // nothing to keep: the next use loads again
			cl.mu.Unlock()
			r.storeErrors.Add(1)
			return nil, err
		}
		cl.u, cl.loaded = u, true
		if r.observeLoad != nil {
			r.observeLoad(j, u)
		}
		return cl, nil
	}
}

// keepIdleLocked is called after a step of the machine in cl, which the
// caller holds. A machine with a connected resource stays in memory; one
// without is kept among the idle ones (Options.IdleUsers) and the least
// recently stepped idle machine beyond their number is returned, for the
// caller to evict once it has released cl (evictIdle); with no idle
// machines kept, it is dropped at once. Everything a machine without a
// resource holds (roster, pending requests, the account's existence) is
// in the store, written before the cell was released, and is loaded again
// on next use.
func (r *Router) keepIdleLocked(cl *cell, j string) (victim string) {
	switch {
	case len(cl.u.Resources) > 0:
		r.idle.remove(j)
	case r.idle.max <= 0:
		r.evictLocked(cl, j)
	default:
		victim, _ = r.idle.touch(j)
	}
	return victim
}

// evictIdle drops the machine of bare JID j, which keepIdleLocked gave up,
// unless it was stepped since and kept again, or has a resource again. It
// must be called with no cell held.
func (r *Router) evictIdle(j string) {
	cl, ok := r.users.get(j)
	if !ok {
		return
	}
	cl.mu.Lock()
	if !cl.gone && cl.loaded && len(cl.u.Resources) == 0 && !r.idle.has(j) {
		r.evictLocked(cl, j)
	}
	cl.mu.Unlock()
}

// evictLocked drops cl, which the caller holds, from the map.
func (r *Router) evictLocked(cl *cell, j string) {
	cl.gone = true
	r.users.deleteIf(j, cl)
}

// loadUser reads the machine of bare JID j from the store.
func (r *Router) loadUser(j string) (fsm.User, error) {
	local := store.LocalOf(j)
	exists := false
	if local != "" && slices.Contains(r.policy.Hosts, domain(j)) {
		_, ok, err := r.store.Account(local)
		if err != nil {
			return fsm.User{}, err
		}
		exists = ok
	}
	roster, err := r.store.Roster(j)
	if err != nil {
		return fsm.User{}, err
	}
	pending, err := r.store.Pending(j)
	if err != nil {
		return fsm.User{}, err
	}
	return fsm.NewUser(r.policy, j, exists, roster, pending), nil
}

// run is one goroutine's work in progress: the local FIFO of events for
// user machines that wait until no user cell is held.
type run struct {
	r    *Router
	q    []userJob
	head int
	jobs []userJob // stepOwn's buffer
	// writes is commit's buffer.
	writes []fsm.UserEffect
}

func (r *Router) getRun() *run { return r.runs.Get().(*run) }

func (r *Router) putRun(w *run) {
	clear(w.q)
	w.q, w.head = w.q[:0], 0
	r.runs.Put(w)
}

// drain carries out the queued user events, in order, until none is left.
func (w *run) drain() {
	for w.head < len(w.q) {
		j := w.q[w.head]
		w.q[w.head] = userJob{}
		w.head++
		w.stepUser(j.user, j.ev)
	}
	w.q, w.head = w.q[:0], 0
}

// stepUser steps the user machine of bare JID j with ev and carries out
// its effects while holding its cell. A user that cannot be loaded loses
// the event (counted in Stats.StoreErrors).
func (w *run) stepUser(j string, ev fsm.UserEvent) {
	cl, err := w.r.lockUser(j)
	if err != nil {
		return
	}
	w.stepLocked(cl, j, ev)
	victim := w.r.keepIdleLocked(cl, j)
	cl.mu.Unlock()
	if victim != "" {
		w.r.evictIdle(victim)
	}
}

// stepLocked steps the machine in cl, which the caller holds. The step's
// writes are committed first, at once; when the store refuses them nothing
// of the step happens and the machine, as it was, is told (I-56).
func (w *run) stepLocked(cl *cell, j string, ev fsm.UserEvent) {
	buf := userEffectBufs.Get().(*[]fsm.UserEffect)
	next, effects := fsm.StepUserAppend(cl.u, ev, (*buf)[:0])
	if err := w.commit(j, effects); err != nil {
		w.storeErr(err)
		ev = ev.StoreFailed()
		clear(effects)
		next, effects = fsm.StepUserAppend(cl.u, ev, effects[:0])
	}
	cl.u = next
	if w.r.observeUser != nil {
		w.r.observeUser(j, ev, effects)
	}
	w.userEffects(cl, j, effects)
	clear(effects) // keep no elements alive in the pool
	*buf = effects[:0]
	userEffectBufs.Put(buf)
}

// userEffectBufs recycles the effect buffers of user steps: a step's
// effects are carried out before stepLocked returns, and stepLocked nests
// (a refused offline message), so each call takes its own.
var userEffectBufs = sync.Pool{New: func() any { return new([]fsm.UserEffect) }}

// commit hands the writes among effects to the store in one Commit.
func (w *run) commit(j string, effects []fsm.UserEffect) error {
	writes := w.writes[:0]
	for _, e := range effects {
		if e.Kind.IsWrite() {
			writes = append(writes, e)
		}
	}
	w.writes = writes
	if len(writes) == 0 {
		return nil
	}
	defer clear(w.writes) // keep no elements alive in the pool
	return w.r.store.Commit(j, writes)
}

// userEffects carries out the effects of user j, whose cell cl the caller
// holds, but for the writes stepLocked committed: offline storage and
// deliveries to j's sessions at once, in order;
// routes to users (j included) queued for after the cell is released.
func (w *run) userEffects(cl *cell, j string, effects []fsm.UserEffect) {
	r := w.r
	// handed counts the deliveries handed over until the first that was
	// not (failed): what UEffDeleteOffline may delete.
	handed, failed := 0, false
	for _, e := range effects {
		switch e.Kind {
		case fsm.UEffDeliver:
			c, ok := r.reg.get(e.Target)
			if !ok {
				r.undeliverable.Add(1)
				failed = true
				continue
			}
			// user → session: the only nesting. What the session's step
			// asks of user machines waits in the FIFO.
			var taken bool
			w.q, _, taken = c.stepConn(fsm.Event{Kind: fsm.EvRouted, Elem: e.Elem, From: e.From, To: e.To}, false, w.q)
			if !taken {
				r.undeliverable.Add(1)
				failed = true
			} else if !failed {
				handed++
			}
		case fsm.UEffRoute:
			if !hasLocal(e.To) {
				w.userEffects(cl, j, fsm.AnswerServer(cl.u.Policy, domain(e.To), e.From, e.Elem))
				continue
			}
			w.q = append(w.q, userJob{bare(e.To), fsm.UserEvent{Kind: fsm.UEvInbound, From: e.From, To: e.To, Elem: e.Elem, Directed: e.Directed}})
		case fsm.UEffSaveItem, fsm.UEffRemoveItem, fsm.UEffSavePending, fsm.UEffDeletePending:
			// committed by stepLocked before the step's other effects
		case fsm.UEffStoreOffline:
			el := e.Elem.Copy()
			setAttr(el, "from", e.From)
			setAttr(el, "to", e.To)
			err := r.store.StoreOffline(j, fsm.StoredMessage{Elem: el, Stamp: r.clock()})
			if err != nil {
				if errors.Is(err, store.ErrQuotaExceeded) {
					r.offlineDropped.Add(1)
				} else {
					w.storeErr(err)
				}
				// I-27: the user machine bounces what the store refused.
				w.stepLocked(cl, j, fsm.UserEvent{Kind: fsm.UEvOfflineRefused, From: e.From, To: e.To, Elem: e.Elem})
			}
		case fsm.UEffLoadOffline:
			msgs, err := r.store.Offline(j)
			if err != nil {
				w.storeErr(err)
				msgs = nil // answered with none: nothing delivered, nothing deleted
			}
			w.stepLocked(cl, j, fsm.UserEvent{Kind: fsm.UEvOfflineLoaded, To: e.To, Offline: msgs})
		case fsm.UEffDeleteOffline:
			// Only what reached a live session (fsm.UEffDeleteOffline): the
			// rest stays for the next flush.
			if n := min(e.Count, handed); n > 0 {
				w.storeErr(r.store.DeleteOffline(j, n))
			}
		}
	}
}

func (w *run) storeErr(err error) {
	if err != nil {
		w.r.storeErrors.Add(1)
	}
}

// hasLocal reports whether JID j has a localpart.
func hasLocal(j string) bool {
	for i := 0; i < len(j) && j[i] != '/'; i++ {
		if j[i] == '@' {
			return true
		}
	}
	return false
}

func setAttr(el *etree.Element, key, value string) {
	if value == "" {
		return
	}
	el.RemoveAttr(key)
	el.CreateAttr(key, value)
}
