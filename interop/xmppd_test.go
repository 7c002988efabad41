package interop

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xmppfsm/xmppfsm/internal/xmppdtest"
)

// domain is the domain every test's xmppd serves.
const domain = "localhost"

// account is a user created with `xmppd user add`.
type account struct{ local, password string }

// jid returns the account's bare JID.
func (a account) jid() string { return a.local + "@" + domain }

// The two users of every scenario.
var (
	alice = account{"alice", "alice's secret, 1"}
	bob   = account{"bob", "b0b-pass-phrase"}
)

// Bounds on the external processes (xmppdtest bounds xmppd's start and
// stop).
const (
	commandLimit = 30 * time.Second // xmppd user add
	waitLimit    = 10 * time.Second // a log line expected after a client's exit
)

// server is one running xmppd.
type server struct {
	addr     string // the c2s listener, host:port
	certFile string // the generated self-signed certificate (PEM)
	log      *xmppdtest.Log
	proc     *xmppdtest.Process
}

// startServer creates accounts in a new data directory, starts `xmppd
// serve` on a free loopback port with STARTTLS required and the generated
// certificate, and waits for it to listen. When the test ends the server
// is stopped with SIGTERM (its graceful shutdown), and must exit cleanly.
func startServer(t *testing.T, accounts ...account) *server {
	t.Helper()
	return startServerWith(t, nil, accounts...)
}

// startServerWith is startServer with more flags for `xmppd serve`.
func startServerWith(t *testing.T, flags []string, accounts ...account) *server {
	t.Helper()
	bin := xmppdtest.Build(t)
	dir := t.TempDir()
	for _, a := range accounts {
		ctx, cancel := context.WithTimeout(context.Background(), commandLimit)
		cmd := exec.CommandContext(ctx, bin, "user", "add", a.jid(), "--password-stdin", "--data", dir)
		cmd.Stdin = strings.NewReader(a.password + "\n")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("xmppd user add %s: %v\n%s", a.jid(), err, out)
		}
	}
	p := xmppdtest.Start(t, bin, append([]string{"--domain", domain, "--data", dir}, flags...)...)
	s := &server{
		addr:     p.Addr,
		certFile: filepath.Join(dir, "cert.pem"), // see selfSigned in cmd/xmppd
		log:      p.Log,
		proc:     p,
	}
	t.Cleanup(func() {
		if err := p.Signal(t, syscall.SIGTERM); err != nil {
			t.Errorf("xmppd exited with %v:\n%s", err, s.log.Text())
		}
	})
	return s
}

// authentications returns the mechanisms of the successful
// authentications of user, in log order.
func (s *server) authentications(user string) []string {
	var mechs []string
	for _, l := range s.log.Lines() {
		if l["msg"] == "authenticated" && l["user"] == user {
			mechs = append(mechs, l["mechanism"])
		}
	}
	return mechs
}

// checkCleanLog waits until every accepted connection has closed, then
// checks that there were as many as reasons, that the i-th accepted closed
// with reasons[i] (closedByClient: the way a client's </stream:stream>
// closes it), and that xmppd logged no warning or error. Call it once the
// clients have closed their streams.
func (s *server) checkCleanLog(t *testing.T, reasons ...string) {
	t.Helper()
	lines, ok := s.log.WaitUntil(func(lines []xmppdtest.LogLine) bool {
		return xmppdtest.Count(lines, "connection closed") >= xmppdtest.Count(lines, "connection accepted")
	}, waitLimit, s.proc.Exited())
	if !ok {
		t.Errorf("xmppd still has open connections %v after the clients closed theirs:\n%s", waitLimit, s.log.Text())
		return
	}
	if n := xmppdtest.Count(lines, "connection accepted"); n != len(reasons) {
		t.Errorf("xmppd accepted %d connections, want %d:\n%s", n, len(reasons), s.log.Text())
	}
	want := map[string]string{} // connection → the reason it must close with
	for _, l := range lines {
		if l["level"] != "INFO" && l["level"] != "DEBUG" {
			t.Errorf("xmppd logged a %s: %s", l["level"], l.Raw())
		}
		switch l["msg"] {
		case "connection accepted":
			if i := len(want); i < len(reasons) {
				want[l["conn"]] = reasons[i]
			}
		case "connection closed":
			if w := want[l["conn"]]; l["reason"] != w {
				t.Errorf("connection %s closed with reason %q, want %q", l["conn"], l["reason"], w)
			}
		}
	}
	if t.Failed() {
		t.Logf("xmppd's log:\n%s", s.log.Text())
	}
}

// closedByClient is the reason xmppd logs for a connection whose client
// closed its stream with </stream:stream> and got xmppd's in return.
const closedByClient = "closed by client"
