package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/xmppfsm/xmppfsm/fsm"
)

// Dir writes the log of each connection of a server to a file of its own
// in a directory: session-<time the Dir was made>-<connection id>.jsonl.
// It is the recorder of impl/server (server.Config.Record). Its methods
// may be called from many goroutines, but the steps of one connection must
// come one at a time, in order (the router steps a session under its lock).
//
// The files hold the stanzas the users exchanged: they are created readable
// by their owner only.
type Dir struct {
	path   string
	prefix string
	now    func() time.Time
	logs   sync.Map // connection id → *connLog
}

// connLog is one connection's open log.
type connLog struct {
	mu  sync.Mutex
	f   *os.File
	n   int   // steps written
	err error // the first write error
}

// NewDir returns a Dir writing into path, which it creates if needed.
func NewDir(path string) (*Dir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	d := &Dir{path: path, now: time.Now}
	d.prefix = "session-" + d.now().UTC().Format("20060102T150405.000Z")
	return d, nil
}

// Open starts the log of connection conn, whose session runs under p, and
// returns the file's path. A connection whose log could not be created is
// not recorded (Step ignores it).
func (d *Dir) Open(conn string, p *fsm.Policy) (string, error) {
	started := d.now().UTC()
	name := filepath.Join(d.path, d.prefix+"-"+conn+".jsonl")
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	for i := 2; errors.Is(err, fs.ErrExist) && i < 100; i++ {
		name = filepath.Join(d.path, fmt.Sprintf("%s-%s.%d.jsonl", d.prefix, conn, i))
		f, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	}
	if err != nil {
		return "", fmt.Errorf("record: %w", err)
	}
	if p == nil {
		p = &fsm.DefaultPolicy
	}
	h := Header{Format: Format, Version: Version, Conn: conn, Started: started.Format(time.RFC3339Nano),
		Policy: *p, Redaction: RedactionNote}
	l := &connLog{f: f}
	l.write(h)
	if l.err != nil {
		f.Close()
		os.Remove(name)
		return "", fmt.Errorf("record: %w", l.err)
	}
	if _, loaded := d.logs.LoadOrStore(conn, l); loaded {
		f.Close()
		os.Remove(name)
		return "", fmt.Errorf("record: connection %s is already recorded", conn)
	}
	return name, nil
}

// Step appends a step of conn's session: the event it was stepped with
// and the effects it produced, redacted. A connection that is not open is
// ignored.
func (d *Dir) Step(conn string, ev fsm.Event, effects []fsm.Effect) {
	v, ok := d.logs.Load(conn)
	if !ok {
		return
	}
	l := v.(*connLog)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return
	}
	l.n++
	l.write(Step{N: l.n, Event: EncodeEvent(ev), Effects: EncodeEffects(effects)})
}

// Close ends conn's log and returns the first error its writes met.
func (d *Dir) Close(conn string) error {
	v, ok := d.logs.LoadAndDelete(conn)
	if !ok {
		return nil
	}
	l := v.(*connLog)
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.err
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	if err != nil {
		return fmt.Errorf("record: %s: %w", conn, err)
	}
	return nil
}

// write appends v as one JSON line, with one write: a crash loses at most
// the line being written.
func (l *connLog) write(v any) {
	if l.err != nil {
		return
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // the XML stays readable
	err := enc.Encode(v)     // one line, ending in a line break
	if err == nil {
		_, err = l.f.Write(b.Bytes())
	}
	l.err = err
}
