package router

import (
	"container/list"
	"sync"
)

// idleUsers is the bounded set of user machines kept in memory with no
// connected resource, least recently stepped first out: a user stepped
// again soon (a contact's presence fanned out to offline users, a chat
// partner who logged out) is not read and decoded from the store again,
// and memory stays bounded by the connected users plus max. Its mutex is a
// leaf lock.
type idleUsers struct {
	mu  sync.Mutex
	max int
	l   list.List // of bare JIDs, most recent at the front
	at  map[string]*list.Element
}

func newIdleUsers(max int) *idleUsers {
	return &idleUsers{max: max, at: map[string]*list.Element{}}
}

// touch records bare JID j as just stepped and idle, and returns the least
// recently stepped idle user it no longer keeps, if the set is over max.
func (s *idleUsers) touch(j string) (victim string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.at[j]; ok {
		s.l.MoveToFront(e)
	} else {
		s.at[j] = s.l.PushFront(j)
	}
	if s.l.Len() <= s.max {
		return "", false
	}
	victim = s.l.Remove(s.l.Back()).(string)
	delete(s.at, victim)
	return victim, true
}

// remove forgets bare JID j: it has a resource again.
func (s *idleUsers) remove(j string) {
	s.mu.Lock()
	if e, ok := s.at[j]; ok {
		s.l.Remove(e)
		delete(s.at, j)
	}
	s.mu.Unlock()
}

// has reports whether bare JID j is kept.
func (s *idleUsers) has(j string) bool {
	s.mu.Lock()
	_, ok := s.at[j]
	s.mu.Unlock()
	return ok
}

// len returns the number of idle users kept.
func (s *idleUsers) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.l.Len()
}
