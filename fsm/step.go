package fsm

// Step is the session machine: it returns the session after ev and the
// effects the adapter must carry out, in order. It never changes s.
//
// Every event is answered in every phase; spec/session.md lists the rules
// and the handler of each rule names it.
func Step(s Session, ev Event) (Session, []Effect) {
	return StepAppend(s, ev, nil)
}

// StepAppend is Step that appends the effects to out, so that an adapter
// can reuse one buffer for every step and allocate nothing.
func StepAppend(s Session, ev Event, out []Effect) (Session, []Effect) {
	// StepTo(&s, ev, out) on this copy is the same step, but it costs one
	// more copy of the session (8 ns of a 40 ns step): both run machine.step.
	m := machine{s: s, out: out}
	m.step(ev)
	return m.s, m.out
}

// StepTo is StepAppend on *s: it writes the session after ev over *s
// instead of returning it, for an adapter that keeps its sessions in place
// and would otherwise copy each one in and out of every step. Only the
// fields of *s are assigned: a slice or element the old session held is
// replaced, never changed, so a copy of *s taken before the step still
// holds the session before it.
func StepTo(s *Session, ev Event, out []Effect) []Effect {
	// The machine works on its own copy (a pointer to *s inside it would
	// make every caller's session escape to the heap) and writes it back
	// once.
	m := machine{s: *s, out: out}
	m.step(ev)
	*s = m.s
	return m.out
}

// machine is one step in progress: the session being built and the effects
// so far.
type machine struct {
	s   Session
	out []Effect
}

func (m *machine) emit(e Effect) { m.out = append(m.out, e) }

func (m *machine) step(ev Event) {
	switch m.s.Phase {
	case Unconnected:
		if ev.Kind == EvConnect {
			m.connect(ev) // S-1
		}
		return // S-3: nothing to answer on before the connection exists
	case Closed:
		return // S-4: a destroyed session answers nothing
	}
	switch ev.Kind {
	case EvConnect:
		m.fail("internal-server-error", "") // S-2
	case EvStreamOpen:
		m.streamOpen(ev)
	case EvElement:
		if ev.Elem == nil {
			m.fail("internal-server-error", "") // S-2: an element event without an element
			return
		}
		m.element(ev.Elem)
	case EvStreamEnd:
		m.clientClosed() // S-90
	case EvXMLError:
		m.xmlError(ev.Condition, ev.Text) // S-92
	case EvTLSDone, EvTLSFailed:
		m.tlsResult(ev.Kind == EvTLSDone)
	case EvSASLChallenge, EvSASLSuccess, EvSASLFailure:
		m.saslResult(ev)
	case EvResourceGranted, EvResourceConflict, EvRosterLoaded, EvRosterFailed:
		m.bindResult(ev)
	case EvRouted:
		m.routed(ev.Elem, ev.From, ev.To)
	case EvReplaced:
		m.fail("conflict", "Replaced by new connection") // S-95
	case EvTimeout:
		m.timeout(ev.Timer)
	case EvShutdown:
		m.fail("system-shutdown", "") // S-96
	case EvConnLost:
		m.lost(ev.Text) // S-91
	case EvOutputOverflow:
		m.fail("resource-constraint", "Output buffer full") // S-98
	default:
		m.fail("internal-server-error", "") // S-2: not an event kind
	}
}
