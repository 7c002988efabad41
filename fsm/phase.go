package fsm

// Phase is where a session stands in the life of its connection. The names
// follow ejabberd's xmpp_stream_in; the three binding phases and the two
// SASL phases make the waits for the adapter's answers explicit.
type Phase uint8

// The phases, in the order a successful session passes through them.
const (
	// Unconnected is the zero Session before its connection is accepted.
	Unconnected Phase = iota
	// WaitForStream waits for the client's stream header: after connect, and
	// after every stream restart (TLS established, SASL success).
	WaitForStream
	// WaitForFeature has sent the pre-authentication features and waits for
	// <starttls/> or <auth/>.
	WaitForFeature
	// WaitForTLS has sent <proceed/> and waits for the adapter's TLS handshake.
	WaitForTLS
	// WaitForSASLResult has handed a SASL step to the adapter's mechanism and
	// waits for its challenge, success or failure.
	WaitForSASLResult
	// WaitForSASLResponse has sent a challenge and waits for the client's
	// <response/> or <abort/>.
	WaitForSASLResponse
	// WaitForBind is authenticated but not bound (Prosody's c2s_unbound): the
	// stream was restarted and the bind feature offered.
	WaitForBind
	// WaitForResource has asked the registry to reserve a resource.
	WaitForResource
	// WaitForRoster holds a reserved resource and waits for the roster load.
	WaitForRoster
	// Established is a connected resource: bound, with its roster loaded.
	Established
	// Closed is a destroyed session. Every event is ignored from here on.
	Closed
)

// NumPhases is the number of phases, for tables indexed by Phase.
const NumPhases = int(Closed) + 1

var phaseNames = [NumPhases]string{
	Unconnected:         "unconnected",
	WaitForStream:       "wait-for-stream",
	WaitForFeature:      "wait-for-feature",
	WaitForTLS:          "wait-for-tls",
	WaitForSASLResult:   "wait-for-sasl-result",
	WaitForSASLResponse: "wait-for-sasl-response",
	WaitForBind:         "wait-for-bind",
	WaitForResource:     "wait-for-resource",
	WaitForRoster:       "wait-for-roster",
	Established:         "established",
	Closed:              "closed",
}

// String returns the phase's name as spec/session.md writes it.
func (p Phase) String() string {
	if int(p) < NumPhases {
		return phaseNames[p]
	}
	return "phase(?)"
}

// Authenticated reports whether a session in this phase has completed SASL.
func (p Phase) Authenticated() bool {
	return p >= WaitForBind && p <= Established
}

// inSASL reports whether a SASL exchange is in progress.
func (p Phase) inSASL() bool {
	return p == WaitForSASLResult || p == WaitForSASLResponse
}

// binding reports whether a bind request is being served.
func (p Phase) binding() bool {
	return p == WaitForResource || p == WaitForRoster
}

// open reports whether the connection is up (accepted and not destroyed).
func (p Phase) open() bool {
	return p != Unconnected && p != Closed
}
