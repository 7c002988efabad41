package fsm

// This file ends sessions: stream errors, the client's close, a lost
// connection, timeouts. Every end goes through destroy.

// fail closes the stream with the stream error cond (S-16: preceded by a
// stream header if the current stream has none yet) and destroys the
// session; contacts see "Disconnected: text or cond".
func (m *machine) fail(cond, text string) {
	if m.s.Phase == WaitForTLS {
		m.abort("Disconnected: " + cond) // S-25
		return
	}
	if m.s.NotOpen {
		m.sendHeader("")
	}
	m.emit(Effect{Kind: EffSend, Elem: streamError(cond, text)})
	m.emit(Effect{Kind: EffClose})
	reason := text
	if reason == "" {
		reason = cond
	}
	m.destroy("Disconnected: " + reason)
}

// clientClosed answers the client's </stream:stream> with ours (S-90).
func (m *machine) clientClosed() {
	if m.s.Phase == WaitForTLS {
		m.abort("") // S-25
		return
	}
	if m.s.NotOpen {
		m.sendHeader("")
	}
	m.emit(Effect{Kind: EffClose})
	m.destroy("")
}

// abort closes the connection writing nothing more and destroys the
// session.
func (m *machine) abort(status string) {
	m.emit(Effect{Kind: EffAbort})
	m.destroy(status)
}

// lost destroys a session whose connection is gone: nothing can be written
// to it any more (S-91).
func (m *machine) lost(reason string) {
	status := "Disconnected"
	if reason != "" {
		status += ": " + reason
	}
	m.destroy(status)
}

// xmlError closes the stream with the condition the framer detected (S-92).
func (m *machine) xmlError(cond, text string) {
	switch cond {
	case "not-well-formed", "restricted-xml", "bad-format", "bad-namespace-prefix",
		"invalid-xml", "unsupported-encoding", "policy-violation", "invalid-namespace":
	default:
		cond = "not-well-formed"
	}
	m.fail(cond, text)
}

// timeout answers a timer (S-93, S-94).
func (m *machine) timeout(t Timer) {
	switch {
	case t == TimerIdle:
		m.fail("connection-timeout", "")
	case t == TimerNegotiation && m.s.Phase != Established:
		m.fail("connection-timeout", "")
	}
	// A negotiation timer firing after bind was stopped too late: nothing.
}

// destroy retires the session (S-97): a connected resource releases its
// resource with its implicit unavailable presence (with status, if any) when
// it was available or has directed-presence targets, for the user machine
// to send; a reserved resource is released; every field but Conn is
// cleared.
func (m *machine) destroy(status string) {
	s := &m.s
	switch {
	case s.Resource != "":
		e := Effect{Kind: EffReleaseResource, Username: s.Username, Resource: s.Resource, From: s.FullJID}
		if s.Available() || len(s.Directed) > 0 {
			e.Elem, e.Directed = unavailable(status), s.Directed
		}
		m.emit(e)
	case s.Phase == WaitForRoster:
		m.emit(Effect{Kind: EffReleaseResource, Username: s.Username, Resource: s.Reserved})
	}
	if s.Phase != Established {
		m.emit(Effect{Kind: EffStopTimer, Timer: TimerNegotiation})
	}
	*s = Session{Policy: s.Policy, Conn: s.Conn, Phase: Closed, Type: TypeDestroyed}
}
