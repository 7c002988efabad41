package fsm

import "github.com/beevik/etree"

// Type is Prosody's session type: what the session has proved so far.
type Type uint8

// The session types. Prosody's notes name c2s_unauthed and c2s; its code
// (core/sessionmanager.lua) also has c2s_unbound between SASL success and
// bind, and c2s_destroyed after the session is retired.
const (
	TypeUnauthed  Type = iota // c2s_unauthed: not authenticated
	TypeUnbound               // c2s_unbound: authenticated, no resource bound
	TypeC2S                   // c2s: a connected resource
	TypeDestroyed             // c2s_destroyed: closed
)

var typeNames = [...]string{"c2s_unauthed", "c2s_unbound", "c2s", "c2s_destroyed"}

// String returns Prosody's name for the type.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "type(?)"
}

// Features is the set of stream features offered in the last
// <stream:features>, as bits.
type Features uint8

// The stream features the session machine offers.
const (
	FeatureStartTLS         Features = 1 << iota // <starttls/>
	FeatureStartTLSRequired                      // <starttls><required/></starttls>
	FeatureMechanisms                            // <mechanisms/> with at least one mechanism
	FeatureBind                                  // <bind/>
	FeatureSession                               // <session><optional/></session>
	FeatureRosterVer                             // <ver xmlns='urn:xmpp:features:rosterver'/>
	FeaturePreApproval                           // <sub xmlns='urn:xmpp:features:pre-approval'/>
)

// Has reports whether every feature in f is in fs.
func (fs Features) Has(f Features) bool { return fs&f == f }

// Session is the record a server keeps for one client connection. It is a
// plain value: [Step] returns a new Session and never changes the one it was
// given. Pointers it holds (Policy, Presence and the Directed slice) point to
// values that are never changed after they are stored.
//
// The zero Session is Unconnected and uses [DefaultPolicy].
type Session struct {
	// Policy holds the server's choices where the RFC leaves one. Nil means
	// DefaultPolicy. Set it with New before the first Step.
	Policy *Policy

	// Conn is the adapter's identifier for the connection (Prosody: conn).
	Conn string
	// Phase is where the session stands; see Phase.
	Phase Phase
	// Type is Prosody's session type; see Type.
	Type Type
	// NotOpen is true while the current stream has no stream header from the
	// server yet: after connect and after each restart (Prosody: notopen).
	NotOpen bool
	// StreamID is the id of the server's current stream header.
	StreamID string
	// Lang is the xml:lang of the client's stream header, or "" if none.
	Lang string
	// Secure is true once TLS protects the connection.
	Secure bool
	// Offered is the set of features in the last <stream:features>.
	Offered Features

	// Mechanism is the SASL mechanism of the exchange in progress, or "".
	Mechanism string
	// SASLFailures counts the failed SASL attempts on this connection.
	SASLFailures uint8

	// Host is the domain the client addressed in its first stream header.
	Host string
	// Username is the authenticated localpart, set by SASL success.
	Username string

	// BindID is the id of the bind request being served, or "".
	BindID string
	// Reserved is the resource asked for (in WaitForResource; "" when the
	// registry is to generate one) or reserved (in WaitForRoster) for the
	// bind being served.
	Reserved string

	// Resource, FullJID and Roster are set together when the session becomes
	// a connected resource, and cleared together when it stops being one.
	Resource string
	FullJID  string
	// Roster is true once the user's roster is loaded for this session.
	Roster bool

	// Priority is the priority of the last available presence, or 0.
	Priority int8
	// Presence is the last broadcast available presence (no type, no to),
	// or nil when the resource is not available.
	Presence *etree.Element
	// Interested is true once the session has requested the roster.
	Interested bool
	// Directed holds the addresses the session sent directed available
	// presence to and has not since sent unavailable to, in order.
	Directed []string
}

// New returns an Unconnected session that applies policy p. A nil p means
// DefaultPolicy.
func New(p *Policy) Session {
	return Session{Policy: p}
}

// Connected reports whether the session is a connected resource: it has a
// full JID, a resource and a loaded roster.
func (s *Session) Connected() bool { return s.FullJID != "" }

// Available reports whether the session is an available resource: it has
// broadcast an available presence and not since an unavailable one.
func (s *Session) Available() bool { return s.Presence != nil }

// Authenticated reports whether SASL has succeeded on this connection.
func (s *Session) Authenticated() bool { return s.Username != "" }

// BareJID returns username@host once authenticated, or "".
func (s *Session) BareJID() string {
	if s.Username == "" {
		return ""
	}
	return s.Username + "@" + s.Host
}

func (s *Session) policy() *Policy {
	if s.Policy == nil {
		return &DefaultPolicy
	}
	return s.Policy
}
