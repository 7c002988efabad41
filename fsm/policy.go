package fsm

// Policy holds the choices the RFCs leave to a server, and the places where
// Prosody differs from the RFC. DefaultPolicy follows the RFC; spec/session.md
// names each field's rule and what Prosody does.
type Policy struct {
	// Hosts are the domains this server serves, already prepared (lower
	// case). A stream header addressed to any other domain gets host-unknown.
	Hosts []string

	// TLS says whether the adapter can offer STARTTLS (it has a certificate).
	TLS bool
	// RequireTLS makes STARTTLS mandatory: <required/> is offered, no SASL
	// mechanism is offered before TLS, and <auth/> before TLS fails with
	// encryption-required. It has no effect when TLS is false.
	RequireTLS bool

	// Mechanisms are the SASL mechanisms the adapter can run, in order of
	// preference.
	Mechanisms []Mechanism
	// MaxSASLFailures is the number of failed SASL attempts after which the
	// stream is closed (RFC 6120 §6.4.5 asks for a limit of 2 to 5). Zero
	// means 3.
	MaxSASLFailures uint8

	// LegacySession offers <session><optional/></session> after bind and
	// answers the session request (RFC 3921 §3; RFC 6121 §1.4 made it
	// optional).
	LegacySession bool
	// RosterVersioning and PreApproval offer the features of RFC 6121 §2.6
	// and §3.4 after authentication.
	RosterVersioning bool
	PreApproval      bool

	// OfflineStorage keeps chat and normal messages for a user with no
	// available resource of non-negative priority, to deliver at its next
	// initial presence (RFC 6121 §8.5.2.1.1 allows storing or bouncing).
	OfflineStorage bool

	// IQFromStrangers delivers an iq get or set addressed to a connected
	// full JID from any sender, as Prosody does. RFC 6121 §8.5.3.1 says the
	// server SHOULD NOT deliver it unless the user shares presence with the
	// sender (a subscription from the user), so that iqs do not reveal
	// presence; by default it answers service-unavailable instead.
	IQFromStrangers bool

	// SubscribeAck answers a subscription request that is delivered or
	// already pending with unavailable presence from the user's bare JID to
	// the requester's, as an acknowledgement of receipt (RFC 6121 §3.1.3
	// rule 3: MAY; Prosody does).
	SubscribeAck bool
	// ProbeOnApproval sends a probe from the user's bare JID to a contact
	// when approving its request makes the subscription both (Prosody does;
	// RFC 6121 does not ask for it).
	ProbeOnApproval bool

	// UnauthStanza is the answer to a stanza sent before the session is
	// bound.
	UnauthStanza UnauthStanzaPolicy
	// Conflict is the answer when a client binds a resource that another
	// session of the same user holds.
	Conflict ConflictPolicy
	// MaxResources is the most connected resources one account may have at
	// once; a bind beyond it gets resource-constraint (RFC 6120 §7.6.2.1).
	// Zero means no limit, as in the RFC, which sets none (Prosody has
	// none by default either).
	MaxResources int
	// MaxRosterItems is the most items one roster may hold: a roster set
	// or a subscription stanza that would add an item beyond it gets
	// wait/resource-constraint (I-51, I-52). Zero means no limit, as in
	// the RFC, which sets none (Prosody has none either).
	MaxRosterItems int
	// MaxDirected is the most targets of directed available presence a
	// session remembers (S-74); available presence to one more gets
	// wait/resource-constraint and is not routed (S-106). Zero means no
	// limit, as in the RFC, which sets none (Prosody has none either).
	MaxDirected int
}

// Mechanism describes a SASL mechanism the adapter can run.
type Mechanism struct {
	// Name is the IANA name, e.g. "SCRAM-SHA-256".
	Name string
	// NeedsTLS hides the mechanism on a stream without TLS, and makes an
	// <auth/> for it there fail with encryption-required (e.g. PLAIN, and
	// every -PLUS mechanism, which binds to the TLS channel).
	NeedsTLS bool
}

// UnauthStanzaPolicy says how a stanza sent before the session is bound is
// answered.
type UnauthStanzaPolicy uint8

const (
	// UnauthStreamError closes the stream with <not-authorized/>
	// (RFC 6120 §4.9.3.12).
	UnauthStreamError UnauthStanzaPolicy = iota
	// UnauthStanzaError answers the stanza with a stanza error and keeps the
	// stream open, as Prosody does: service-unavailable, or not-authorized
	// for a bind request before authentication; error and result stanzas
	// are dropped.
	UnauthStanzaError
)

// ConflictPolicy says what happens when a client binds a resource that
// another session of the same user holds (RFC 6120 §7.7.2.2).
type ConflictPolicy uint8

const (
	// ConflictReplace closes the other session with a <conflict/> stream
	// error and gives the resource to the new one (Prosody's default).
	ConflictReplace ConflictPolicy = iota
	// ConflictRefuse answers the bind request with a <conflict/> stanza error.
	ConflictRefuse
	// ConflictGenerate binds a resource that the server generates instead.
	ConflictGenerate
)

// DefaultPolicy is the RFC's choice at every point: one host, "localhost";
// no TLS (an adapter with a certificate turns TLS and RequireTLS on);
// SCRAM-SHA-256 and SCRAM-SHA-1 anywhere, PLAIN only under TLS; three SASL
// attempts; the legacy session feature, roster versioning and pre-approval
// offered; stanzas before bind closed with not-authorized; conflicts
// resolved by replacing the old session.
var DefaultPolicy = Policy{
	Hosts: []string{"localhost"},
	Mechanisms: []Mechanism{
		{Name: "SCRAM-SHA-256"},
		{Name: "SCRAM-SHA-1"},
		{Name: "PLAIN", NeedsTLS: true},
	},
	MaxSASLFailures:  3,
	OfflineStorage:   true,
	LegacySession:    true,
	RosterVersioning: true,
	PreApproval:      true,
}

func (p *Policy) serves(host string) bool {
	for _, h := range p.Hosts {
		if h == host {
			return true
		}
	}
	return false
}

func (p *Policy) offline() bool { return p.OfflineStorage }

// rosterFull reports whether a roster of n items may take no new item.
func (p *Policy) rosterFull(n int) bool { return p.MaxRosterItems > 0 && n >= p.MaxRosterItems }

func (p *Policy) maxFailures() uint8 {
	if p.MaxSASLFailures == 0 {
		return 3
	}
	return p.MaxSASLFailures
}

// mechanism returns the named mechanism and whether the adapter has it.
func (p *Policy) mechanism(name string) (Mechanism, bool) {
	for _, m := range p.Mechanisms {
		if m.Name == name {
			return m, true
		}
	}
	return Mechanism{}, false
}
