package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// target is the server under test and how to log in to it.
type target struct {
	addr    string
	domain  string
	prefix  string // accounts are prefix1, prefix2, …
	first   int    // the index of the first account used
	creds   *credentials
	pids    pidList // the server's processes, for CPU and memory
	timeout time.Duration
}

// user returns the name of account i (0-based from first).
func (t *target) user(i int) string { return t.prefix + strconv.Itoa(t.first+i) }

// bare returns the bare JID of account i.
func (t *target) bare(i int) string { return t.user(i) + "@" + t.domain }

// connect dials and logs in account i with resource res.
func (t *target) connect(i int, res string) (*client, error) {
	c, err := dial(t.addr, t.domain, t.timeout)
	if err != nil {
		return nil, err
	}
	if err := c.login(t.user(i), t.creds, res); err != nil {
		c.nc.Close()
		return nil, err
	}
	return c, nil
}

// connectAll logs in accounts 0..n-1 at concurrency conc and returns the
// clients (nil for the failed ones) and the failures by step.
func (t *target) connectAll(ctx context.Context, n, conc int, res string) ([]*client, map[string]int) {
	return t.connectMany(ctx, n, n, conc, res)
}

// connectMany logs in n sessions at concurrency conc, session i as account
// i mod accounts: with fewer accounts than sessions, each account has
// several resources (res followed by the session's number).
func (t *target) connectMany(ctx context.Context, n, accounts, conc int, res string) ([]*client, map[string]int) {
	clients := make([]*client, n)
	var mu sync.Mutex
	failed := map[string]int{}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				r := res
				if accounts < n {
					r = res + strconv.Itoa(i)
				}
				c, err := t.connect(i%accounts, r)
				if err != nil {
					mu.Lock()
					failed[failStep(err)]++
					mu.Unlock()
					continue
				}
				clients[i] = c
			}
		})
	}
	wg.Wait()
	return clients, failed
}

// cpu returns the server's CPU time so far, or -1 without a pid.
func (t *target) cpu() time.Duration {
	if len(t.pids) == 0 {
		return -1
	}
	d, err := procCPU(t.pids)
	if err != nil {
		return -1
	}
	return d
}

// loopbackOnly refuses an address that is not on the loopback interface.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return err
	}
	if len(ips) == 0 {
		return fmt.Errorf("%s: no address", host)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("%s resolves to %s, which is not a loopback address: the bench only drives servers on this machine", host, ip)
		}
	}
	return nil
}

func closeAll(cs []*client) {
	for _, c := range cs {
		if c != nil {
			c.close()
		}
	}
}

func countFailed(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
