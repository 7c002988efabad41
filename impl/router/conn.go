package router

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/xmppfsm/xmppfsm/fsm"
)

// Conn is one connection's session inside the router.
type Conn struct {
	r   *Router
	id  string
	out func(fsm.Effect) bool

	// order is held by whoever steps the session for its own sake (the
	// connection's Step, or a step that ends it: EvReplaced, EvShutdown)
	// from before the step until the user events the step produced have
	// been given to the user machine, so that the user machine sees a
	// session's events in the order of its steps. See doc.go.
	order sync.Mutex

	// mu guards the fields below; it is held while fsm.Step runs and its
	// writes go to out, never while anything else is carried out.
	mu       sync.Mutex
	s        fsm.Session
	held     []string // full JIDs the registry maps to this connection
	detached bool

	// lost is set by Lost: output can no longer reach the client.
	lost atomic.Bool
}

// Lost tells the router that the connection's output can no longer reach
// the client (a write to it failed). From then on no stanza given to the
// session counts as handed over (fsm.UEffDeleteOffline keeps it stored),
// although the session ends only when the adapter steps it with
// EvConnLost. Lost takes no lock: the adapter may call it from any
// goroutine, while a step is running too.
func (c *Conn) Lost() { c.lost.Store(true) }

// userJob is an event for the user machine of a bare JID.
type userJob struct {
	user string
	ev   fsm.UserEvent
}

// ID returns the connection's id.
func (c *Conn) ID() string { return c.id }

// Session returns a copy of the connection's session.
func (c *Conn) Session() fsm.Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s
}

// Step feeds a client event to the session (the connection's reader
// goroutine calls it, one event at a time) and carries out what follows:
// writes go to out; resource reservations and roster loads are answered
// and the answers stepped; broadcasts, routes and the rest go to the user
// machines, and on to other users and their sessions. It returns, in
// order, the effects the connection itself must carry out: EffStartTLS,
// EffResetStream, EffSASLStart and EffSASLStep (answer them with another
// Step), EffStartTimer and EffStopTimer.
//
// When Step returns, everything it caused has been carried out, except
// what another goroutine is carrying out for this session at the same
// moment (only possible when another connection replaces this one, or on
// Shutdown).
//
// An EvConnect without Conn or ID, and an EvStreamOpen without ID, get
// the connection's id and a fresh stream id.
func (c *Conn) Step(ev fsm.Event) []fsm.Effect {
	w := c.r.getRun()
	var ret []fsm.Effect
	w.stepOwn(c, ev, &ret)
	w.drain()
	c.r.putRun(w)
	return ret
}

// stepConn steps c's session with ev under c.mu: the writes go to out;
// releases are done in the registry; the events for the user machine are
// returned in jobs (appended to jobs), and the effects that need an answer
// or belong to the connection in rest. When own is false (the connection
// did not make the step) the connection's effects go to out instead and
// rest is nil. A session that closes is detached and loses its resources.
// taken reports whether the session was open when stepped, out refused
// none of the step's writes and the connection was not Lost: for
// EvRouted, that the stanza was handed over (fsm.UEffDeleteOffline).
func (c *Conn) stepConn(ev fsm.Event, own bool, jobs []userJob) (_ []userJob, rest []fsm.Effect, taken bool) {
	r := c.r
	switch ev.Kind {
	case fsm.EvConnect:
		if ev.Conn == "" {
			ev.Conn = c.id
		}
		if ev.ID == "" {
			ev.ID = r.newResource()
		}
	case fsm.EvStreamOpen:
		if ev.ID == "" {
			ev.ID = r.newResource()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	open := c.s.Phase != fsm.Closed
	buf := effectBufs.Get().(*[]fsm.Effect)
	defer putEffectBuf(buf)
	next, effects := fsm.StepAppend(c.s, ev, (*buf)[:0])
	*buf = effects
	c.s = next
	if r.observe != nil {
		r.observe(c.id, ev, effects)
	}
	var overflow bool
	jobs, rest, overflow = c.effectsLocked(effects, own, jobs, rest)
	if overflow && c.s.Phase != fsm.Closed {
		// S-98: the session answers the write the connection could not
		// take, before anything else can be written.
		ev = fsm.Event{Kind: fsm.EvOutputOverflow}
		clear(effects)
		next, effects = fsm.StepAppend(c.s, ev, effects[:0])
		*buf = effects
		c.s = next
		if r.observe != nil {
			r.observe(c.id, ev, effects)
		}
		jobs, rest, _ = c.effectsLocked(effects, own, jobs, rest)
	}
	if c.s.Phase == fsm.Closed && !c.detached {
		c.detached = true
		for _, full := range c.held {
			r.unregister(full, c)
		}
		c.held = nil
		r.conns.deleteIf(c.id, c)
	}
	return jobs, rest, open && !overflow && !c.lost.Load()
}

// effectBufs recycles the effect buffers of session steps: stepConn
// carries a step's effects out (or copies them) before it returns.
var effectBufs = sync.Pool{New: func() any { return new([]fsm.Effect) }}

func putEffectBuf(buf *[]fsm.Effect) {
	clear(*buf) // keep no elements alive in the pool
	*buf = (*buf)[:0]
	effectBufs.Put(buf)
}

// effectsLocked carries out a step's effects under c.mu (see stepConn)
// and reports whether out refused a write; the step's later writes are
// then dropped, but not its EffClose or EffAbort.
func (c *Conn) effectsLocked(effects []fsm.Effect, own bool, jobs []userJob, rest []fsm.Effect) (_ []userJob, _ []fsm.Effect, overflow bool) {
	for _, e := range effects {
		switch e.Kind {
		case fsm.EffSendHeader, fsm.EffSend:
			if !overflow && !c.out(e) {
				overflow = true
			}
		case fsm.EffClose, fsm.EffAbort:
			c.out(e)
		case fsm.EffReleaseResource:
			c.releaseLocked(e.Username, e.Resource)
			if e.From != "" {
				jobs = append(jobs, userJob{bare(e.From), fsm.UserEvent{Kind: fsm.UEvUnbound, From: e.From, Elem: e.Elem, Directed: e.Directed}})
			}
		case fsm.EffBound:
			jobs = append(jobs, userJob{bare(e.From), fsm.UserEvent{Kind: fsm.UEvBound, From: e.From}})
		case fsm.EffRoute:
			jobs = append(jobs, userJob{bare(e.From), fsm.UserEvent{Kind: fsm.UEvOutbound, From: e.From, To: e.To, Elem: e.Elem}})
		case fsm.EffBroadcast:
			jobs = append(jobs, userJob{bare(e.From), fsm.UserEvent{Kind: fsm.UEvBroadcast, From: e.From, Elem: e.Elem,
				Initial: e.Initial, Directed: e.Directed}})
		default:
			if own {
				rest = append(rest, e)
			} else if e.Kind != fsm.EffReserveResource && e.Kind != fsm.EffLoadRoster {
				c.out(e) // a question nobody asked for cannot come from such a step
			}
		}
	}
	return jobs, rest, overflow
}

// releaseLocked frees the full JID of user's resource if c holds it. The
// full JID is compared whole: a resourcepart may contain '/', so a suffix
// would match another resource's full JID too.
func (c *Conn) releaseLocked(user, resource string) {
	target := user + "@" + c.s.Host + "/" + resource
	keep := c.held[:0]
	for _, full := range c.held {
		if full == target {
			c.r.unregister(full, c)
			continue
		}
		keep = append(keep, full)
	}
	clear(c.held[len(keep):])
	c.held = keep
}

// stepOwn makes a step for the connection: under c.order, the step and the
// user events it produced; then the answers, each another stepOwn.
func (w *run) stepOwn(c *Conn, ev fsm.Event, ret *[]fsm.Effect) {
	c.order.Lock()
	jobs, rest, _ := c.stepConn(ev, true, w.jobs[:0])
	for _, j := range jobs {
		w.stepUser(j.user, j.ev)
	}
	clear(jobs)
	w.jobs = jobs[:0]
	c.order.Unlock()
	var answers []answer
	for _, e := range rest {
		switch e.Kind {
		case fsm.EffReserveResource:
			ev, full := w.reserve(c, e)
			answers = append(answers, answer{ev, full})
		case fsm.EffLoadRoster:
			answers = append(answers, answer{ev: w.loadRoster(c, e)})
		default:
			*ret = append(*ret, e)
		}
	}
	for _, a := range answers {
		w.stepOwn(c, a.ev, ret)
		if a.granted != "" {
			// The session has kept the grant or handed it back.
			w.r.reg.settle(a.granted, c)
		}
	}
}

// answer is the answer to one of a step's questions, and the full JID it
// granted (EvResourceGranted), which the registry settles once the session
// has stepped it.
type answer struct {
	ev      fsm.Event
	granted string
}

// stepForeign makes a step that ends c's session for another reason than
// the connection's own (EvReplaced, EvShutdown), with no lock held: like
// stepOwn, it holds c.order until the session's user events are carried
// out.
func (w *run) stepForeign(c *Conn, ev fsm.Event) {
	c.order.Lock()
	jobs, _, _ := c.stepConn(ev, false, nil)
	for _, j := range jobs {
		w.stepUser(j.user, j.ev)
	}
	c.order.Unlock()
}

// reserve answers EffReserveResource from the registry, and returns the
// full JID it granted. Under ConflictReplace the holder is stepped with
// EvReplaced, after the registry maps the full JID to c and with no lock
// held, and its release reaches the user machine before c can bind.
func (w *run) reserve(c *Conn, e fsm.Effect) (fsm.Event, string) {
	r := w.r
	for {
		resource := e.Resource
		if resource == "" {
			resource = r.newResource()
		}
		c.mu.Lock()
		if c.s.Phase != fsm.WaitForResource {
			// Closed meanwhile (replaced, shut down): nothing to hold.
			c.mu.Unlock()
			return fsm.Event{Kind: fsm.EvResourceConflict}, ""
		}
		full := e.Username + "@" + c.s.Host + "/" + resource
		// S-99: the count goes with the grant, taken in the same critical
		// section (the registry's), before any previous holder is
		// stepped; the session decides. A resource taken over is still
		// one.
		prev, ok, n := r.reg.claim(full, c, e.Replace)
		if ok && prev != c {
			c.held = append(c.held, full)
		}
		c.mu.Unlock()
		switch {
		case !ok && e.Resource == "":
			continue // a generated resource already taken: draw another
		case !ok:
			return fsm.Event{Kind: fsm.EvResourceConflict}, ""
		}
		if prev != nil && prev != c {
			w.stepForeign(prev, fsm.Event{Kind: fsm.EvReplaced})
		}
		return fsm.Event{Kind: fsm.EvResourceGranted, Resource: resource, Resources: n}, full
	}
}

// unregister removes full JID full from the registry if c holds it.
func (r *Router) unregister(full string, c *Conn) {
	r.reg.deleteIf(full, c)
}

// loadRoster answers EffLoadRoster: the user machine is loaded.
func (w *run) loadRoster(c *Conn, e fsm.Effect) fsm.Event {
	c.mu.Lock()
	host := c.s.Host
	c.mu.Unlock()
	cl, err := w.r.lockUser(e.Username + "@" + host)
	if err != nil {
		return fsm.Event{Kind: fsm.EvRosterFailed}
	}
	cl.mu.Unlock()
	return fsm.Event{Kind: fsm.EvRosterLoaded}
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
