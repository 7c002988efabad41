package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// idleResult is the outcome of the idle workload.
type idleResult struct {
	N            int            `json:"n"`
	Accounts     int            `json:"accounts"`
	Held         int            `json:"held"`
	LoginFailed  map[string]int `json:"login_failed,omitempty"`
	PingFailed   int            `json:"ping_failed"`
	RSSBeforeKiB int64          `json:"rss_before_kib"`
	RSSAfterKiB  int64          `json:"rss_after_kib"`
	KiBPerSess   float64        `json:"kib_per_session"`
	LoginSeconds float64        `json:"login_seconds"`
}

// runIdle logs in n sessions (available: each sent its initial presence)
// over accounts accounts (several resources each when fewer than n), lets
// the server settle, reads its resident memory, then pings every session
// to check it is still held.
func runIdle(ctx context.Context, t *target, n, accounts, conc int, settle time.Duration) idleResult {
	res := idleResult{N: n, Accounts: accounts}
	var err error
	if len(t.pids) > 0 {
		if res.RSSBeforeKiB, err = procRSS(t.pids); err != nil {
			res.RSSBeforeKiB = -1
		}
	}
	start := time.Now()
	cs, failed := t.connectMany(ctx, n, accounts, conc, "idle")
	defer closeAll(cs)
	res.LoginSeconds = time.Since(start).Seconds()
	if len(failed) > 0 {
		res.LoginFailed = failed
	}
	select {
	case <-time.After(settle):
	case <-ctx.Done():
	}
	if len(t.pids) > 0 {
		if res.RSSAfterKiB, err = procRSS(t.pids); err != nil {
			res.RSSAfterKiB = -1
		}
	}
	var pingFailed, held atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, conc)
	for i, c := range cs {
		if c == nil {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := c.ping(i); err != nil {
				pingFailed.Add(1)
				return
			}
			held.Add(1)
		})
	}
	wg.Wait()
	res.PingFailed = int(pingFailed.Load())
	res.Held = int(held.Load())
	if res.RSSBeforeKiB > 0 && res.RSSAfterKiB > 0 && res.Held > 0 {
		res.KiBPerSess = float64(res.RSSAfterKiB-res.RSSBeforeKiB) / float64(n-countFailed(failed))
	}
	return res
}
