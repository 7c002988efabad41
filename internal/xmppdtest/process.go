// Package xmppdtest runs the xmppd binary for tests: Build builds
// cmd/xmppd once per test binary, Start runs `xmppd serve` on a free
// loopback port and waits for the "listening" line of its structured log,
// a Log collects that log, and Signal stops the process and returns its
// exit status.
package xmppdtest

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Bounds on the waits for the process.
const (
	// ReadyLimit bounds the wait for the "listening" line after Start.
	ReadyLimit = 30 * time.Second
	// StopLimit bounds the wait for the process to exit after Signal.
	StopLimit = 30 * time.Second
)

// Process is a running `xmppd serve`.
type Process struct {
	// Addr is its c2s listener, host:port.
	Addr string
	// Cmd is the command that runs it.
	Cmd *exec.Cmd
	// Log collects its standard error.
	Log *Log

	exited chan struct{}
	err    error // Cmd.Wait's error, once exited is closed
}

// Start runs `bin serve --c2s 127.0.0.1:0` followed by args, and waits
// until it logs that it listens. A process still running at the end of
// the test is killed.
func Start(t testing.TB, bin string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--c2s", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &Process{Cmd: cmd, Log: newLog(), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting xmppd: %v", err)
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20) // a log line longer than the default 64 KiB must not end the collection
		for sc.Scan() {
			p.Log.add(sc.Text())
		}
		_, _ = io.Copy(io.Discard, stderr) // past a line too long to scan
	}()
	go func() {
		<-copied // Wait closes the pipe: read it all first
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
	})
	lines, ok := p.Log.WaitUntil(func(lines []LogLine) bool {
		_, ok := Find(lines, "listening")
		return ok
	}, ReadyLimit, p.exited)
	if !ok {
		select {
		case <-p.exited:
			t.Fatalf("xmppd exited before listening: %v\n%s", p.err, p.Log.Text())
		default:
			t.Fatalf("xmppd did not start listening within %v:\n%s", ReadyLimit, p.Log.Text())
		}
	}
	l, _ := Find(lines, "listening")
	p.Addr = l["addr"]
	return p
}

// Exited is closed when the process has ended.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err returns the process's exit status (nil for a clean exit), once
// Exited is closed.
func (p *Process) Err() error { return p.err }

// Signal sends sig to the process, unless it has ended, and waits for it
// to exit; it returns its exit status. A process still running StopLimit
// after is killed and fails the test.
func (p *Process) Signal(t testing.TB, sig os.Signal) error {
	t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(StopLimit):
		_ = p.Cmd.Process.Kill()
		<-p.exited
		t.Errorf("xmppd did not exit within %v of %v:\n%s", StopLimit, sig, p.Log.Text())
	}
	return p.err
}
