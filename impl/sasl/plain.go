package sasl

import (
	"bytes"
	"unicode/utf8"

	"github.com/xmppfsm/xmppfsm/fsm"
)

// maxPlainField bounds each field of a PLAIN message, in octets (RFC 4616
// §2 asks servers to accept at least 255).
const maxPlainField = 1024

// plainExchange runs PLAIN (RFC 4616): one message, [authzid] NUL authcid
// NUL passwd, checked against the account's SCRAM credentials.
type plainExchange struct {
	s    *Server
	done bool
}

func (x *plainExchange) Step(data []byte) fsm.Event {
	if x.done {
		return done{}.Step(data)
	}
	x.done = true
	s := x.s
	f := bytes.Split(data, []byte{0})
	if len(f) != 3 {
		return failure("malformed-request", "PLAIN needs authzid NUL authcid NUL password")
	}
	for _, v := range f {
		if len(v) > maxPlainField || !utf8.Valid(v) {
			return failure("malformed-request", "bad PLAIN message")
		}
	}
	if len(f[1]) == 0 || len(f[2]) == 0 {
		return failure("malformed-request", "empty authcid or password")
	}
	// RFC 4616 §5: failed preparation fails the verification.
	user, err := saslprep(string(f[1]))
	if err != nil || user == "" {
		return failure("not-authorized", "")
	}
	if !s.authzOK(string(f[0]), user) {
		return failure("invalid-authzid", "")
	}
	password, err := saslprep(string(f[2]))
	if err != nil || password == "" {
		return failure("not-authorized", "")
	}
	creds, found, err := s.lookup(user)
	if err != nil {
		return failure("temporary-auth-failure", "")
	}
	// Verify uses SHA-256 when the account has it; an unknown account (or
	// one without any usable credential) costs the same PBKDF2 run against
	// its fake SHA-256 credential.
	h := hashSHA256
	if found && !creds.SHA256.valid(hashSHA256) && creds.SHA1.valid(hashSHA1) {
		h = hashSHA1
	}
	hc, known := s.credentials(h, user, creds, found)
	var check Credentials
	*check.forHash(h) = hc
	if !check.verifyPrepped(password) || !known {
		return failure("not-authorized", "")
	}
	return success(user, nil)
}
