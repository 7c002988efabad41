package sasl

import (
	"crypto/tls"
	"fmt"
	"io"
	"strconv"

	"github.com/xmppfsm/xmppfsm/fsm"
)

// The mechanisms this package runs.
const (
	ScramSHA256Plus = "SCRAM-SHA-256-PLUS"
	ScramSHA1Plus   = "SCRAM-SHA-1-PLUS"
	ScramSHA256     = "SCRAM-SHA-256"
	ScramSHA1       = "SCRAM-SHA-1"
	Plain           = "PLAIN"
)

// Options configures a Server and the mechanisms it offers.
type Options struct {
	// TLS says the adapter can run TLS on a connection (it has a
	// certificate): the -PLUS mechanisms are offered only then, and only
	// on a stream that TLS protects (fsm hides them elsewhere, NeedsTLS).
	TLS bool
	// NoChannelBinding offers no -PLUS mechanism even with TLS. A client
	// that supports channel binding then says so with the gs2 flag "y"
	// and is accepted (RFC 5802 §6: the server does not support it), where
	// with -PLUS on offer "y" is refused as a downgrade. It lets clients
	// log in that know only tls-unique, undefined under TLS 1.3 (slixmpp
	// 1.8.3 is one), at the price of channel binding's protection against
	// a man in the middle who holds a certificate the client trusts.
	NoChannelBinding bool
	// InsecurePlain offers PLAIN on streams without TLS. It sends the
	// password in the clear: for loopback testing only.
	InsecurePlain bool
	// Iterations is the iteration count of the fake credentials that stand
	// in for unknown users, so set it to the count accounts are registered
	// with (NewCredentials). Zero means DefaultIterations.
	Iterations int
	// Secret keys the fake credentials of unknown users (their salts and
	// keys are derived from it and the username, so a repeated attempt
	// sees the same salt). Keep the same secret across restarts or an
	// unknown user's salt changes at each one, which a real account's
	// doesn't. Nil means 32 octets from crypto/rand, drawn by NewServer.
	Secret []byte
	// Domains are the server's domains (fsm.Policy.Hosts): an
	// authorization identity that is the bare JID of the authenticating
	// user at one of them is accepted (RFC 6120 §6.3.8 asks a client that
	// sends one to send a bare JID); any other authzid but the authcid
	// itself gets invalid-authzid.
	Domains []string
}

// Mechanisms returns the mechanisms for fsm.Policy.Mechanisms in order of
// preference: SCRAM-SHA-256-PLUS and SCRAM-SHA-1-PLUS (when opts.TLS and
// not opts.NoChannelBinding; they need TLS), SCRAM-SHA-256, SCRAM-SHA-1, and PLAIN (which needs TLS unless
// opts.InsecurePlain).
func Mechanisms(opts Options) []fsm.Mechanism {
	var ms []fsm.Mechanism
	if opts.TLS && !opts.NoChannelBinding {
		ms = append(ms,
			fsm.Mechanism{Name: ScramSHA256Plus, NeedsTLS: true},
			fsm.Mechanism{Name: ScramSHA1Plus, NeedsTLS: true})
	}
	return append(ms,
		fsm.Mechanism{Name: ScramSHA256},
		fsm.Mechanism{Name: ScramSHA1},
		fsm.Mechanism{Name: Plain, NeedsTLS: !opts.InsecurePlain})
}

// ChannelBindingTLSExporter is the channel binding type of RFC 9266, the
// only one this package's adapters are expected to give. (tls-unique is
// undefined for TLS 1.3 and is refused; tls-server-end-point works if the
// adapter builds it from its own certificate.)
const ChannelBindingTLSExporter = "tls-exporter"

// ChannelBinding is the channel binding data of a connection, given by
// the TLS adapter to Server.Start: zero on a connection without TLS.
type ChannelBinding struct {
	Type string // "tls-exporter"
	Data []byte
}

// TLSExporter returns the tls-exporter channel binding of a TLS connection
// (RFC 9266: 32 octets exported with label "EXPORTER-Channel-Binding" and
// no context). Go exports keying material for TLS 1.3, and for TLS 1.2 only
// with the Extended Master Secret extension; otherwise it returns an error
// and the connection has no channel binding (pass the zero ChannelBinding).
func TLSExporter(cs *tls.ConnectionState) (ChannelBinding, error) {
	data, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	if err != nil {
		return ChannelBinding{}, fmt.Errorf("sasl: tls-exporter: %w", err)
	}
	return ChannelBinding{Type: ChannelBindingTLSExporter, Data: data}, nil
}

// usable reports whether cb can bind a -PLUS exchange.
func (cb ChannelBinding) usable() bool {
	return cb.Type != "" && cb.Type != "tls-unique" && len(cb.Data) > 0
}

// String describes cb without its data.
func (cb ChannelBinding) String() string {
	if cb.Type == "" && len(cb.Data) == 0 {
		return "sasl.ChannelBinding{none}"
	}
	return "sasl.ChannelBinding{" + cb.Type + ", " + strconv.Itoa(len(cb.Data)) + " octets}"
}

// Format prints cb without its data, whatever the verb.
func (cb ChannelBinding) Format(f fmt.State, _ rune) {
	io.WriteString(f, cb.String())
}
