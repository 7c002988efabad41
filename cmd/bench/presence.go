package main

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// presenceResult is the outcome of the presence fan-out workload.
type presenceResult struct {
	Contacts     int            `json:"contacts"`
	Changes      int            `json:"changes"`
	LoginFailed  map[string]int `json:"login_failed,omitempty"`
	SubscribeErr int            `json:"subscribe_failed"`
	Expected     int64          `json:"expected"`
	Delivered    int64          `json:"delivered"`
	Lost         int64          `json:"lost"`
	Duplicates   int64          `json:"duplicates"`
	Seconds      float64        `json:"seconds"`
	PerSec       float64        `json:"broadcasts_per_sec"`
	Latency      latencies      `json:"latency"`
	ServerCPUus  float64        `json:"server_cpu_us_per_broadcast,omitempty"`
}

// runPresence logs in account 0 (the publisher) and accounts 1..contacts,
// has each contact subscribe to the publisher's presence (the publisher
// approves), then the publisher changes its presence changes times and
// every contact must receive every change.
func runPresence(ctx context.Context, t *target, contacts, changes, conc int, grace time.Duration) presenceResult {
	res := presenceResult{Contacts: contacts, Changes: changes}
	cs, failed := t.connectAll(ctx, contacts+1, conc, "bench")
	defer closeAll(cs)
	if len(failed) > 0 {
		res.LoginFailed = failed
		return res
	}
	pub := cs[0]
	pubBare := t.bare(0)

	// The publisher approves every subscription request.
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for {
			u, el, err := pub.next(time.Time{})
			if err != nil || u != unitElement {
				return
			}
			if string(name(el)) != "presence" {
				continue
			}
			if typ, _ := attr(el, "type"); string(typ) == "subscribe" {
				from, _ := attr(el, "from")
				_ = pub.send([]byte("<presence type='subscribed' to='" + string(from) + "'/>"))
			}
		}
	}()
	// Each contact subscribes and waits for the approval and the
	// publisher's presence.
	var subErr atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, conc)
	for _, c := range cs[1:] {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := c.send([]byte("<presence type='subscribe' to='" + pubBare + "'/>")); err != nil {
				subErr.Add(1)
				return
			}
			seen := false
			err := c.waitFor("subscribe", func(el []byte) bool {
				from, _ := attr(el, "from")
				if string(name(el)) != "presence" {
					return false
				}
				typ, _ := attr(el, "type")
				if string(from) == pub.jid && len(typ) == 0 {
					seen = true
				}
				return seen
			}, func([]byte) error { return nil })
			if err != nil {
				subErr.Add(1)
			}
		})
	}
	wg.Wait()
	res.SubscribeErr = int(subErr.Load())
	if res.SubscribeErr > 0 {
		return res
	}

	// The measured part: changes presence broadcasts.
	res.Expected = int64(contacts * changes)
	var delivered, dups atomic.Int64
	var lastAt atomic.Int64 // UnixNano of the latest broadcast received
	sentAt := make([]atomic.Int64, changes)
	lats := make([][]time.Duration, contacts)
	allIn := make(chan struct{})
	var once sync.Once
	var rwg sync.WaitGroup
	for ci, c := range cs[1:] {
		rwg.Go(func() {
			got := make([]bool, changes)
			for {
				u, el, err := c.next(time.Time{})
				if err != nil || u != unitElement {
					return
				}
				now := time.Now().UnixNano()
				from, _ := attr(el, "from")
				if string(name(el)) != "presence" || string(from) != pub.jid {
					continue
				}
				st, _ := child(el, "status")
				n, err := strconv.Atoi(string(bytes.TrimPrefix(st, []byte("change "))))
				if err != nil || n < 0 || n >= changes {
					continue
				}
				if got[n] {
					dups.Add(1)
					continue
				}
				got[n] = true
				lats[ci] = append(lats[ci], time.Duration(now-sentAt[n].Load()))
				lastAt.Store(now)
				if delivered.Add(1) == res.Expected {
					once.Do(func() { close(allIn) })
				}
			}
		})
	}
	cpu0 := t.cpu()
	start := time.Now()
	for n := range changes {
		sentAt[n].Store(time.Now().UnixNano())
		show := "away"
		if n%2 == 1 {
			show = "chat"
		}
		if err := pub.send([]byte("<presence><show>" + show + "</show><status>change " + strconv.Itoa(n) + "</status></presence>")); err != nil {
			break
		}
	}
	waitProgress(ctx, allIn, &delivered, grace)
	el := time.Since(start)
	if l := lastAt.Load(); l != 0 {
		el = time.Duration(l - start.UnixNano()) // up to the last broadcast, not the grace period
	}
	cpu1 := t.cpu()
	closeAll(cs)
	rwg.Wait()
	<-pubDone
	res.Delivered = delivered.Load()
	res.Duplicates = dups.Load()
	res.Lost = res.Expected - res.Delivered
	res.Seconds = el.Seconds()
	res.PerSec = float64(res.Delivered) / el.Seconds()
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	res.Latency = summarize(all)
	if cpu0 >= 0 && cpu1 >= 0 && res.Delivered > 0 {
		res.ServerCPUus = float64((cpu1 - cpu0).Microseconds()) / float64(res.Delivered)
	}
	return res
}
