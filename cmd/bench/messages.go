package main

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// msgResult is the outcome of the messages workload.
type msgResult struct {
	Pairs        int            `json:"pairs"`
	PerSender    int            `json:"per_sender"`
	Window       int            `json:"window,omitempty"`
	OfferedRate  float64        `json:"offered_rate,omitempty"`
	LoginFailed  map[string]int `json:"login_failed,omitempty"`
	Sent         int64          `json:"sent"`
	Delivered    int64          `json:"delivered"`
	Lost         int64          `json:"lost"`
	Duplicates   int64          `json:"duplicates"`
	Unexpected   int64          `json:"unexpected"`
	SendErrors   int64          `json:"send_errors"`
	Seconds      float64        `json:"seconds"`
	PerSec       float64        `json:"msgs_per_sec"`
	Latency      latencies      `json:"latency"`
	ServerCPUus  float64        `json:"server_cpu_us_per_msg,omitempty"`
	ServerCPUsec float64        `json:"server_cpu_sec,omitempty"`
}

// flow is one direction of a pair: a sender, its partner, and what was
// sent and received.
type flow struct {
	from, to *client
	sentAt   []atomic.Int64 // UnixNano of each message's write
	got      []atomic.Bool
	window   chan struct{} // a token per message in flight
	sent     atomic.Int64
	recv     atomic.Int64
	dups     atomic.Int64
	sendErr  atomic.Int64
	lat      []time.Duration // written by the partner's reader only
}

// msgOptions configure runMessages.
type msgOptions struct {
	pairs, perSender, window, conc int
	rate                           float64       // total messages/s; 0: window mode
	grace                          time.Duration // how long to wait without a delivery before counting the rest lost
	drop                           func(seq int) bool
}

// runMessages logs in 2·pairs accounts; in each pair both send perSender
// chat messages to the partner's full JID, at most window in flight each
// (or paced at rate in all), and every message's arrival is checked.
func runMessages(ctx context.Context, t *target, o msgOptions) msgResult {
	res := msgResult{Pairs: o.pairs, PerSender: o.perSender}
	if o.rate > 0 {
		res.OfferedRate = o.rate
	} else {
		res.Window = o.window
	}
	cs, failed := t.connectAll(ctx, 2*o.pairs, o.conc, "bench")
	defer closeAll(cs)
	if len(failed) > 0 {
		res.LoginFailed = failed
		res.Lost = int64(2 * o.pairs * o.perSender)
		return res
	}
	flows := make([]*flow, 0, 2*o.pairs)
	in := make(map[*client]map[string]*flow) // receiver → sender's JID → flow
	for p := range o.pairs {
		a, b := cs[2*p], cs[2*p+1]
		for _, d := range [][2]*client{{a, b}, {b, a}} {
			f := &flow{from: d[0], to: d[1], sentAt: make([]atomic.Int64, o.perSender),
				got: make([]atomic.Bool, o.perSender), window: make(chan struct{}, max(o.window, 1))}
			flows = append(flows, f)
			if in[d[1]] == nil {
				in[d[1]] = map[string]*flow{}
			}
			in[d[1]][d[0].jid] = f
		}
	}
	var total int64 = int64(len(flows) * o.perSender)
	var delivered atomic.Int64
	var unexpected atomic.Int64
	var lastAt atomic.Int64 // UnixNano of the latest delivery
	allIn := make(chan struct{})
	var closeOnce sync.Once

	// Readers.
	var rwg sync.WaitGroup
	for _, c := range cs {
		rwg.Go(func() {
			byFrom := in[c]
			for {
				u, el, err := c.next(time.Time{})
				if err != nil || u != unitElement {
					return
				}
				if string(name(el)) != "message" {
					continue // presence of the partner, etc.
				}
				now := time.Now().UnixNano()
				from, _ := attr(el, "from")
				f := byFrom[string(from)]
				id, _ := attr(el, "id")
				seq, err := strconv.Atoi(string(bytes.TrimPrefix(id, []byte("m"))))
				if f == nil || err != nil || seq < 0 || seq >= o.perSender || !bytes.HasPrefix(id, []byte("m")) {
					unexpected.Add(1)
					continue
				}
				if f.got[seq].Swap(true) {
					f.dups.Add(1)
					continue
				}
				f.lat = append(f.lat, time.Duration(now-f.sentAt[seq].Load()))
				f.recv.Add(1)
				lastAt.Store(now)
				if o.rate == 0 {
					select {
					case <-f.window:
					default:
					}
				}
				if delivered.Add(1) == total {
					closeOnce.Do(func() { close(allIn) })
				}
			}
		})
	}

	// Senders.
	cpu0 := t.cpu()
	start := time.Now()
	var swg sync.WaitGroup
	var interval time.Duration
	if o.rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(len(flows)) / o.rate)
	}
	stop := make(chan struct{})
	for fi, f := range flows {
		swg.Go(func() {
			prefix := []byte("<message type='chat' to='" + f.to.jid + "' id='m")
			buf := make([]byte, 0, 256)
			// Spread the paced senders' first sends over one interval.
			next := start.Add(interval * time.Duration(fi) / time.Duration(len(flows)))
			for seq := range o.perSender {
				if o.rate > 0 {
					if d := time.Until(next); d > 0 {
						select {
						case <-time.After(d):
						case <-stop:
							return
						}
					}
					// Latency is taken from the write, not the schedule:
					// the sends do not wait for answers, so a slow server
					// still shows, and the client's own timer lateness
					// (the same whatever the server) does not.
					f.sentAt[seq].Store(time.Now().UnixNano())
					next = next.Add(interval)
				} else {
					select {
					case f.window <- struct{}{}:
					case <-stop:
						return
					}
					f.sentAt[seq].Store(time.Now().UnixNano())
				}
				if o.drop != nil && o.drop(seq) {
					// Test hook: a message that is counted as sent but
					// never written, to check that it is reported lost.
					f.sent.Add(1)
					continue
				}
				buf = append(buf[:0], prefix...)
				buf = strconv.AppendInt(buf, int64(seq), 10)
				buf = append(buf, "'><body>bench message "...)
				buf = strconv.AppendInt(buf, int64(seq), 10)
				buf = append(buf, "</body></message>"...)
				if err := f.from.send(buf); err != nil {
					f.sendErr.Add(1)
					return
				}
				f.sent.Add(1)
			}
		})
	}
	// Wait for everything, bounded: by the context's deadline, and by the
	// grace period without any delivery (a lost message holds a window
	// slot for ever, so waiting for the senders would not do).
	waitProgress(ctx, allIn, &delivered, o.grace)
	el := time.Since(start)
	if l := lastAt.Load(); l != 0 {
		el = time.Duration(l - start.UnixNano()) // up to the last delivery, not the grace period
	}
	cpu1 := t.cpu()
	close(stop)
	closeAll(cs)
	rwg.Wait()
	swg.Wait()
	cs = nil

	var lat []time.Duration
	for _, f := range flows {
		res.Sent += f.sent.Load()
		res.Delivered += f.recv.Load()
		res.Duplicates += f.dups.Load()
		res.SendErrors += f.sendErr.Load()
		lat = append(lat, f.lat...)
	}
	res.Lost = total - res.Delivered
	res.Unexpected = unexpected.Load()
	res.Seconds = el.Seconds()
	res.PerSec = float64(res.Delivered) / el.Seconds()
	res.Latency = summarize(lat)
	if cpu0 >= 0 && cpu1 >= 0 && res.Delivered > 0 {
		res.ServerCPUsec = (cpu1 - cpu0).Seconds()
		res.ServerCPUus = float64((cpu1 - cpu0).Microseconds()) / float64(res.Delivered)
	}
	return res
}

// waitProgress returns when done is closed, ctx ends, or count has not
// changed for grace.
func waitProgress(ctx context.Context, done <-chan struct{}, count *atomic.Int64, grace time.Duration) {
	tick := time.NewTicker(min(grace/4, 100*time.Millisecond))
	defer tick.Stop()
	last, since := count.Load(), time.Now()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if c := count.Load(); c != last {
				last, since = c, now
			} else if now.Sub(since) >= grace {
				return
			}
		}
	}
}
