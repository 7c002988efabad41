// Package interop tests xmppd against real third-party XMPP clients:
// slixmpp (Python), xmpp.js (Node) and mellium.im/xmpp (Go).
//
// The tests build cmd/xmppd once (internal/xmppdtest); each creates two
// accounts with `xmppd user add` in a fresh data directory, starts `xmppd
// serve` on a free loopback port (STARTTLS required, the generated
// self-signed certificate), and drives one client library through the same scenario:
// STARTTLS trusting the generated certificate, SCRAM, roster fetch,
// initial presence, a subscription made in-protocol, presence seen by the
// subscribed contact, a message, a clean close both ways (the contact's
// unavailable presence seen by the subscriber), and a wrong password
// answered with not-authorized. Each external client prints one
// RESULT line of JSON that the test asserts on; xmppd's structured log is
// checked for the SASL mechanism used, clean closes and errors.
//
// slixmpp runs twice: with its channel binding data withheld (it knows
// only tls-unique, and with it would send the gs2 flag "y", refused while
// -PLUS is offered), and as it comes against an xmppd serving with
// --channel-binding=false, where its wrong password tries each mechanism
// and the third failure closes the stream.
//
// A client that is not installed makes its test skip, unless
// XMPPFSM_REQUIRE_CLIENTS=1 (CI sets it), which makes it fail.
package interop
