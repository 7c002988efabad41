package sasl

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/jid"
)

// Lookup returns the credentials of the account username (the
// authentication identity after SASLprep), whether the account exists, and
// an error when the store can't be read (the exchange then fails with
// temporary-auth-failure). See LookupBytes for a store keyed by localpart.
type Lookup func(username string) (Credentials, bool, error)

// LookupBytes adapts a store that keeps the encoded credentials of each
// account under its localpart (impl/store.Store.Account): the username is
// prepared as a localpart (jid.PrepLocal, so "Juliet" finds "juliet", the
// account fsm will bind) and the record decoded with UnmarshalBinary. A
// username that is no localpart is an unknown account; a record that can't
// be decoded is an error.
func LookupBytes(get func(local string) ([]byte, bool, error)) Lookup {
	return func(username string) (Credentials, bool, error) {
		local, err := jid.PrepLocal(username)
		if err != nil {
			return Credentials{}, false, nil
		}
		data, ok, err := get(local)
		if err != nil || !ok {
			return Credentials{}, false, err
		}
		var c Credentials
		if err := c.UnmarshalBinary(data); err != nil {
			return Credentials{}, false, err
		}
		return c, true, nil
	}
}

// Server runs the server side of the mechanisms. It is safe for concurrent
// use; each authentication attempt has its own Exchange.
type Server struct {
	lookup     Lookup
	opts       Options
	iterations int
	secret     []byte
	domains    map[string]bool
	nonce      func() string // tests only: a fixed server nonce
}

// NewServer returns a Server that finds credentials with lookup.
func NewServer(lookup Lookup, opts Options) (*Server, error) {
	if lookup == nil {
		return nil, errors.New("sasl: nil lookup")
	}
	s := &Server{lookup: lookup, opts: opts, iterations: opts.Iterations, domains: map[string]bool{}}
	if s.iterations == 0 {
		s.iterations = DefaultIterations
	}
	if s.iterations < 1 || s.iterations > maxIterations {
		return nil, fmt.Errorf("sasl: iteration count %d out of range 1…%d", s.iterations, maxIterations)
	}
	if opts.Secret != nil {
		s.secret = append([]byte(nil), opts.Secret...)
	} else {
		s.secret = make([]byte, 32)
		rand.Read(s.secret)
	}
	s.opts.Secret = nil
	for _, d := range opts.Domains {
		p, err := jid.PrepDomain(d)
		if err != nil {
			return nil, fmt.Errorf("sasl: domain %q: %w", d, err)
		}
		s.domains[p] = true
	}
	return s, nil
}

// Exchange is one authentication attempt in progress. Feed it the data of
// each fsm.EffSASLStep; it returns the event to feed back to the session.
// After a success or a failure every Step fails with malformed-request.
// An Exchange is not safe for concurrent use.
type Exchange interface {
	Step(data []byte) fsm.Event
}

// Start begins an attempt with mechanism mech (fsm.Effect.Mechanism) and
// the client's initial response (fsm.Effect.Data: nil when the client sent
// none). cb is the connection's channel binding (zero without TLS, or when
// TLS can't export it). Start returns the Exchange, never nil, and the
// event for the session: an empty challenge when a mechanism needs the
// client's first message and got none.
func (s *Server) Start(mech string, initial []byte, cb ChannelBinding) (Exchange, fsm.Event) {
	switch mech {
	case ScramSHA256, ScramSHA1, ScramSHA256Plus, ScramSHA1Plus:
		x := &scramExchange{s: s, cb: cb, h: hashSHA256}
		if mech == ScramSHA1 || mech == ScramSHA1Plus {
			x.h = hashSHA1
		}
		x.plus = mech == ScramSHA256Plus || mech == ScramSHA1Plus
		if x.plus && !s.plusOffered(cb) {
			x.state = stateDone
			if s.opts.NoChannelBinding {
				return x, failure("invalid-mechanism", "channel binding is off")
			}
			return x, failure("invalid-mechanism", "no channel binding on this connection")
		}
		if initial == nil {
			return x, challenge(nil)
		}
		return x, x.Step(initial)
	case Plain:
		x := &plainExchange{s: s}
		if initial == nil {
			return x, challenge(nil)
		}
		return x, x.Step(initial)
	}
	return done{}, failure("invalid-mechanism", "")
}

// plusOffered reports whether -PLUS mechanisms were offered on the
// connection whose channel binding is cb.
func (s *Server) plusOffered(cb ChannelBinding) bool {
	return s.opts.TLS && !s.opts.NoChannelBinding && cb.usable()
}

// authzOK reports whether authzid may be used by the user whose prepared
// authentication identity is authcid: it must be empty, authcid itself, or
// the bare JID authcid@domain at one of the server's domains.
func (s *Server) authzOK(authzid, authcid string) bool {
	if authzid == "" {
		return true
	}
	if p, err := saslprep(authzid); err == nil && p == authcid {
		return true
	}
	if len(s.domains) == 0 {
		return false
	}
	j, err := jid.Parse(authzid)
	if err != nil || !j.IsBare() || j.Local() == "" || !s.domains[j.Domain()] {
		return false
	}
	local, err := jid.PrepLocal(authcid)
	return err == nil && local == j.Local()
}

// credentials returns the credential of hash h of username to check the
// attempt against, and whether it is the account's own: for an unknown
// account, or one without a credential of h, it is a fake one. The fake one
// is computed in every case, so both paths cost the same.
func (s *Server) credentials(h hashKind, username string, c Credentials, found bool) (HashCredentials, bool) {
	fake := s.fake(h, username)
	if hc := c.forHash(h); found && hc.valid(h) {
		return *hc, true
	}
	return fake, false
}

// fake derives the stand-in credential of hash h for username from the
// server secret: a stable salt of SaltSize octets, the server's iteration
// count, and keys no password yields (finding one is inverting H).
func (s *Server) fake(h hashKind, username string) HashCredentials {
	sum := func(label string) []byte {
		mac := hmac.New(sha256.New, s.secret)
		fmt.Fprintf(mac, "%s\x00%v\x00%s", label, h, username)
		return mac.Sum(nil)
	}
	return HashCredentials{
		Salt:       sum("salt")[:SaltSize],
		Iterations: s.iterations,
		StoredKey:  sum("stored-key")[:h.size()],
		ServerKey:  sum("server-key")[:h.size()],
	}
}

// done is an exchange that is over.
type done struct{}

func (done) Step([]byte) fsm.Event { return failure("malformed-request", "no exchange in progress") }

func challenge(data []byte) fsm.Event {
	if data == nil {
		data = []byte{}
	}
	return fsm.Event{Kind: fsm.EvSASLChallenge, Data: data}
}

func success(username string, data []byte) fsm.Event {
	return fsm.Event{Kind: fsm.EvSASLSuccess, Username: username, Data: data}
}

func failure(cond, text string) fsm.Event {
	return fsm.Event{Kind: fsm.EvSASLFailure, Condition: cond, Text: text}
}
