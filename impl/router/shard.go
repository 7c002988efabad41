package router

import (
	"hash/maphash"
	"sync"
)

// shardedMap is a map from string keys to V split into shards, each with
// its own mutex. A shard's mutex is a leaf lock: it is held only for the
// map operation itself and nothing is called while it is held.
type shardedMap[V comparable] struct {
	seed   maphash.Seed
	mask   uint64
	shards []shard[V]
}

type shard[V comparable] struct {
	mu sync.Mutex
	m  map[string]V
	_  [40]byte // keep neighbouring shards' mutexes off one cache line
}

func newShardedMap[V comparable](n int) *shardedMap[V] {
	size := 1
	for size < n {
		size <<= 1
	}
	sm := &shardedMap[V]{seed: maphash.MakeSeed(), mask: uint64(size - 1), shards: make([]shard[V], size)}
	for i := range sm.shards {
		sm.shards[i].m = map[string]V{}
	}
	return sm
}

func (sm *shardedMap[V]) shard(key string) *shard[V] {
	return &sm.shards[maphash.String(sm.seed, key)&sm.mask]
}

// get returns the value of key.
func (sm *shardedMap[V]) get(key string) (V, bool) {
	s := sm.shard(key)
	s.mu.Lock()
	v, ok := s.m[key]
	s.mu.Unlock()
	return v, ok
}

// getOrCreate returns the value of key, storing mk() first if there is none.
// mk runs under the shard's lock and must call nothing that locks.
func (sm *shardedMap[V]) getOrCreate(key string, mk func() V) V {
	s := sm.shard(key)
	s.mu.Lock()
	v, ok := s.m[key]
	if !ok {
		v = mk()
		s.m[key] = v
	}
	s.mu.Unlock()
	return v
}

// putIfAbsent stores v under key unless key has a value, and reports
// whether it stored it.
func (sm *shardedMap[V]) putIfAbsent(key string, v V) bool {
	s := sm.shard(key)
	s.mu.Lock()
	_, taken := s.m[key]
	if !taken {
		s.m[key] = v
	}
	s.mu.Unlock()
	return !taken
}

// deleteIf deletes key if its value is v, and reports whether it did.
func (sm *shardedMap[V]) deleteIf(key string, v V) bool {
	s := sm.shard(key)
	s.mu.Lock()
	cur, ok := s.m[key]
	ok = ok && cur == v
	if ok {
		delete(s.m, key)
	}
	s.mu.Unlock()
	return ok
}

// len returns the number of keys (not a snapshot of one instant when the
// map is changing).
func (sm *shardedMap[V]) len() int {
	n := 0
	for i := range sm.shards {
		s := &sm.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// snapshot returns the keys and values, shard by shard.
func (sm *shardedMap[V]) snapshot() (keys []string, values []V) {
	for i := range sm.shards {
		s := &sm.shards[i]
		s.mu.Lock()
		for k, v := range s.m {
			keys = append(keys, k)
			values = append(values, v)
		}
		s.mu.Unlock()
	}
	return keys, values
}
