// Package server runs the client-to-server side of an XMPP server over TCP:
// it accepts connections, frames their streams with package stream, runs
// STARTTLS and SASL (package sasl), and hands every event to the sessions
// of a router.Router, carrying out the effects the router leaves to the
// connection. It decides nothing about the protocol: package fsm does.
//
// Each connection has one reader goroutine, which owns every Step of its
// session, and, while there is output to send, one writer goroutine, which
// sends what the session's steps (its own and those routed to it from
// other goroutines) put in the connection's capped output buffer. An idle
// connection holds only its reader goroutine: no writer, and (after a
// quiet second) no read or write buffer.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/router"
	"github.com/xmppfsm/xmppfsm/impl/sasl"
	"github.com/xmppfsm/xmppfsm/impl/store"
	"github.com/xmppfsm/xmppfsm/impl/stream"
)

// Defaults for Config.
const (
	DefaultNegotiationTimeout = 30 * time.Second
	DefaultIdleTimeout        = 10 * time.Minute
	// MaxOutput is the default cap of a connection's output: the bytes
	// waiting for the client to read them. A client that stops reading
	// while others send to it is disconnected with a stream error once
	// their stanzas pass the cap (S-98).
	//
	// The answer to the client's own request (its roster, its offline
	// messages and its contacts' presence at login) is never cut, and the
	// client's next request is read only once less than half the cap waits
	// for it. Stanzas from others are counted from the end of that answer:
	// they fit up to the cap, and past it only while the client reads (a
	// chunk was sent since they last went past it), never past twice the
	// cap. So a connection's output holds at most about MaxOutput/2 +
	// one answer to the client's own request (bounded by the roster limit
	// and the offline quota, times the stanza limit) + 2 × MaxOutput, plus
	// the stanzas others send it while that answer is being made (they
	// are not cut either: bounded by how long the step takes, not by
	// bytes); the buffers holding it take up to twice that (a buffer being
	// sent is kept whole until sent, and a growing one keeps spare room).
	MaxOutput = 4 << 20
	// writeTimeout bounds each chunk (writeChunk) written to a client: a
	// client that reads nothing for that long is disconnected.
	writeTimeout = time.Minute
)

// Config configures a Server.
type Config struct {
	// Domains are the domains served (fsm.Policy.Hosts), prepared (lower
	// case). At least one is needed.
	Domains []string
	// C2S is the client listener's address for ListenAndServe.
	C2S string
	// TLS is the configuration of STARTTLS; nil means no STARTTLS.
	TLS *tls.Config
	// RequireTLS makes STARTTLS mandatory (only with TLS).
	RequireTLS bool
	// InsecurePlain offers PLAIN without TLS: for loopback tests only.
	InsecurePlain bool
	// NoChannelBinding offers no SCRAM -PLUS mechanism, so that clients
	// that know only tls-unique can log in (sasl.Options.NoChannelBinding).
	NoChannelBinding bool
	// Store keeps accounts and user data. The caller closes it after
	// Shutdown.
	Store store.Store
	// NegotiationTimeout limits the time from connect to bind; 0 means
	// DefaultNegotiationTimeout, a negative value no limit.
	NegotiationTimeout time.Duration
	// IdleTimeout closes a connection nothing was read from for that long;
	// 0 means DefaultIdleTimeout, a negative value no limit.
	IdleTimeout time.Duration
	// MaxStanza is the largest top-level element accepted, in bytes; 0
	// means stream.DefaultMaxStanza. At most half of MaxOutput: a stanza
	// from another always fits in an output below the cap.
	MaxStanza int
	// MaxOutput is the cap of a connection's output, in bytes (S-98; see
	// the constant MaxOutput for what it bounds); 0 means MaxOutput.
	MaxOutput int
	// MaxResources is the most connected resources an account may have at
	// once (fsm.Policy.MaxResources, S-99); 0 means no limit.
	MaxResources int
	// MaxRosterItems is the most items a roster may hold
	// (fsm.Policy.MaxRosterItems, I-51, I-52); 0 means no limit.
	MaxRosterItems int
	// MaxDirected is the most directed-presence targets a session
	// remembers (fsm.Policy.MaxDirected, S-106); 0 means no limit.
	MaxDirected int
	// MaxSASLFailures is the number of failed SASL attempts after which a
	// stream is closed (fsm.Policy.MaxSASLFailures, S-38); 0 means the
	// fsm's default.
	MaxSASLFailures uint8
	// IdleUsers is the number of user machines with no connected resource
	// kept in memory (router.Options.IdleUsers): 0 means the router's
	// default, a negative number none.
	IdleUsers int
	// Conflict is the answer to a bind of a resource another session of
	// the user holds (fsm.Policy.Conflict, S-54); the zero value replaces
	// the other session, as the RFC's default.
	Conflict fsm.ConflictPolicy
	// SubscribeAck and ProbeOnApproval turn on Prosody's two subscription
	// extras (fsm.Policy fields of the same names; off by default, as in
	// RFC 6121).
	SubscribeAck, ProbeOnApproval bool
	// Iterations is the PBKDF2 iteration count accounts are registered
	// with (sasl.Options.Iterations); 0 means sasl.DefaultIterations.
	Iterations int
	// SASLSecret keys the fake credentials of unknown users
	// (sasl.Options.Secret); nil means a random one.
	SASLSecret []byte
	// Logger receives the server's structured logs; nil means
	// slog.Default().
	Logger *slog.Logger
	// Record, when set, records each connection's session: every event
	// its machine is stepped with and the effects it produces (see
	// Recorder and impl/record).
	Record Recorder
}

// Server is an XMPP client-to-server listener.
type Server struct {
	cfg    Config
	log    *slog.Logger
	policy *fsm.Policy
	router *router.Router
	sasl   *sasl.Server
	// maxOutput is Config.MaxOutput with its default.
	maxOutput int

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	closing   bool
	wg        sync.WaitGroup
	nextID    atomic.Uint64
}

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown.
var ErrServerClosed = errors.New("server: closed")

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if len(cfg.Domains) == 0 {
		return nil, errors.New("server: no domain configured")
	}
	if cfg.Store == nil {
		return nil, errors.New("server: no store configured")
	}
	if cfg.NegotiationTimeout == 0 {
		cfg.NegotiationTimeout = DefaultNegotiationTimeout
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	maxOutput, maxStanza := cfg.MaxOutput, cfg.MaxStanza
	if maxOutput <= 0 {
		maxOutput = MaxOutput
	}
	if maxStanza <= 0 {
		maxStanza = stream.DefaultMaxStanza
	}
	if maxStanza > maxOutput/2 {
		return nil, fmt.Errorf("server: MaxStanza %d is more than half of MaxOutput %d", maxStanza, maxOutput)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	sopts := sasl.Options{
		TLS:              cfg.TLS != nil,
		InsecurePlain:    cfg.InsecurePlain,
		NoChannelBinding: cfg.NoChannelBinding,
		Iterations:       cfg.Iterations,
		Secret:           cfg.SASLSecret,
		Domains:          cfg.Domains,
	}
	ss, err := sasl.NewServer(sasl.LookupBytes(cfg.Store.Account), sopts)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	p := fsm.DefaultPolicy
	p.Hosts = append([]string(nil), cfg.Domains...)
	p.SubscribeAck, p.ProbeOnApproval = cfg.SubscribeAck, cfg.ProbeOnApproval
	p.MaxResources, p.Conflict = cfg.MaxResources, cfg.Conflict
	p.MaxRosterItems, p.MaxDirected = cfg.MaxRosterItems, cfg.MaxDirected
	p.MaxSASLFailures = cfg.MaxSASLFailures
	p.TLS = cfg.TLS != nil
	p.RequireTLS = cfg.RequireTLS && cfg.TLS != nil
	p.Mechanisms = sasl.Mechanisms(sopts)
	s := &Server{
		cfg:       cfg,
		log:       log,
		policy:    &p,
		sasl:      ss,
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		maxOutput: maxOutput,
	}
	ropts := router.Options{IdleUsers: cfg.IdleUsers}
	if rec := cfg.Record; rec != nil {
		ropts.Observe, ropts.ObserveUserLoad, ropts.ObserveUser = rec.Step, rec.UserLoaded, rec.UserStep
	}
	s.router = router.New(s.policy, cfg.Store, ropts)
	return s, nil
}

// Router returns the server's router (for statistics and tests).
func (s *Server) Router() *router.Router { return s.router }

// ListenAndServe listens on Config.C2S and serves it.
func (s *Server) ListenAndServe() error {
	ln, err := net.Listen("tcp", s.cfg.C2S)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln until Shutdown (it then returns
// ErrServerClosed) or an accept error. It closes ln.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()
	s.log.Info("listening", "addr", ln.Addr().String())
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if !s.start(nc) {
			nc.Close()
			return ErrServerClosed
		}
	}
}

// start attaches a new connection and starts its reader goroutine, unless
// the server is closing.
func (s *Server) start(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	c := newConn(s, nc, fmt.Sprintf("c%d", s.nextID.Add(1)))
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	go c.serve()
	return true
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Shutdown stops accepting connections, closes every session with the
// system-shutdown stream error, and waits for the connections to end, or
// for ctx: then it closes the remaining ones at once and returns ctx's
// error. It does not close the store.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
	s.log.Info("shutting down")
	s.router.Shutdown()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.raw.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}
