package fsm

import "github.com/beevik/etree"

// EffectKind says what the adapter must do. Each kind documents the Effect
// fields it uses. The adapter carries out a step's effects in order.
type EffectKind uint8

// The effects Step asks for.
const (
	// EffSendHeader: write the server's stream header (the XML declaration
	// and <stream:stream> with xmlns='jabber:client' and xmlns:stream).
	// Header holds its attributes.
	EffSendHeader EffectKind = iota
	// EffSend: write Elem to the client. When From or To is set it replaces
	// the element's from or to attribute as written.
	EffSend
	// EffClose: write </stream:stream>, flush, and close the connection.
	EffClose
	// EffAbort: close the connection at once, writing nothing more (the
	// stream can no longer carry XML: after <proceed/>, or a failed TLS
	// handshake).
	EffAbort
	// EffStartTLS: after flushing, run the server side of the TLS handshake
	// and answer with EvTLSDone or EvTLSFailed.
	EffStartTLS
	// EffResetStream: the next bytes start a new stream (after TLS or SASL
	// success): discard the parser and expect a stream header.
	EffResetStream
	// EffSASLStart: start Mechanism with the client's initial response Data
	// (nil when the client sent none, empty when it sent "="). Answer with
	// EvSASLChallenge, EvSASLSuccess or EvSASLFailure.
	EffSASLStart
	// EffSASLStep: give the client's response Data to the running mechanism.
	EffSASLStep
	// EffReserveResource: reserve Resource of user Username for this
	// session, or a fresh resource the registry generates when Resource is
	// "". Replace takes the resource from the session that holds it (which
	// gets EvReplaced). Answer with EvResourceGranted or EvResourceConflict.
	EffReserveResource
	// EffReleaseResource: the session no longer holds Resource of user
	// Username. For a connected resource From is its full JID, and Elem,
	// when set, is its implicit unavailable presence, for its contacts and
	// other resources if it was available, and for the Directed addresses
	// (RFC 6121 §4.5.2, §4.6.3).
	EffReleaseResource
	// EffLoadRoster: load the roster of Username for this session; answer
	// with EvRosterLoaded or EvRosterFailed.
	EffLoadRoster
	// EffRoute: deliver Elem on the server, from From (the session's full
	// JID, which replaces whatever from the client wrote) to To (a prepared
	// JID; the element's own to attribute is to be written as To).
	EffRoute
	// EffBroadcast: Elem is presence without a to, from From, for the
	// user's contacts and other resources (RFC 6121 §4.2, §4.4, §4.5).
	// Initial is true for the session's first available presence. For an
	// unavailable presence, Directed lists the addresses that got directed
	// presence from the session and must get this one too.
	EffBroadcast
	// EffBound: the session became a connected resource with full JID From
	// (its user machine gets UEvBound).
	EffBound
	// EffStartTimer and EffStopTimer: arm or disarm Timer.
	EffStartTimer
	EffStopTimer

	numEffectKinds
)

var effectNames = [numEffectKinds]string{
	"send-header", "send", "close", "abort", "start-tls", "reset-stream",
	"sasl-start", "sasl-step", "reserve-resource", "release-resource",
	"load-roster", "route", "broadcast", "bound", "start-timer", "stop-timer",
}

// String returns the effect kind's name.
func (k EffectKind) String() string {
	if k < numEffectKinds {
		return effectNames[k]
	}
	return "effect(?)"
}

// OutHeader is the server's stream header.
type OutHeader struct {
	ID, From, To, Version, Lang string
}

// Effect is one thing the adapter must do. Kind says which fields matter.
type Effect struct {
	Kind      EffectKind
	Elem      *etree.Element // EffSend, EffRoute, EffBroadcast, EffReleaseResource
	From, To  string         // EffSend, EffRoute, EffBroadcast; From: EffReleaseResource
	Header    *OutHeader     // EffSendHeader
	Mechanism string         // EffSASLStart
	Data      []byte         // EffSASLStart, EffSASLStep
	Username  string         // EffReserveResource, EffLoadRoster
	Resource  string         // EffReserveResource, EffReleaseResource
	Replace   bool           // EffReserveResource
	Initial   bool           // EffBroadcast
	Directed  []string       // EffBroadcast, EffReleaseResource
	Timer     Timer          // EffStartTimer, EffStopTimer
}
