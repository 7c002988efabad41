package router

import (
	"hash/maphash"
	"sync"
)

// registry is the resource registry: full JID → the connection that holds
// it, with each user's count of full JIDs (S-99). It is sharded by bare
// JID, so that a user's full JIDs and their count share one shard and a
// claim takes its count in the same critical section as the grant. A
// shard's mutex is a leaf lock.
//
// A grant that gives the user one more full JID is pending until its
// session has stepped it (settle): the session may still hand it back as
// one too many. A takeover of a settled full JID (ConflictReplace) adds
// none, so its count leaves the pending grants out: those are either
// handed back or, when kept, counted themselves against what was there
// before them. Without that, a concurrent bind over the limit could make a
// takeover look over the limit too, after the session it replaces was
// already told to go.
type registry struct {
	seed   maphash.Seed
	mask   uint64
	shards []regShard
}

type regShard struct {
	mu    sync.Mutex
	full  map[string]regEntry // by full JID
	users map[string]regCount // by bare JID; absent when zero
	_     [40]byte            // keep neighbouring shards' mutexes off one cache line
}

// regEntry is one full JID's holder; pending while the holder's session has
// not yet stepped the grant that added it, with the count that grant
// reported (n), which a takeover of it reports again.
type regEntry struct {
	c       *Conn
	pending bool
	n       int
}

// regCount is one user's full JIDs in the registry, and how many of them
// are pending.
type regCount struct {
	held, pending int
}

func newRegistry(n int) *registry {
	size := 1
	for size < n {
		size <<= 1
	}
	g := &registry{seed: maphash.MakeSeed(), mask: uint64(size - 1), shards: make([]regShard, size)}
	for i := range g.shards {
		g.shards[i].full = map[string]regEntry{}
		g.shards[i].users = map[string]regCount{}
	}
	return g
}

func (g *registry) shard(user string) *regShard {
	return &g.shards[maphash.String(g.seed, user)&g.mask]
}

// get returns the holder of full JID full.
func (g *registry) get(full string) (*Conn, bool) {
	s := g.shard(bare(full))
	s.mu.Lock()
	e, ok := s.full[full]
	s.mu.Unlock()
	return e.c, ok
}

// claim grants full JID full to c if nobody holds it, c does, or take is
// true (ConflictReplace). It returns the previous holder (nil if none),
// whether c holds full now, and the count the grant reports (S-99): the
// user's full JIDs, this one included; for a takeover of a settled full
// JID, those less the pending grants of others; for a takeover of a
// pending one, what that grant reported.
func (g *registry) claim(full string, c *Conn, take bool) (prev *Conn, ok bool, n int) {
	user := bare(full)
	s := g.shard(user)
	s.mu.Lock()
	defer s.mu.Unlock()
	cnt := s.users[user]
	e, had := s.full[full]
	switch {
	case !had:
		cnt.held++
		cnt.pending++
		s.users[user] = cnt
		s.full[full] = regEntry{c: c, pending: true, n: cnt.held}
		return nil, true, cnt.held
	case e.c == c:
		return c, true, cnt.held
	case !take:
		return e.c, false, 0
	case e.pending:
		// A grant not settled yet: the taker inherits it, pending, with
		// the count it reported: later grants of others, which may be
		// over the limit, do not make the takeover look over it too.
		s.full[full] = regEntry{c: c, pending: true, n: e.n}
		return e.c, true, e.n
	default:
		s.full[full] = regEntry{c: c}
		return e.c, true, cnt.held - cnt.pending
	}
}

// settle marks c's grant of full JID full as stepped by c's session: from
// then on it counts for takeovers. Nothing happens if c does not hold it.
func (g *registry) settle(full string, c *Conn) {
	user := bare(full)
	s := g.shard(user)
	s.mu.Lock()
	if e, ok := s.full[full]; ok && e.c == c && e.pending {
		s.full[full] = regEntry{c: c}
		cnt := s.users[user]
		cnt.pending--
		s.users[user] = cnt
	}
	s.mu.Unlock()
}

// deleteIf removes full JID full if c holds it, and reports whether it did.
func (g *registry) deleteIf(full string, c *Conn) bool {
	user := bare(full)
	s := g.shard(user)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.full[full]
	if !ok || e.c != c {
		return false
	}
	delete(s.full, full)
	cnt := s.users[user]
	cnt.held--
	if e.pending {
		cnt.pending--
	}
	if cnt.held <= 0 {
		delete(s.users, user)
	} else {
		s.users[user] = cnt
	}
	return true
}

// sizes returns the number of full JIDs, the sum of the users' counts and
// of their pending grants (not a snapshot of one instant when the registry
// is changing).
func (g *registry) sizes() (full, held, pending int) {
	for i := range g.shards {
		s := &g.shards[i]
		s.mu.Lock()
		full += len(s.full)
		for _, cnt := range s.users {
			held += cnt.held
			pending += cnt.pending
		}
		s.mu.Unlock()
	}
	return full, held, pending
}
