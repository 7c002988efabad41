package server_test

import (
	"testing"
	"time"

	"github.com/xmppfsm/xmppfsm/impl/server"
	"github.com/xmppfsm/xmppfsm/impl/server/xclient"
)

// TestIdleUsersConfig: Config.IdleUsers reaches the router: by default the
// machine of a user who logged out stays in memory, idle; with a negative
// value none does.
func TestIdleUsersConfig(t *testing.T) {
	for _, tc := range []struct {
		idleUsers, want int
	}{{0, 1}, {-1, 0}} {
		ts := start(t, func(c *server.Config) {
			plain(c)
			c.IdleUsers = tc.idleUsers
		})
		alice := xclient.Dial(t, ts.addr, "localhost")
		alice.Login("alice", "wonderland", "rabbit")
		alice.Send(`</stream:stream>`)
		alice.ExpectEnd()
		// The user machine steps the logout after the connection is
		// closed, in the server's goroutine: wait until every loaded
		// machine is idle (before it, alice's has a resource).
		deadline := time.Now().Add(xclient.Timeout)
		st := ts.srv.Router().Stats()
		for st.Users != st.Idle && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
			st = ts.srv.Router().Stats()
		}
		if st.Users != st.Idle || st.Idle != tc.want {
			t.Errorf("IdleUsers %d: %d user machines, %d idle after a logout; want %d idle and no other", tc.idleUsers, st.Users, st.Idle, tc.want)
		}
	}
}
