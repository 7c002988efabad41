// Package servertest runs impl/server on a free loopback port for tests,
// as net/http/httptest does for HTTP servers: accounts in an in-memory
// store, the server shut down at the end of the test; TLS makes a
// self-signed STARTTLS configuration for it and Logs collects its logs.
package servertest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/xmppfsm/xmppfsm/impl/sasl"
	"github.com/xmppfsm/xmppfsm/impl/server"
	"github.com/xmppfsm/xmppfsm/impl/store"
	"github.com/xmppfsm/xmppfsm/impl/store/memstore"
)

// Iterations is the PBKDF2 iteration count of the accounts when
// server.Config.Iterations is 0: the least that github.com/xdg-go/scram's
// client accepts.
const Iterations = 4096

// Server is a running server.
type Server struct {
	// Addr is the address it listens on (127.0.0.1:port).
	Addr string
	// Server is the server itself.
	Server *server.Server

	t       testing.TB
	own     *memstore.Store // the store Start made, if it made one
	served  chan error
	stopped sync.Once
}

// Start runs a server with cfg, for domain localhost unless cfg.Domains is
// set, with an account for each local part of accounts and its password
// (made with cfg.Iterations, Iterations when that is 0), and no logs
// unless cfg.Logger is set (Logs collects them). The accounts are created
// in cfg.Store when it is set, which stays the caller's to close; else in
// a memstore that Stop closes. The server stops at the end of the test,
// or at Stop.
func Start(t testing.TB, cfg server.Config, accounts map[string]string) *Server {
	t.Helper()
	if len(cfg.Domains) == 0 {
		cfg.Domains = []string{"localhost"}
	}
	if cfg.Iterations == 0 {
		cfg.Iterations = Iterations
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var own *memstore.Store
	if cfg.Store == nil {
		own = memstore.New(memstore.Options{})
		cfg.Store = own
	}
	AddAccounts(t, cfg.Store, cfg.Iterations, accounts)
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String(), Server: srv, t: t, own: own, served: make(chan error, 1)}
	go func() { s.served <- srv.Serve(ln) }()
	t.Cleanup(s.Stop)
	return s
}

// AddAccounts creates in st an account for each local part of accounts
// with its password, its SCRAM credentials made with iterations; a
// failure fails the test.
func AddAccounts(t testing.TB, st store.Store, iterations int, accounts map[string]string) {
	t.Helper()
	for user, pass := range accounts {
		creds, err := sasl.NewCredentials(pass, iterations, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := creds.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateAccount(user, b); err != nil {
			t.Fatal(err)
		}
	}
}

// Stop shuts the server down and waits until every connection has ended
// (so everything a connection does when it ends is done); a failure fails
// the test. Stopping again does nothing.
func (s *Server) Stop() {
	s.stopped.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Server.Shutdown(ctx); err != nil {
			s.t.Errorf("shutdown: %v", err)
		}
		if err := <-s.served; !errors.Is(err, server.ErrServerClosed) {
			s.t.Errorf("serve: %v", err)
		}
		if s.own != nil {
			s.own.Close()
		}
	})
}
