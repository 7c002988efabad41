package router

import (
	"hash/maphash"
	"sync"
)

// counts is the number of resources each user holds in the registry, by
// bare JID, sharded like shardedMap. A shard's mutex is a leaf lock.
type counts struct {
	seed   maphash.Seed
	mask   uint64
	shards []countShard
}

type countShard struct {
	mu sync.Mutex
	m  map[string]int
	_  [40]byte
}

func newCounts(n int) *counts {
	size := 1
	for size < n {
		size <<= 1
	}
	c := &counts{seed: maphash.MakeSeed(), mask: uint64(size - 1), shards: make([]countShard, size)}
	for i := range c.shards {
		c.shards[i].m = map[string]int{}
	}
	return c
}

// add adds d to key's count and returns the new count; a count that
// reaches zero is forgotten.
func (c *counts) add(key string, d int) int {
	s := &c.shards[maphash.String(c.seed, key)&c.mask]
	s.mu.Lock()
	n := s.m[key] + d
	if n <= 0 {
		delete(s.m, key)
	} else {
		s.m[key] = n
	}
	s.mu.Unlock()
	return n
}
