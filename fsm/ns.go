package fsm

// XML namespaces the session machine reads and writes.
const (
	NSStreams    = "http://etherx.jabber.org/streams"
	NSClient     = "jabber:client"
	NSStreamErr  = "urn:ietf:params:xml:ns:xmpp-streams"
	NSStanzaErr  = "urn:ietf:params:xml:ns:xmpp-stanzas"
	NSTLS        = "urn:ietf:params:xml:ns:xmpp-tls"
	NSSASL       = "urn:ietf:params:xml:ns:xmpp-sasl"
	NSBind       = "urn:ietf:params:xml:ns:xmpp-bind"
	NSSession    = "urn:ietf:params:xml:ns:xmpp-session"
	NSRoster     = "jabber:iq:roster"
	NSRosterVer  = "urn:xmpp:features:rosterver"
	NSPreApprove = "urn:xmpp:features:pre-approval"
)
