package conformance

import "github.com/xmppfsm/xmppfsm/fsm"

// Overflow makes the connection's output buffer overflow, as if the client
// had stopped reading ("falls behind"): the hub's output has no cap, so the
// event the production router would feed is fed here (EvOutputOverflow).
func (c *inConn) Overflow() error {
	c.t.Hub.Send(c.id, fsm.Event{Kind: fsm.EvOutputOverflow})
	return nil
}
