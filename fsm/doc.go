// Package fsm is the pure core of an XMPP client-to-server session
// (RFC 6120 and RFC 6121): a transition function
//
//	Step(session, event) → (session, effects)
//
// with no I/O, goroutines, locks, clock or randomness. The adapter that runs
// a connection turns what happens on it (bytes parsed into elements, a TLS
// handshake that finished, a SASL mechanism's answer, a timer that fired)
// into [Event] values, calls [Step], and carries out the [Effect] values it
// gets back (write an element, start TLS, reserve a resource, route a
// stanza). Stream ids, generated resources and I/O results arrive in events;
// every protocol decision is made here.
//
// A [Session] is a plain value: Step never changes its argument, and copying
// a session is cheap. The fields follow Prosody's session notes (conn,
// notopen, type, username, host, resource, full_jid, priority, presence,
// interested, roster) plus what negotiation needs (phase, stream id, secure,
// offered features, SASL state, directed-presence targets).
//
// The account side is a second machine, [StepUser] (user, event) → (user,
// effects), for rosters, subscriptions, presence broadcast and routing, and
// [AnswerServer] answers stanzas addressed to the server itself. RFC 6121
// Appendix A's tables are literal data, read through [OutboundRow],
// [InboundRow], [Outbound], [Inbound] and [PreApprove].
//
// The normative rules are in spec/session.md (S-…) and spec/im.md (I-…);
// each handler names the rule it implements. [Session.Check] and
// [User.Check] state the invariants.
package fsm
