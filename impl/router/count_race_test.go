package router_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
)

// TestResourceCountRaces: binds that take over one of the user's resources
// (ConflictReplace) and binds of one resource too many run at once (S-99,
// MaxResources 2, both resources held throughout). Every takeover is
// granted, since a resource taken over adds none, however an over-limit
// grant in flight counts meanwhile; every extra bind is refused; and when
// all is closed the registry's counts are back to zero. Run under -race.
func TestResourceCountRaces(t *testing.T) {
	const rounds = 60
	r, st := newLimitedRouter(t, 2)
	discard := func(fsm.Effect) bool { return true }

	// last[g] is the connection that holds resource r<g>.
	var last [2]*client
	for g := range last {
		last[g] = &client{c: r.Attach(fmt.Sprintf("first%d", g), discard), st: st}
		last[g].login(t, "alice", "a", fmt.Sprintf("r%d", g))
	}
	var wg sync.WaitGroup
	for g := range last {
		wg.Go(func() { // takes r<g> over, again and again
			tb := &safeTB{TB: t}
			for i := range rounds {
				cl := &client{c: r.Attach(fmt.Sprintf("take%d-%d", g, i), discard), st: st}
				cl.login(tb, "alice", "a", fmt.Sprintf("r%d", g)) // fails unless Established
				if s := last[g].c.Session(); s.Phase != fsm.Closed {
					tb.Fatalf("round %d: the session replaced on r%d is %v", i, g, s.Phase)
				}
				last[g] = cl
			}
		})
		wg.Go(func() { // binds a third resource, again and again
			tb := &safeTB{TB: t}
			for i := range rounds {
				var mu sync.Mutex
				var got []string
				cl := &client{c: r.Attach(fmt.Sprintf("extra%d-%d", g, i), func(e fsm.Effect) bool {
					if e.Kind == fsm.EffSend {
						mu.Lock()
						got = append(got, e.String())
						mu.Unlock()
					}
					return true
				}), st: st}
				cl.step(fsm.Event{Kind: fsm.EvConnect})
				loginUntilBind(tb, cl)
				cl.send(tb, fmt.Sprintf("<iq type='set' id='b'><bind xmlns='%s'><resource>x%d-%d</resource></bind></iq>", fsm.NSBind, g, i))
				mu.Lock()
				answer := got[len(got)-1]
				mu.Unlock()
				if !strings.Contains(answer, "<resource-constraint") {
					tb.Fatalf("bind of a third resource answered %s", answer)
				}
				cl.step(fsm.Event{Kind: fsm.EvStreamEnd})
			}
		})
	}
	wg.Wait()
	if s := r.Stats(); s.Resources != 2 || s.Held != 2 || s.Granting != 0 {
		t.Errorf("after the races: %+v, want 2 resources held, none granting", s)
	}
	for _, cl := range last {
		cl.step(fsm.Event{Kind: fsm.EvStreamEnd})
	}
	if s := r.Stats(); s.Conns != 0 || s.Resources != 0 || s.Held != 0 || s.Granting != 0 {
		t.Errorf("after everything closed: %+v, want no connection, resource or count", s)
	}
}
