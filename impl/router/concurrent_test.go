package router_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/router"
)

// recorder is one connection's output: the message stanzas it received.
// It is deliberately unlocked, so that the race detector reports it if the
// router ever calls out concurrently for one connection; busy catches the
// same without the detector.
type recorder struct {
	busy       atomic.Bool
	overlapped atomic.Bool
	live       []string // message ids received as sent
	delayed    []string // message ids received from offline storage
	errors     []string
}

func (rc *recorder) out(e fsm.Effect) bool {
	if !rc.busy.CompareAndSwap(false, true) {
		rc.overlapped.Store(true)
		return true
	}
	defer rc.busy.Store(false)
	if e.Kind != fsm.EffSend || e.Elem == nil || e.Elem.Tag != "message" {
		return true
	}
	id := e.Elem.SelectAttrValue("id", "")
	switch {
	case e.Elem.SelectAttrValue("type", "") == "error":
		rc.errors = append(rc.errors, id)
	case e.Elem.SelectElement("delay") != nil:
		rc.delayed = append(rc.delayed, id)
	default:
		rc.live = append(rc.live, id)
	}
	return true
}

func userName(i int) string { return fmt.Sprintf("u%02d", i) }

// TestConcurrentUsers: 50 users with 2 connections each, each connection
// in its own goroutine. Phase 1: log in, ask for the roster, subscribe to
// the next user and pre-approve the previous one, send available presence
// (connection 0 with priority 1, connection 1 with priority 0) — except
// users i%5 == 0 (never available: their messages stay stored) and i%5 == 1
// (available only in phase 3: their messages are flushed). Phase 2: 100
// chat messages each to random other users' bare JIDs. Phase 3: the late
// users go available, then every connection closes.
//
// The phases are separated by barriers because a message routed to a
// session while it closes is lost (S-4; XEP-0198 territory), so "exactly
// once" can only be asked of messages sent while their addressee's
// sessions are up. Each message must then have reached exactly one
// session (the priority-1 one of its addressee), or have been flushed
// exactly once, or be stored exactly once.
func TestConcurrentUsers(t *testing.T) {
	const users, perConn = 50, 100
	goroutines := runtime.NumGoroutine()
	accounts := map[string]string{}
	for i := range users {
		accounts[userName(i)] = "pw"
	}
	r, st := newRouter(t, -1, accounts)

	type connT struct {
		user int
		k    int
		cl   *client
		rec  *recorder
	}
	var conns []*connT
	var all []*router.Conn
	for i := range users {
		for k := range 2 {
			rec := &recorder{}
			c := r.Attach(fmt.Sprintf("%s-c%d", userName(i), k), rec.out)
			conns = append(conns, &connT{user: i, k: k, cl: &client{c: c, st: st}, rec: rec})
			all = append(all, c)
		}
	}

	var phase [3]sync.WaitGroup
	start := [3]chan struct{}{make(chan struct{}), make(chan struct{}), make(chan struct{})}
	var done sync.WaitGroup
	for p := range phase {
		phase[p].Add(len(conns))
	}
	done.Add(len(conns))
	for _, cn := range conns {
		go func() {
			defer done.Done()
			tb := &safeTB{TB: t}
			cl := cn.cl
			me := userName(cn.user)
			// Phase 1.
			<-start[0]
			cl.login(tb, me, "pw", fmt.Sprintf("c%d", cn.k))
			cl.send(tb, `<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>`)
			if cn.k == 0 {
				cl.send(tb, fmt.Sprintf(`<presence to='%s@localhost' type='subscribe'/>`, userName((cn.user+1)%users)))
				cl.send(tb, fmt.Sprintf(`<presence to='%s@localhost' type='subscribed'/>`, userName((cn.user+users-1)%users)))
			}
			if cn.user%5 >= 2 {
				cl.send(tb, fmt.Sprintf(`<presence><priority>%d</priority></presence>`, 1-cn.k))
			}
			phase[0].Done()
			// Phase 2.
			<-start[1]
			rng := rand.New(rand.NewPCG(uint64(cn.user), uint64(cn.k)))
			for m := range perConn {
				to := rng.IntN(users - 1)
				if to >= cn.user {
					to++
				}
				cl.send(tb, fmt.Sprintf(`<message to='%s@localhost' type='chat' id='%s-c%d-m%03d'><body>%d</body></message>`,
					userName(to), me, cn.k, m, m))
			}
			phase[1].Done()
			// Phase 3.
			<-start[2]
			if cn.user%5 == 1 && cn.k == 0 {
				cl.send(tb, `<presence><priority>1</priority></presence>`)
			}
			if cn.k == 0 {
				cl.step(fsm.Event{Kind: fsm.EvStreamEnd})
			} else {
				cl.step(fsm.Event{Kind: fsm.EvConnLost, Text: "closed"})
			}
			phase[2].Done()
		}()
	}
	ctx, cancel := deadline(t)
	defer cancel()
	for p := range phase {
		close(start[p])
		waitOrFail(ctx, t, &phase[p], fmt.Sprintf("phase %d", p+1))
	}
	waitOrFail(ctx, t, &done, "the connections' goroutines")

	// Every message exactly once.
	count := map[string]int{}
	where := map[string]string{}
	for _, cn := range conns {
		if cn.rec.overlapped.Load() {
			t.Errorf("%s: out was called concurrently", cn.cl.c.ID())
		}
		if len(cn.rec.errors) > 0 {
			t.Errorf("%s received errors for %v", cn.cl.c.ID(), cn.rec.errors)
		}
		for _, id := range cn.rec.live {
			count[id]++
			where[id] += " live@" + cn.cl.c.ID()
		}
		for _, id := range cn.rec.delayed {
			count[id]++
			where[id] += " flushed@" + cn.cl.c.ID()
		}
	}
	stored := 0
	for i := range users {
		msgs, err := st.Offline(userName(i) + "@localhost")
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) > 0 && i%5 != 0 {
			t.Errorf("%s has %d stored messages, want none", userName(i), len(msgs))
		}
		for _, m := range msgs {
			id := m.Elem.SelectAttrValue("id", "")
			count[id]++
			where[id] += " stored@" + userName(i)
			stored++
		}
	}
	sent := 0
	for _, cn := range conns {
		rng := rand.New(rand.NewPCG(uint64(cn.user), uint64(cn.k)))
		for m := range perConn {
			to := rng.IntN(users - 1)
			if to >= cn.user {
				to++
			}
			sent++
			id := fmt.Sprintf("%s-c%d-m%03d", userName(cn.user), cn.k, m)
			var want string
			switch to % 5 {
			case 0:
				want = " stored@" + userName(to)
			case 1:
				want = " flushed@" + userName(to) + "-c0"
			default:
				want = " live@" + userName(to) + "-c0"
			}
			if count[id] != 1 || where[id] != want {
				t.Errorf("message %s to %s: %d times:%s; want%s", id, userName(to), count[id], where[id], want)
			}
			delete(count, id)
		}
	}
	for id, n := range count {
		t.Errorf("message %s was never sent but seen %d times:%s", id, n, where[id])
	}
	checkAll(t, r, all)
	if s := r.Stats(); s.StoreErrors != 0 || s.OfflineDropped != 0 {
		t.Errorf("stats: %+v", s)
	}
	// Every machine left in memory is an idle one, kept within
	// Options.IdleUsers (1024 here): the rosters are in the store.
	if s := r.Stats(); s.Users != s.Idle || s.Idle > 1024 || s.Held != 0 || s.Granting != 0 {
		t.Errorf("after every session closed: %+v, want only idle machines and no count", s)
	}
	for i := range users {
		roster, err := st.Roster(userName(i) + "@localhost")
		if err != nil || len(roster.Items) == 0 {
			t.Errorf("%s has an empty roster after subscribing (%v)", userName(i), err)
		}
	}
	t.Logf("%d messages: %d stored, the rest delivered", sent, stored)
	checkGoroutines(t, goroutines)
}

// safeTB turns Fatal from a test's goroutine into Error plus
// runtime.Goexit, which the testing package allows.
type safeTB struct{ testing.TB }

func (s *safeTB) Fatal(args ...any) { s.TB.Error(args...); runtime.Goexit() }
func (s *safeTB) Fatalf(format string, args ...any) {
	s.TB.Errorf(format, args...)
	runtime.Goexit()
}

// deadline is the failure detector's limit: the test's deadline less a
// margin, or a minute.
func deadline(t *testing.T) (context.Context, context.CancelFunc) {
	if d, ok := t.Deadline(); ok {
		return context.WithDeadline(context.Background(), d.Add(-5*time.Second))
	}
	return context.WithTimeout(context.Background(), time.Minute)
}

// waitOrFail waits for wg; if ctx ends first the test fails with every
// goroutine's stack (a deadlock).
func waitOrFail(ctx context.Context, t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-ctx.Done():
		buf := make([]byte, 1<<20)
		t.Fatalf("%s did not finish (deadlock?):\n%s", what, buf[:runtime.Stack(buf, true)])
	}
}

// checkGoroutines fails if more goroutines run than before the test, once
// the finished ones had the chance to exit.
func checkGoroutines(t *testing.T, before int) {
	t.Helper()
	n := runtime.NumGoroutine()
	for i := 0; i < 1000 && n > before; i++ {
		runtime.Gosched()
		n = runtime.NumGoroutine()
	}
	if n > before {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		t.Errorf("%d goroutines after the test, %d before:\n%s", n, before, strings.TrimSpace(stacks))
	}
}
