package xmppdtest

import (
	"strings"
	"sync"
	"time"
)

// Log collects the lines a process writes to its standard error, parsed,
// and lets a test wait for one. It is safe for concurrent use.
type Log struct {
	mu      sync.Mutex
	raw     []string
	parsed  []LogLine
	changed chan struct{} // closed and replaced on every new line
}

func newLog() *Log { return &Log{changed: make(chan struct{})} }

func (b *Log) add(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := ParseLogLine(line)
	l[rawKey] = line
	b.raw = append(b.raw, line)
	b.parsed = append(b.parsed, l)
	close(b.changed)
	b.changed = make(chan struct{})
}

// Lines returns the lines collected so far.
func (b *Log) Lines() []LogLine {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]LogLine(nil), b.parsed...)
}

// Text returns the lines collected so far as they were written.
func (b *Log) Text() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.raw, "\n")
}

// WaitUntil waits until cond holds for the lines logged so far, and
// returns them; it gives up when limit passes, or when exited is closed
// (the process has ended) and cond does not hold for its whole log.
func (b *Log) WaitUntil(cond func([]LogLine) bool, limit time.Duration, exited <-chan struct{}) ([]LogLine, bool) {
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
