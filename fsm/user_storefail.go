package fsm

// storeFailed answers a stanza whose step could not be stored (I-56). The
// machine is the one from before that step: nothing it decided there
// happened. The stanza that caused the step gets wait/resource-constraint,
// as any stanza the server cannot serve for want of resources; an error,
// an iq result and the events that carry nobody's stanza get nothing.
func (m *userMachine) storeFailed(ev UserEvent) {
	switch ev.Cause {
	case UEvOutbound:
		to := ev.To
		if to == m.u.JID {
			to = "" // the account's own answers carry no from (I-41…I-44)
		}
		m.bounce(ev.From, to, ev.Elem, errWait, "resource-constraint")
	case UEvInbound:
		m.bounce(ev.From, ev.To, ev.Elem, errWait, "resource-constraint")
	}
}
