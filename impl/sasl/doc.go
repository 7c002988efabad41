// Package sasl runs the SASL mechanisms that package fsm leaves to the
// adapter (RFC 6120 §6): SCRAM-SHA-256 and SCRAM-SHA-1 (RFC 7677, RFC 5802)
// with their -PLUS variants bound to the TLS channel by tls-exporter
// (RFC 9266), and PLAIN (RFC 4616).
//
// The adapter builds one [Server] from a credential lookup and [Options],
// hands [Mechanisms] to fsm.Policy, and for each fsm.EffSASLStart calls
// [Server.Start], keeping the [Exchange] it returns for the EffSASLStep
// effects that follow. Every call returns exactly the fsm.Event to feed back
// to the session: EvSASLChallenge, EvSASLSuccess or EvSASLFailure.
//
// Accounts keep [Credentials]: per hash a salt, an iteration count, a
// StoredKey and a ServerKey (RFC 5802 §3), never the password. PLAIN is
// verified by recomputing StoredKey from the presented password. Credentials
// print and log with their key material redacted.
//
// # Preparation of strings
//
// Usernames and passwords are prepared with SASLprep (RFC 4013), as RFC 5802
// §5.1, RFC 7677 and RFC 4616 §5 say, using github.com/xdg-go/stringprep: it is
// what xdg-go/scram's client (and most deployed clients) apply before
// deriving keys, so a password registered here yields the same StoredKey the
// client computes. PRECIS OpaqueString (RFC 8265 §4.2) differs from SASLprep
// (NFC rather than NFKC; no mapping of U+00AD and the other "commonly mapped
// to nothing" characters), so a password like "I\u00ADX" or one with
// compatibility characters would derive different keys on the two sides. The
// library's NFKC comes from golang.org/x/text (a newer Unicode than the 3.2
// of RFC 3454); code points unassigned in Unicode 3.2 are prohibited, as for
// stored strings.
//
// # Conditions
//
// Failures carry the RFC 6120 §6.5 conditions:
//
//   - not-authorized: a wrong password or proof, an unknown user, a username
//     that SASLprep rejects, channel binding data that does not match, a
//     SCRAM downgrade (gs2 flag "y" while -PLUS is offered, RFC 5802 §6), and
//     a client-final message whose nonce is not the one of this exchange (a
//     replay). For unknown users a SCRAM exchange runs to the end against a
//     fake credential derived from a server secret and the username (stable
//     salt, the configured iteration count), and PLAIN runs PBKDF2 against
//     it, so neither the number of steps nor the work reveals whether the
//     account exists.
//   - malformed-request: data that violates the mechanism's syntax, a gs2
//     flag that does not fit the mechanism ("p" with SCRAM-SHA-*, "n" or "y"
//     with -PLUS), a channel binding type other than the one the connection
//     has (in particular "p=tls-unique": tls-unique is undefined for TLS 1.3,
//     RFC 8446 §C.5 and RFC 9266, so only tls-exporter is offered), SCRAM
//     mandatory extensions ("m="), and any step after the exchange ended.
//   - invalid-authzid: an authorization identity other than the
//     authentication identity (or its bare JID at one of Options.Domains):
//     proxy authentication is not supported.
//   - invalid-mechanism: a mechanism this package does not run, or a -PLUS
//     mechanism that was not offered (on a connection without channel
//     binding data, or with Options.NoChannelBinding).
//   - temporary-auth-failure: the credential lookup returned an error.
//
// incorrect-encoding (bad base64) is detected by package fsm before data
// reaches this package.
package sasl
