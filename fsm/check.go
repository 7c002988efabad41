package fsm

import (
	"errors"
	"fmt"
)

// Check returns an error describing every invariant s breaks, or nil.
// spec/session.md lists the invariants (SI-1 …); each message starts with
// its id.
func (s Session) Check() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	connected := s.Connected()
	// SI-1, SI-2: available ⇒ connected; interested ⇒ connected.
	if s.Available() && !connected {
		bad("SI-1 available but not connected")
	}
	if s.Interested && !connected {
		bad("SI-2 interested but not connected")
	}
	// SI-3: connected ⇔ full JID ⇔ resource ⇔ roster loaded.
	if connected != (s.Resource != "") || connected != s.Roster {
		bad("SI-3 full JID %q, resource %q and roster %v disagree", s.FullJID, s.Resource, s.Roster)
	}
	// SI-4: full JID = username@host/resource.
	if connected && !isFullJID(s.FullJID, s.Username, s.Host, s.Resource) {
		bad("SI-4 full JID %q is not %s@%s/%s", s.FullJID, s.Username, s.Host, s.Resource)
	}
	// SI-5: type c2s_unbound or c2s ⇔ authenticated ⇔ username set; type
	// c2s ⇔ connected; the phase agrees.
	switch s.Type {
	case TypeUnauthed:
		if s.Username != "" || s.Phase.Authenticated() {
			bad("SI-5 type %v with username %q in phase %v", s.Type, s.Username, s.Phase)
		}
	case TypeUnbound:
		if s.Username == "" || connected {
			bad("SI-5 type %v with username %q, connected %v", s.Type, s.Username, connected)
		}
	case TypeC2S:
		if !connected {
			bad("SI-5 type %v but not connected", s.Type)
		}
	case TypeDestroyed:
		if s.Phase != Closed {
			bad("SI-5 type %v in phase %v", s.Type, s.Phase)
		}
	}
	if (s.Phase == Established) != connected {
		bad("SI-5 phase %v but connected %v", s.Phase, connected)
	}
	if s.Phase.Authenticated() && s.Username == "" {
		bad("SI-5 phase %v without a username", s.Phase)
	}
	// SI-6: notopen ⇒ nothing newer than the last restart: no features
	// offered, no SASL exchange, no bind, waiting for the stream header.
	// (No SASL exchange and no bind then follow from SI-9 and SI-10.)
	if s.NotOpen && (s.Offered != 0 || s.Phase != WaitForStream) {
		bad("SI-6 notopen with offered %b in phase %v", s.Offered, s.Phase)
	}
	if s.Phase == WaitForStream && !s.NotOpen {
		bad("SI-6 waiting for a stream header on an open stream")
	}
	// SI-7: the stored presence has no type and no to.
	if p := s.Presence; p != nil && (hasAttr(p, "type") || hasAttr(p, "to")) {
		bad("SI-7 stored presence has type %q to %q", attr(p, "type"), attr(p, "to"))
	}
	// SI-8: priority is 0 unless available (its range is the type's).
	if !s.Available() && s.Priority != 0 {
		bad("SI-8 priority %d while not available", s.Priority)
	}
	// SI-9: a SASL mechanism is named exactly during an exchange; the
	// failures stay under the limit.
	if (s.Mechanism != "") != s.Phase.inSASL() {
		bad("SI-9 mechanism %q in phase %v", s.Mechanism, s.Phase)
	}
	if s.SASLFailures >= s.policy().maxFailures() && s.Phase != Closed {
		bad("SI-9 %d SASL failures and the stream still open", s.SASLFailures)
	}
	// SI-10: a bind is served exactly in the binding phases.
	if (s.BindID != "") != s.Phase.binding() {
		bad("SI-10 bind id %q in phase %v", s.BindID, s.Phase)
	}
	if s.Reserved != "" && s.Phase != WaitForResource && s.Phase != WaitForRoster {
		bad("SI-10 reserved resource %q in phase %v", s.Reserved, s.Phase)
	}
	// SI-11: directed-presence targets belong to a connected resource, once each.
	if len(s.Directed) > 0 && !connected {
		bad("SI-11 directed presence from a session that is not connected")
	}
	for i, d := range s.Directed {
		for _, e := range s.Directed[i+1:] {
			if d == e {
				bad("SI-11 directed target %q twice", d)
			}
		}
	}
	// SI-12: a host is known once a stream header was accepted, and it is
	// one this server serves; the opening phases come before it.
	if s.Phase.open() && s.Phase > WaitForStream && !s.policy().serves(s.Host) {
		bad("SI-12 phase %v with host %q", s.Phase, s.Host)
	}
	// SI-13: a destroyed session keeps nothing but its connection id.
	if s.Phase == Closed && !retired(s) {
		bad("SI-13 closed session keeps state")
	}
	// SI-14: the phases before the first header and after close keep no
	// negotiation state; an unauthenticated session offers no bind.
	if !s.Authenticated() && s.Offered&(FeatureBind|FeatureSession) != 0 {
		bad("SI-14 bind offered before authentication")
	}
	if s.Authenticated() && s.Offered&(FeatureStartTLS|FeatureMechanisms) != 0 {
		bad("SI-14 TLS or SASL offered after authentication")
	}
	return errors.Join(errs...)
}

// isFullJID reports whether full is local@domain/resource, without
// building that string (Check runs after every step of a simulation).
func isFullJID(full, local, domain, resource string) bool {
	at, slash := len(local), len(local)+1+len(domain)
	return len(full) == slash+1+len(resource) && full[:at] == local && full[at] == '@' &&
		full[at+1:slash] == domain && full[slash] == '/' && full[slash+1:] == resource
}

// retired reports whether s holds nothing but what destroy keeps: its
// policy, connection id, phase and type.
func retired(s Session) bool {
	return s.Type == TypeDestroyed && s.Directed == nil && s.Presence == nil &&
		s.StreamID == "" && s.Lang == "" && s.Host == "" && s.Username == "" &&
		s.Mechanism == "" && s.BindID == "" && s.Reserved == "" &&
		s.Resource == "" && s.FullJID == "" && !s.NotOpen && !s.Secure &&
		!s.Roster && !s.Interested && s.Offered == 0 && s.SASLFailures == 0 &&
		s.Priority == 0
}
