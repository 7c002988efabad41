package interop

import (
	"bufio"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
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

// Bounds on the external processes.
const (
	serverLife   = 3 * time.Minute  // a whole test's xmppd
	commandLimit = 30 * time.Second // xmppd user add
	readyLimit   = 30 * time.Second // xmppd's "listening" line
	stopLimit    = 20 * time.Second // SIGTERM to exit
	waitLimit    = 10 * time.Second // a log line expected after a client's exit
)

// server is one running xmppd.
type server struct {
	addr     string // the c2s listener, host:port
	certFile string // the generated self-signed certificate (PEM)
	log      *serverLog
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the process has ended
	err      error         // cmd.Wait's error, once exited is closed
	stopOnce sync.Once
	cancel   context.CancelFunc
}

// startServer creates accounts in a new data directory, starts `xmppd
// serve` on a free loopback port with STARTTLS required and the generated
// certificate, and waits for it to listen. The server is stopped when the
// test ends.
func startServer(t *testing.T, accounts ...account) *server {
	t.Helper()
	dir := t.TempDir()
	for _, a := range accounts {
		ctx, cancel := context.WithTimeout(context.Background(), commandLimit)
		cmd := exec.CommandContext(ctx, xmppdBin, "user", "add", a.jid(), "--password-stdin", "--data", dir)
		cmd.Stdin = strings.NewReader(a.password + "\n")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("xmppd user add %s: %v\n%s", a.jid(), err, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), serverLife)
	cmd := exec.CommandContext(ctx, xmppdBin, "serve", "--domain", domain, "--c2s", "127.0.0.1:0", "--data", dir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &server{
		certFile: filepath.Join(dir, "cert.pem"), // see selfSigned in cmd/xmppd
		log:      newServerLog(),
		cmd:      cmd,
		exited:   make(chan struct{}),
		cancel:   cancel,
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting xmppd: %v", err)
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.log.add(sc.Text())
		}
	}()
	go func() {
		<-copied // Wait closes the pipe: read it all first
		s.err = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() { s.stop(t) })
	lines, ok := s.log.waitUntil(func(lines []logLine) bool {
		_, ok := find(lines, "listening")
		return ok
	}, readyLimit, s.exited)
	if !ok {
		t.Fatalf("xmppd did not start listening within %v:\n%s", readyLimit, s.log.text())
	}
	l, _ := find(lines, "listening")
	s.addr = l["addr"]
	return s
}

// stop ends the server with SIGTERM (its graceful shutdown) and checks
// that it exited cleanly; once, even when called again.
func (s *server) stop(t *testing.T) {
	t.Helper()
	s.stopOnce.Do(func() {
		defer s.cancel()
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(stopLimit):
			s.cancel() // kills it
			<-s.exited
			t.Errorf("xmppd did not exit within %v of SIGTERM:\n%s", stopLimit, s.log.text())
			return
		}
		if s.err != nil {
			t.Errorf("xmppd exited with %v:\n%s", s.err, s.log.text())
		}
	})
}

// authentications returns the mechanisms of the successful
// authentications of user, in log order.
func (s *server) authentications(user string) []string {
	var mechs []string
	for _, l := range s.log.lines() {
		if l["msg"] == "authenticated" && l["user"] == user {
			mechs = append(mechs, l["mechanism"])
		}
	}
	return mechs
}

// checkCleanLog waits until every accepted connection has closed, then
// checks that each closed the way a client's </stream:stream> closes it
// and that xmppd logged no warning or error. Call it once the clients
// have closed their streams.
func (s *server) checkCleanLog(t *testing.T, wantConns int) {
	t.Helper()
	lines, ok := s.log.waitUntil(func(lines []logLine) bool {
		return count(lines, "connection closed") >= count(lines, "connection accepted")
	}, waitLimit, s.exited)
	if !ok {
		t.Errorf("xmppd still has open connections %v after the clients closed theirs:\n%s", waitLimit, s.log.text())
		return
	}
	if n := count(lines, "connection accepted"); n != wantConns {
		t.Errorf("xmppd accepted %d connections, want %d:\n%s", n, wantConns, s.log.text())
	}
	for _, l := range lines {
		if l["level"] != "INFO" && l["level"] != "DEBUG" {
			t.Errorf("xmppd logged a %s: %s", l["level"], l.raw())
		}
		if l["msg"] == "connection closed" && l["reason"] != closedByClient {
			t.Errorf("connection %s closed with reason %q, want %q (the client's clean close)", l["conn"], l["reason"], closedByClient)
		}
	}
	if t.Failed() {
		t.Logf("xmppd's log:\n%s", s.log.text())
	}
}

// closedByClient is the reason xmppd logs for a connection whose client
// closed its stream with </stream:stream> and got xmppd's in return.
const closedByClient = "closed by client"

// serverLog collects xmppd's log lines and lets tests wait for one.
type serverLog struct {
	mu      sync.Mutex
	raw     []string
	parsed  []logLine
	changed chan struct{} // closed and replaced on every new line
}

func newServerLog() *serverLog { return &serverLog{changed: make(chan struct{})} }

func (b *serverLog) add(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := parseLogLine(line)
	l[rawKey] = line
	b.raw = append(b.raw, line)
	b.parsed = append(b.parsed, l)
	close(b.changed)
	b.changed = make(chan struct{})
}

// rawKey keeps a parsed line's text.
const rawKey = "\x00raw"

// raw returns the line as xmppd wrote it.
func (l logLine) raw() string { return l[rawKey] }

func (b *serverLog) lines() []logLine {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]logLine(nil), b.parsed...)
}

func (b *serverLog) text() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.raw, "\n")
}

// waitUntil waits until cond holds for the lines logged so far, and
// returns them; it gives up when limit passes, or when xmppd has exited
// and cond does not hold for its whole log.
func (b *serverLog) waitUntil(cond func([]logLine) bool, limit time.Duration, exited <-chan struct{}) ([]logLine, bool) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	gone := false
	for {
		b.mu.Lock()
		changed := b.changed
		lines := b.parsed
		b.mu.Unlock()
		if cond(lines) {
			return lines, true
		}
		if gone {
			return lines, false
		}
		select {
		case <-changed:
		case <-exited:
			gone = true // the log is complete: look once more
		case <-deadline.C:
			return lines, false
		}
	}
}

// find returns the first line with msg.
func find(lines []logLine, msg string) (logLine, bool) {
	for _, l := range lines {
		if l["msg"] == msg {
			return l, true
		}
	}
	return nil, false
}

// count returns the number of lines with msg.
func count(lines []logLine, msg string) int {
	n := 0
	for _, l := range lines {
		if l["msg"] == msg {
			n++
		}
	}
	return n
}
