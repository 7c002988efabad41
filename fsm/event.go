package fsm

import "github.com/beevik/etree"

// EventKind says what happened. Each kind documents the Event fields it uses.
type EventKind uint8

// The events an adapter feeds to Step.
const (
	// EvConnect: a connection was accepted. Conn names it, ID is a fresh
	// stream id (used if the server must answer before any stream header),
	// Secure is true for direct TLS (XEP-0368).
	EvConnect EventKind = iota
	// EvStreamOpen: the first element of a stream (at depth 0), normally the
	// client's <stream:stream>. Header describes it; ID is a fresh stream id
	// for the server's answering header.
	EvStreamOpen
	// EvElement: a complete top-level element of the stream (depth 1). Elem
	// is the element; the session owns it from now on and never changes it.
	// An element with no namespace of its own is in jabber:client.
	EvElement
	// EvStreamEnd: the client's </stream:stream>.
	EvStreamEnd
	// EvXMLError: the framer could not accept the input. Condition is the
	// stream error condition it detected (not-well-formed, restricted-xml,
	// bad-format, bad-namespace-prefix, invalid-xml, unsupported-encoding,
	// policy-violation for an oversize stanza), Text an optional description.
	EvXMLError
	// EvTLSDone: the TLS handshake that followed <proceed/> succeeded.
	EvTLSDone
	// EvTLSFailed: the TLS handshake failed; the connection is unusable.
	EvTLSFailed
	// EvSASLChallenge: the mechanism wants another round; Data is the
	// challenge (not base64).
	EvSASLChallenge
	// EvSASLSuccess: the mechanism authenticated Username (the SASL authcid
	// as the mechanism saw it); Data is the additional data, if any.
	EvSASLSuccess
	// EvSASLFailure: the mechanism failed; Condition is a SASL failure
	// condition (RFC 6120 §6.5), Text an optional description.
	EvSASLFailure
	// EvResourceGranted: the registry reserved Resource for this session.
	// Resources is the number of resources of the user the registry holds
	// now, this one included (0 from a registry that does not count: no
	// limit can then apply).
	EvResourceGranted
	// EvResourceConflict: another session of the user holds the resource
	// that was asked for.
	EvResourceConflict
	// EvRosterLoaded: the user's roster is loaded for this session.
	EvRosterLoaded
	// EvRosterFailed: the roster could not be loaded.
	EvRosterFailed
	// EvRouted: a stanza addressed to this session arrives from elsewhere on
	// the server. From and To are its final addresses, to be written over
	// the element's own (so one element can be delivered to many sessions).
	EvRouted
	// EvReplaced: another connection bound this session's resource under
	// ConflictReplace.
	EvReplaced
	// EvTimeout: Timer fired.
	EvTimeout
	// EvShutdown: the server is stopping.
	EvShutdown
	// EvConnLost: the connection closed or failed under the session. Text is
	// the reason, if any (Prosody: "closed" for a TCP end of file).
	EvConnLost
	// EvOutputOverflow: what the session must send no longer fits in the
	// connection's output buffer (the client reads more slowly than it is
	// sent to). The write that did not fit was dropped.
	EvOutputOverflow

	numEventKinds
)

var eventNames = [numEventKinds]string{
	"connect", "stream-open", "element", "stream-end", "xml-error",
	"tls-done", "tls-failed", "sasl-challenge", "sasl-success", "sasl-failure",
	"resource-granted", "resource-conflict", "roster-loaded", "roster-failed",
	"routed", "replaced", "timeout", "shutdown", "conn-lost", "output-overflow",
}

// String returns the event kind's name.
func (k EventKind) String() string {
	if k < numEventKinds {
		return eventNames[k]
	}
	return "event(?)"
}

// Timer names the timers a session relies on.
type Timer uint8

const (
	// TimerNegotiation limits the time from connect to bind; the adapter
	// starts it on EffStartTimer and stops it on EffStopTimer.
	TimerNegotiation Timer = iota + 1
	// TimerIdle fires when nothing was read for the adapter's idle limit.
	TimerIdle
)

// StreamHeader is what the client's stream header said.
type StreamHeader struct {
	// Space and Local are the element's namespace and local name: a stream
	// header is {http://etherx.jabber.org/streams}stream.
	Space, Local string
	// Default is the default namespace declared on the header (the
	// stream's content namespace), or "" if none was declared.
	Default string
	// To, From, Version and Lang are the attributes, "" when absent.
	To, From, Version, Lang string
}

// Event is one input to Step. Kind says which fields matter.
type Event struct {
	Kind      EventKind
	Elem      *etree.Element // EvElement, EvRouted
	From, To  string         // EvRouted
	Header    *StreamHeader  // EvStreamOpen
	ID        string         // EvConnect, EvStreamOpen: a fresh stream id
	Conn      string         // EvConnect
	Secure    bool           // EvConnect
	Data      []byte         // EvSASLChallenge, EvSASLSuccess
	Username  string         // EvSASLSuccess
	Resource  string         // EvResourceGranted
	Resources int            // EvResourceGranted
	Condition string         // EvSASLFailure, EvXMLError
	Text      string         // EvSASLFailure, EvXMLError, EvConnLost
	Timer     Timer          // EvTimeout
}
