package main

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/xmppfsm/xmppfsm/impl/sasl"
	"github.com/xmppfsm/xmppfsm/impl/server"
	"github.com/xmppfsm/xmppfsm/impl/store/memstore"
)

// liveIterations is the accounts' PBKDF2 iteration count: the TCP
// target's SCRAM client (xdg-go/scram) refuses fewer than 4096.
const liveIterations = 4096

// liveServer is impl/server on a free loopback port, for run --addr and
// for recording sessions to replay.
type liveServer struct {
	addr string
	stop func() // shuts the server down and waits for every connection
}

// startLive runs impl/server for localhost with the accounts (local part
// → password) and cfg's other settings.
func startLive(t *testing.T, accounts map[string]string, cfg server.Config) *liveServer {
	t.Helper()
	st := memstore.New(memstore.Options{})
	for user, pass := range accounts {
		creds, err := sasl.NewCredentials(pass, liveIterations, nil)
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
	cfg.Domains = []string{"localhost"}
	cfg.Store = st
	cfg.Iterations = liveIterations
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		st.Close()
	}
	t.Cleanup(stop)
	return &liveServer{addr: ln.Addr().String(), stop: stop}
}

// selfSignedTLS returns a STARTTLS configuration for localhost and its
// certificate in PEM.
func selfSignedTLS(t *testing.T) (*tls.Config, []byte) {
	t.Helper()
	certPEM, keyPEM, err := server.SelfSigned([]string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, certPEM
}
