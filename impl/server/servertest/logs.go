package servertest

import (
	"log/slog"
	"strings"
	"sync"
)

// Logs collects a server's log lines, for a test that checks what it
// logs; it is safe for concurrent use. The zero value is empty and ready.
type Logs struct {
	mu sync.Mutex
	b  strings.Builder
}

// Logger returns a logger that writes into l in slog's text format, for
// server.Config.Logger.
func (l *Logs) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, nil))
}

// Write appends p.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
