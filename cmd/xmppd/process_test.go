package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// startLimit bounds the wait for a started xmppd's "listening" log line.
const startLimit = 30 * time.Second

// buildXmppd builds the xmppd binary into a temporary directory.
func buildXmppd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "xmppd")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building xmppd: %v\n%s", err, out)
	}
	return bin
}

// xmppdProc is a running xmppd serve.
type xmppdProc struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed

	mu  sync.Mutex
	log strings.Builder // its standard error
}

// startXmppd runs bin serve on a free loopback port with data directory
// data, PLAIN allowed without TLS, and waits until it listens. The process
// is killed at the end of the test if it is still running.
func startXmppd(t *testing.T, bin, data string, args ...string) *xmppdProc {
	t.Helper()
	args = append([]string{"serve", "--domain", "localhost", "--c2s", "127.0.0.1:0", "--data", data, "--insecure-plain"}, args...)
	p := &xmppdProc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.log.WriteString(line + "\n")
			p.mu.Unlock()
			if strings.Contains(line, "msg=listening") {
				if _, a, ok := strings.Cut(line, "addr="); ok {
					select {
					case addr <- strings.Fields(a)[0]:
					default:
					}
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() {
		<-scanned // Wait closes the pipe: read it all first
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case p.addr = <-addr:
		return p
	case <-p.done:
		t.Fatalf("xmppd exited before listening: %v\n%s", p.err, p.stderr())
	case <-time.After(startLimit):
		t.Fatalf("xmppd did not listen within %v:\n%s", startLimit, p.stderr())
	}
	return nil
}

func (p *xmppdProc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// signal sends sig and waits for the process to exit.
func (p *xmppdProc) signal(t *testing.T, sig os.Signal) error {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
		return p.err
	case <-time.After(startLimit):
		t.Fatalf("xmppd did not exit on %v:\n%s", sig, p.stderr())
	}
	return nil
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
