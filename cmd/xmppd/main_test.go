package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xmppfsm/xmppfsm/impl/server/xclient"
	"github.com/xmppfsm/xmppfsm/impl/store/boltstore"
)

func testEnv(ctx context.Context, stdin string) (*env, *strings.Builder) {
	out := &strings.Builder{}
	return &env{ctx: ctx, stdin: strings.NewReader(stdin), stdout: out, stderr: io.Discard}, out
}

func TestServeAndLogin(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	e, _ := testEnv(context.Background(), "secret\n")
	if err := runWith(e, []string{"user", "add", "alice@localhost", "--password-stdin", "--data", data}); err != nil {
		t.Fatalf("user add: %v", err)
	}
	e, _ = testEnv(context.Background(), "secret\n")
	if err := runWith(e, []string{"user", "add", "alice", "--password-stdin", "--data", data}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second user add: %v", err)
	}
	e, out := testEnv(context.Background(), "")
	if err := runWith(e, []string{"user", "list", "--data", data}); err != nil || out.String() != "alice\n" {
		t.Fatalf("user list: %q %v", out, err)
	}

	a, cancel, served := serveInProcess(t, "--data", data, "--insecure-plain")
	if _, err := os.Stat(filepath.Join(data, "cert.pem")); err != nil {
		t.Errorf("no self-signed certificate: %v", err)
	}

	// A second server on the same data directory is refused.
	e2, _ := testEnv(context.Background(), "")
	err := runWith(e2, []string{"serve", "--domain", "localhost", "--c2s", "127.0.0.1:0", "--data", data})
	if !errors.Is(err, boltstore.ErrLocked) {
		t.Errorf("second serve: %v, want ErrLocked", err)
	}

	c := xclient.Dial(t, a, "localhost")
	features := c.Open()
	if features.FindElement("starttls") == nil {
		t.Errorf("STARTTLS not offered")
	}
	if el := c.Plain("alice", "secret"); el.Tag != "success" {
		t.Fatalf("login: <%s>", el.Tag)
	}
	c.Restart()
	if j := c.Bind("r"); j != "alice@localhost/r" {
		t.Fatalf("bound %q", j)
	}

	// SIGINT/SIGTERM cancel the context: a graceful shutdown.
	cancel()
	if cond := c.ExpectStreamError(); cond != "system-shutdown" {
		t.Errorf("stream error %q", cond)
	}
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

func TestErrors(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// A data directory another process holds: the store's file lock
	// conflicts between two opens, in one process as in two.
	held := filepath.Join(t.TempDir(), "held")
	st, err := boltstore.OpenDir(held, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "no command"},
		{[]string{"frob"}, "unknown command"},
		{[]string{"serve", "--bogus"}, "flag provided but not defined"},
		{[]string{"serve", "--data", data}, "--domain is required"},
		{[]string{"serve", "--domain", "localhost", "--data", data, "--c2s", ln.Addr().String()}, "address already in use"},
		{[]string{"serve", "--domain", "localhost", "--data", held, "--c2s", "127.0.0.1:0"}, "used by another process"},
		{[]string{"user", "list", "--data", held}, "used by another process"},
		{[]string{"serve", "--domain", "localhost", "--data", data, "--c2s", "127.0.0.1:0", "--tls-cert", notPEM, "--tls-key", notPEM}, "TLS certificate: tls: failed to find any PEM data"},
		{[]string{"serve", "--domain", "localhost", "--data", data, "--c2s", "127.0.0.1:0", "--tls-cert", filepath.Join(data, "missing.pem"), "--tls-key", notPEM}, "no such file or directory"},
		{[]string{"user", "del", "nobody", "--data", data}, "no user nobody"},
		{[]string{"user", "add", "--password-stdin", "--data", data}, "want 1 argument"},
		{[]string{"user", "passwd", "x@y@z", "--password-stdin", "--data", data}, "bad domain"},
		{[]string{"user", "add", "a b", "--password-stdin", "--data", data}, "bad localpart"},
	} {
		e, _ := testEnv(context.Background(), "pw\n")
		err := runWith(e, tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	// run is the entry point on the process's standard streams.
	if err := run([]string{"user", "list", "--data", data}); err != nil {
		t.Errorf("run user list: %v", err)
	}
}
