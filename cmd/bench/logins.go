package main

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// loginResult is the outcome of the logins workload.
type loginResult struct {
	N           int            `json:"n"`
	Concurrency int            `json:"concurrency"`
	Mechanism   string         `json:"mechanism"`
	OK          int            `json:"ok"`
	Failed      int            `json:"failed"`
	FailedBy    map[string]int `json:"failed_by_step,omitempty"`
	Seconds     float64        `json:"seconds"`
	PerSec      float64        `json:"logins_per_sec"`
	Latency     latencies      `json:"latency"`
	ServerCPUus float64        `json:"server_cpu_us_per_login,omitempty"`
}

// runLogins logs in accounts 0..n-1 at concurrency conc, each a fresh
// connection that closes once its initial presence came back. With a SCRAM
// mechanism an untimed pass first fills the client's key cache.
func runLogins(ctx context.Context, t *target, n, conc int) loginResult {
	if strings.HasPrefix(t.creds.mech, "SCRAM") {
		loginPass(ctx, t, n, conc)
	}
	cpu0 := t.cpu()
	res := loginPass(ctx, t, n, conc)
	if cpu0 >= 0 && res.OK > 0 {
		if cpu1 := t.cpu(); cpu1 >= 0 {
			res.ServerCPUus = float64((cpu1 - cpu0).Microseconds()) / float64(res.OK)
		}
	}
	return res
}

func loginPass(ctx context.Context, t *target, n, conc int) loginResult {
	res := loginResult{N: n, Concurrency: conc, Mechanism: t.creds.mech, FailedBy: map[string]int{}}
	lat := make([]time.Duration, n)
	okAt := make([]bool, n)
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range min(conc, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if ctx.Err() != nil {
					mu.Lock()
					res.FailedBy["deadline"]++
					mu.Unlock()
					continue
				}
				t0 := time.Now()
				c, err := t.connect(i, "bench")
				if err != nil {
					mu.Lock()
					res.FailedBy[failStep(err)]++
					mu.Unlock()
					continue
				}
				lat[i], okAt[i] = time.Since(t0), true
				c.close()
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	var ok []time.Duration
	for i, d := range lat {
		if okAt[i] {
			ok = append(ok, d)
		}
	}
	res.OK = len(ok)
	res.Failed = countFailed(res.FailedBy)
	res.Seconds = el.Seconds()
	res.PerSec = float64(res.OK) / el.Seconds()
	res.Latency = summarize(ok)
	return res
}
