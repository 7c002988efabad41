package sasl

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"

	"github.com/xdg-go/scram"
	"github.com/xmppfsm/xmppfsm/fsm"
)

// maxSCRAMMessage bounds a SCRAM client message, in octets.
const maxSCRAMMessage = 4096

type exchangeState uint8

const (
	stateFirst exchangeState = iota // waiting for the client's first message
	stateFinal                      // waiting for the client's final message
	stateDone
)

// scramExchange runs SCRAM-SHA-1 or SCRAM-SHA-256, with or without -PLUS.
// It checks the syntax and the gs2 header itself (RFC 5802 §7), so that
// each failure gets its RFC 6120 condition, and leaves the computation to
// xdg-go/scram's server conversation.
type scramExchange struct {
	s        *Server
	h        hashKind
	plus     bool
	cb       ChannelBinding
	state    exchangeState
	conv     *scram.ServerConversation
	username string // the prepared authcid
	known    bool   // the credential is the account's own, not a fake one
}

func (x *scramExchange) Step(data []byte) fsm.Event {
	switch x.state {
	case stateFirst:
		x.state = stateDone
		return x.first(data)
	case stateFinal:
		x.state = stateDone
		return x.final(data)
	}
	return done{}.Step(data)
}

// first answers client-first-message with server-first-message.
func (x *scramExchange) first(data []byte) fsm.Event {
	s := x.s
	m, ok := parseClientFirst(data)
	if !ok {
		return failure("malformed-request", "bad client-first-message")
	}
	switch {
	case m.mext:
		return failure("malformed-request", "SCRAM extensions are not supported")
	case x.plus && m.flag != 'p':
		return failure("malformed-request", "a -PLUS mechanism needs gs2 flag p")
	case x.plus && m.cbType != x.cb.Type:
		return failure("malformed-request", "channel binding type not supported, use "+x.cb.Type)
	case !x.plus && m.flag == 'p':
		return failure("malformed-request", "channel binding needs a -PLUS mechanism")
	case !x.plus && m.flag == 'y' && s.plusOffered(x.cb):
		// RFC 5802 §6: the client saw no -PLUS mechanism, which was offered.
		return failure("not-authorized", "channel binding downgrade")
	}
	user, err := saslprep(m.username)
	if err != nil || user == "" {
		return failure("not-authorized", "")
	}
	if !s.authzOK(m.authzid, user) {
		return failure("invalid-authzid", "")
	}
	creds, found, err := s.lookup(user)
	if err != nil {
		return failure("temporary-auth-failure", "")
	}
	hc, known := s.credentials(x.h, user, creds, found)
	stored := hc.scram()
	srv, err := x.h.scram().NewServer(func(string) (scram.StoredCredentials, error) { return stored, nil })
	if err != nil {
		return failure("temporary-auth-failure", "")
	}
	if s.nonce != nil {
		srv.WithNonceGenerator(s.nonce)
	}
	scb := scram.ChannelBinding{Type: scram.ChannelBindingType(x.cb.Type), Data: x.cb.Data}
	switch {
	case x.plus:
		x.conv = srv.NewConversationWithChannelBindingRequired(scb)
	case s.plusOffered(x.cb):
		x.conv = srv.NewConversationWithChannelBinding(scb)
	default:
		x.conv = srv.NewConversation()
	}
	resp, err := x.conv.Step(string(data))
	if err != nil {
		// Not reached: parseClientFirst is stricter than the library.
		return failure("malformed-request", "bad client-first-message")
	}
	x.username, x.known = user, known
	x.state = stateFinal
	return challenge([]byte(resp))
}

// final answers client-final-message with success and server-final-message.
func (x *scramExchange) final(data []byte) fsm.Event {
	if !checkClientFinal(data, x.h.size()) {
		return failure("malformed-request", "bad client-final-message")
	}
	// The library checks, in constant time, the channel binding (gs2
	// header and, for -PLUS, the connection's data), the nonce (a replayed
	// message carries another exchange's) and the proof; a fake credential
	// fails at the proof after the same work as a wrong password.
	conv := x.conv
	x.conv = nil // drop the credential
	resp, err := conv.Step(string(data))
	if err != nil || !conv.Valid() || !x.known {
		return failure("not-authorized", "")
	}
	return success(x.username, []byte(resp))
}

// clientFirst is what a client-first-message says.
type clientFirst struct {
	flag     byte   // 'n', 'y' or 'p'
	cbType   string // after "p="
	authzid  string // decoded, "" when absent
	mext     bool   // a reserved-mext ("m=") is present
	username string // decoded
}

// parseClientFirst parses a client-first-message (RFC 5802 §7):
//
//	gs2-cbind-flag "," [ "a=" saslname ] "," [reserved-mext ","]
//	"n=" saslname "," "r=" c-nonce ["," extensions]
func parseClientFirst(data []byte) (m clientFirst, ok bool) {
	if len(data) > maxSCRAMMessage || !utf8.Valid(data) {
		return m, false
	}
	f := strings.Split(string(data), ",")
	if len(f) < 4 {
		return m, false
	}
	switch {
	case f[0] == "n" || f[0] == "y":
		m.flag = f[0][0]
	case strings.HasPrefix(f[0], "p=") && isCBName(f[0][2:]):
		m.flag, m.cbType = 'p', f[0][2:]
	default:
		return m, false
	}
	if f[1] != "" {
		a, ok := strings.CutPrefix(f[1], "a=")
		if !ok {
			return m, false
		}
		if m.authzid, ok = decodeSASLName(a); !ok {
			return m, false
		}
	}
	f = f[2:]
	if strings.HasPrefix(f[0], "m=") {
		if !isValue(f[0][2:]) {
			return m, false
		}
		m.mext = true
		f = f[1:]
	}
	if len(f) < 2 {
		return m, false
	}
	n, ok := strings.CutPrefix(f[0], "n=")
	if !ok {
		return m, false
	}
	if m.username, ok = decodeSASLName(n); !ok {
		return m, false
	}
	r, ok := strings.CutPrefix(f[1], "r=")
	if !ok || !isPrintable(r) {
		return m, false
	}
	return m, areExtensions(f[2:])
}

// checkClientFinal checks the syntax of a client-final-message (RFC 5802
// §7) whose proof is size octets:
//
//	"c=" base64 "," "r=" nonce ["," extensions] "," "p=" base64
func checkClientFinal(data []byte, size int) bool {
	if len(data) > maxSCRAMMessage || !utf8.Valid(data) {
		return false
	}
	f := strings.Split(string(data), ",")
	if len(f) < 3 {
		return false
	}
	c, ok := strings.CutPrefix(f[0], "c=")
	if !ok || !isBase64(c) {
		return false
	}
	if r, ok := strings.CutPrefix(f[1], "r="); !ok || !isPrintable(r) {
		return false
	}
	p, ok := strings.CutPrefix(f[len(f)-1], "p=")
	if !ok || !isBase64(p) {
		return false
	}
	if proof, err := base64.StdEncoding.Strict().DecodeString(p); err != nil || len(proof) != size {
		return false
	}
	return areExtensions(f[2 : len(f)-1])
}

// decodeSASLName decodes saslname = 1*(value-safe-char / "=2C" / "=3D").
func decodeSASLName(s string) (string, bool) {
	if s == "" || strings.ContainsRune(s, 0) {
		return "", false
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '=')
		if i < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		b.WriteString(s[:i])
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", false
		}
		s = s[i+3:]
	}
}

// isCBName: cb-name = 1*(ALPHA / DIGIT / "." / "-").
func isCBName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !('0' <= c && c <= '9') && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// isPrintable: 1*printable, printable = %x21-2B / %x2D-7E.
func isPrintable(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

// isBase64: 1*(the base64 alphabet and "="), decodable.
func isBase64(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !('0' <= c && c <= '9') && c != '+' && c != '/' && c != '=' {
			return false
		}
	}
	_, err := base64.StdEncoding.Strict().DecodeString(s)
	return err == nil
}

// isValue: value = 1*value-char (any UTF-8 but NUL and ",").
func isValue(s string) bool {
	return s != "" && !strings.ContainsRune(s, 0)
}

// areExtensions: each field is attr-val = ALPHA "=" value.
func areExtensions(f []string) bool {
	for _, e := range f {
		if len(e) < 3 || !isAlpha(e[0]) || e[1] != '=' || !isValue(e[2:]) {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
