package main

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/xmppfsm/xmppfsm/internal/xmppdtest"
)

// TestMain removes the xmppd binary buildXmppd builds.
func TestMain(m *testing.M) { xmppdtest.Main(m) }

// startLimit bounds the wait for a started xmppd's "listening" log line,
// and for its exit after a signal.
const startLimit = xmppdtest.ReadyLimit

// buildXmppd builds the xmppd binary, once for all the tests.
func buildXmppd(t *testing.T) string { return xmppdtest.Build(t) }

// xmppdProc is a running xmppd serve (xmppdtest.Process) under the names
// these tests use.
type xmppdProc struct {
	*xmppdtest.Process
	cmd  *exec.Cmd
	addr string
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

// startXmppd runs bin serve on a free loopback port for localhost with
// data directory data, PLAIN allowed without TLS, and waits until it
// listens. The process is killed at the end of the test if it is still
// running.
func startXmppd(t *testing.T, bin, data string, args ...string) *xmppdProc {
	t.Helper()
	pr := xmppdtest.Start(t, bin, append([]string{"--domain", "localhost", "--data", data, "--insecure-plain"}, args...)...)
	p := &xmppdProc{Process: pr, cmd: pr.Cmd, addr: pr.Addr, done: make(chan struct{})}
	go func() {
		<-pr.Exited()
		p.err = pr.Err()
		close(p.done)
	}()
	return p
}

// stderr returns what the process wrote to its standard error.
func (p *xmppdProc) stderr() string { return p.Log.Text() }

// signal sends sig and waits for the process to exit.
func (p *xmppdProc) signal(t *testing.T, sig os.Signal) error {
	t.Helper()
	err := p.Signal(t, sig)
	<-p.done // p.err set
	return err
}

// addUsers creates accounts whose passwords are their names.
func addUsers(t *testing.T, data string, names ...string) {
	t.Helper()
	for _, n := range names {
		e, _ := testEnv(context.Background(), n+"\n")
		if err := runWith(e, []string{"user", "add", n, "--password-stdin", "--data", data}); err != nil {
			t.Fatalf("user add %s: %v", n, err)
		}
	}
}
