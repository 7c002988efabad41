// Package spec holds the abstract model of the client-to-server session that
// spec/session.md describes: a small state (the phase, the negotiation flags
// and the connected / available / interested facts) and a transition
// function over an alphabet of representative inputs, written independently
// of package fsm so that the tests can check fsm against it.
//
// The model is an oracle, not an implementation: it knows nothing of XML,
// JIDs or effects, only which phase and facts each input leads to.
package spec

import "github.com/xmppfsm/xmppfsm/fsm"

// State is the abstract state of a session.
type State struct {
	Phase fsm.Phase
	// Negotiation flags.
	Secure        bool  // TLS protects the stream
	TLSOffered    bool  // STARTTLS is on offer on the current stream
	Authenticated bool  // SASL succeeded
	Failures      uint8 // failed SASL attempts
	// The session notes' facts.
	Connected  bool // a connected resource
	Available  bool // an available resource
	Interested bool // an interested resource
	Directed   bool // has directed-presence targets
}

// Abstract projects a concrete session onto the model's state.
func Abstract(s fsm.Session) State {
	return State{
		Phase:         s.Phase,
		Secure:        s.Secure,
		TLSOffered:    s.Offered.Has(fsm.FeatureStartTLS),
		Authenticated: s.Authenticated(),
		Failures:      s.SASLFailures,
		Connected:     s.Connected(),
		Available:     s.Available(),
		Interested:    s.Interested,
		Directed:      len(s.Directed) > 0,
	}
}

// Model is the abstract machine under one policy.
type Model struct {
	Policy *fsm.Policy
}

// Next returns the state after input in from st, as spec/session.md says.
func (m Model) Next(st State, in Input) State {
	p := m.Policy
	closed := State{Phase: fsm.Closed}
	switch st.Phase {
	case fsm.Unconnected:
		if in == Connect {
			return State{Phase: fsm.WaitForStream} // S-1
		}
		return st // S-3
	case fsm.Closed:
		return st // S-4
	}
	if in.ends() {
		return closed // S-2, S-62, S-90…S-96, S-98
	}
	if in == TimeoutNegotiation {
		if st.Phase == fsm.Established {
			return st
		}
		return closed // S-93
	}
	if in.header() {
		if in != Header || st.Phase != fsm.WaitForStream {
			return closed // S-5…S-10, S-15
		}
		return m.features(st) // S-11…S-14
	}
	if in.element() {
		switch st.Phase {
		case fsm.WaitForStream, fsm.WaitForTLS:
			return closed // S-5, S-25
		}
	}
	switch in {
	case TLSDone:
		if st.Phase != fsm.WaitForTLS {
			return closed // S-27
		}
		st.Phase, st.Secure, st.TLSOffered = fsm.WaitForStream, true, false // S-23
		return st
	case TLSFailed:
		return closed // S-24, S-27
	case StartTLS:
		if st.Phase == fsm.WaitForFeature && st.TLSOffered {
			st.Phase, st.TLSOffered = fsm.WaitForTLS, false // S-20
			return st
		}
		return closed // S-21, S-22
	case AuthPlain, AuthSCRAM, AuthUnknown, AuthBadBase64:
		return m.auth(st, in)
	case Response:
		switch {
		case st.Authenticated:
			return closed // S-43
		case st.Phase == fsm.WaitForSASLResponse:
			st.Phase = fsm.WaitForSASLResult // S-35
		default:
			st.Phase = fsm.WaitForFeature // S-40
		}
		return st
	case Abort:
		if st.Authenticated {
			return closed // S-43
		}
		st.Phase = fsm.WaitForFeature // S-39, S-40
		return st
	case Challenge, Success, Failure:
		if st.Phase != fsm.WaitForSASLResult {
			return st // S-42
		}
		switch in {
		case Challenge:
			st.Phase = fsm.WaitForSASLResponse // S-34
		case Success:
			st.Phase, st.Authenticated = fsm.WaitForStream, true // S-36
		default:
			return m.failed(st) // S-37, S-38
		}
		return st
	case Bind, BindGet:
		switch {
		case st.Phase == fsm.WaitForBind && in == Bind:
			st.Phase = fsm.WaitForResource // S-50
			return st
		case st.Phase == fsm.WaitForBind:
			return st // S-52
		case st.Authenticated:
			return st // S-57
		}
		return m.unbound(st) // S-60
	case Granted, GrantedOverLimit:
		switch {
		case st.Phase != fsm.WaitForResource:
			return st // S-59
		case in == GrantedOverLimit && p.MaxResources > 0 && p.MaxResources < 2:
			st.Phase = fsm.WaitForBind // S-99: two resources, one allowed
		default:
			st.Phase = fsm.WaitForRoster // S-53
		}
		return st
	case Conflict:
		if st.Phase == fsm.WaitForResource && p.Conflict == fsm.ConflictRefuse {
			st.Phase = fsm.WaitForBind // S-54
		}
		return st
	case RosterLoaded:
		if st.Phase == fsm.WaitForRoster {
			st.Phase, st.Connected = fsm.Established, true // S-55
		}
		return st
	case RosterFailed:
		if st.Phase == fsm.WaitForRoster {
			st.Phase = fsm.WaitForBind // S-56
		}
		return st
	case Routed:
		return st // S-80, S-81
	case Unknown:
		return closed // S-61
	}
	// What is left are stanzas.
	if st.Phase != fsm.Established {
		return m.unbound(st) // S-60
	}
	switch in {
	case RosterGet:
		st.Interested = true // S-67
	case Available:
		st.Available = true // S-70
	case Unavailable:
		st.Available, st.Directed = false, false // S-71
	case Directed:
		st.Directed = true // S-74
	case DirectedOff:
		st.Directed = false // S-74 (the alphabet has one target)
	}
	return st
}

// features is the answer to an accepted header (S-11…S-14).
func (m Model) features(st State) State {
	p := m.Policy
	if st.Authenticated {
		st.Phase = fsm.WaitForBind
		return st
	}
	st.TLSOffered = p.TLS && !st.Secure
	mechanisms := false
	if !(st.TLSOffered && p.RequireTLS) {
		for _, mech := range p.Mechanisms {
			mechanisms = mechanisms || !mech.NeedsTLS || st.Secure
		}
	}
	if !st.TLSOffered && !mechanisms {
		return State{Phase: fsm.Closed} // S-13
	}
	st.Phase = fsm.WaitForFeature
	return st
}

// auth is the answer to <auth/> (S-26, S-30…S-33, S-41, S-43).
func (m Model) auth(st State, in Input) State {
	p := m.Policy
	switch {
	case st.Authenticated:
		return State{Phase: fsm.Closed} // S-43
	case st.Phase != fsm.WaitForFeature:
		st.Phase = fsm.WaitForFeature // S-41
		return st
	case p.TLS && p.RequireTLS && !st.Secure:
		return st // S-26
	}
	mech, known := mechanism(p, in.mechanism())
	switch {
	case !known:
		return st // S-31
	case mech.NeedsTLS && !st.Secure:
		return st // S-32
	case in == AuthBadBase64:
		return st // S-33
	}
	st.Phase, st.TLSOffered = fsm.WaitForSASLResult, false // S-30
	return st
}

func mechanism(p *fsm.Policy, name string) (fsm.Mechanism, bool) {
	for _, m := range p.Mechanisms {
		if m.Name == name {
			return m, true
		}
	}
	return fsm.Mechanism{}, false
}

// failed counts a failed SASL attempt (S-37, S-38).
func (m Model) failed(st State) State {
	st.Failures++
	limit := m.Policy.MaxSASLFailures
	if limit == 0 {
		limit = 3
	}
	if st.Failures >= limit {
		return State{Phase: fsm.Closed}
	}
	st.Phase = fsm.WaitForFeature
	return st
}

// unbound is the answer to a stanza before binding (S-60).
func (m Model) unbound(st State) State {
	if m.Policy.UnauthStanza == fsm.UnauthStreamError {
		return State{Phase: fsm.Closed}
	}
	return st
}
