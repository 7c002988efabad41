package fsm

// Invariant is one of the session invariants that Check states.
type Invariant struct{ ID, Text string }

// Invariants lists the session invariants in the words of spec/session.md
// (a test keeps the two the same).
var Invariants = []Invariant{
	{"SI-1", "available ⇒ connected"},
	{"SI-2", "interested ⇒ connected"},
	{"SI-3", "connected ⇔ full JID ⇔ resource ⇔ roster loaded"},
	{"SI-4", "full JID = username@host/resource"},
	{"SI-5", "type c2s_unbound or c2s ⇔ authenticated ⇔ username set; type c2s ⇔ connected ⇔ phase established; type c2s_destroyed ⇔ phase closed"},
	{"SI-6", "notopen ⇔ waiting for a stream header, and then nothing newer than the restart: no features offered, no SASL exchange, no bind"},
	{"SI-7", "the stored presence has no type and no to"},
	{"SI-8", "priority is 0 unless available (its range, −128..127, is its type's)"},
	{"SI-9", "a SASL mechanism is named exactly during an exchange; an open stream has fewer failed attempts than the limit"},
	{"SI-10", "a bind id is held exactly while a bind is served; a reserved resource only then"},
	{"SI-11", "directed-presence targets belong to a connected resource, each once"},
	{"SI-12", "past the first header the host is one the server serves"},
	{"SI-13", "a destroyed session keeps only its connection id"},
	{"SI-14", "bind and session are offered only after authentication; STARTTLS and SASL only before"},
}
