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
// in a directory: session-<time the Dir was made>-<connection id>.jsonl;
// and the log of all user machines to users-<time>.jsonl.
// It is the recorder of impl/server (server.Config.Record). Its methods
// may be called from many goroutines, but the steps of one connection must
// come one at a time, in order (the router steps a session under its lock).
//
// The files hold the stanzas the users exchanged: they are created readable
// by their owner only.
type Dir struct {
	path  string
	stamp string // when the Dir was made: 20260102T030405.006Z
	now   func() time.Time
	logs  sync.Map // connection id → *connLog

	// The users log: all user machines in one file, opened when the first
	// machine is loaded. umu orders its lines.
	umu       sync.Mutex
	users     *connLog
	usersErr  error
	userSteps map[string]int // each user's steps so far
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
	d.stamp = d.now().UTC().Format("20060102T150405.000Z")
	return d, nil
}

// create makes a new file named base.jsonl in the directory, or
// base.N.jsonl when that exists (a server restarted within the same
// millisecond), readable by its owner only.
func (d *Dir) create(base string) (*os.File, string, error) {
	path := filepath.Join(d.path, base+".jsonl")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	for i := 2; errors.Is(err, fs.ErrExist) && i < 100; i++ {
		path = filepath.Join(d.path, fmt.Sprintf("%s.%d.jsonl", base, i))
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	}
	return f, path, err
}

// Open starts the log of connection conn, whose session runs under p, and
// returns the file's path. A connection whose log could not be created is
// not recorded (Step ignores it).
func (d *Dir) Open(conn string, p *fsm.Policy) (string, error) {
	started := d.now().UTC()
	f, name, err := d.create("session-" + d.stamp + "-" + conn)
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

// UserLoaded records user machine u of bare JID user as the store gave it
// (the machine's history starts again there). The first machine loaded
// opens the users log, with u's policy in its header. Errors are kept for
// UsersErr; the users log is then not written.
func (d *Dir) UserLoaded(user string, u fsm.User) {
	d.umu.Lock()
	defer d.umu.Unlock()
	if d.users == nil && d.usersErr == nil {
		d.openUsers(u.Policy)
	}
	if d.users == nil {
		return
	}
	d.users.write(UserLine{User: user, Load: EncodeUserState(u)})
}

// UserStep records a step of the machine of user: the event it was
// stepped with and its effects, redacted.
func (d *Dir) UserStep(user string, ev fsm.UserEvent, effects []fsm.UserEffect) {
	d.umu.Lock()
	defer d.umu.Unlock()
	if d.users == nil {
		return // no machine loaded yet, or the log could not be created
	}
	d.userSteps[user]++
	d.users.write(UserLine{User: user, N: d.userSteps[user], Event: EncodeUserEvent(ev), Effects: EncodeUserEffects(effects)})
}

// UsersErr returns the first error the users log met.
func (d *Dir) UsersErr() error {
	d.umu.Lock()
	defer d.umu.Unlock()
	if d.usersErr != nil {
		return d.usersErr
	}
	if d.users != nil {
		return d.users.err
	}
	return nil
}

// openUsers creates the users log, under d.umu. It stays open as long as
// the Dir: every line is written at once.
func (d *Dir) openUsers(p *fsm.Policy) {
	if p == nil {
		p = &fsm.DefaultPolicy
	}
	f, _, err := d.create("users-" + d.stamp)
	if err != nil {
		d.usersErr = fmt.Errorf("record: %w", err)
		return
	}
	l := &connLog{f: f}
	l.write(UsersHeader{Format: UsersFormat, Version: Version, Started: d.now().UTC().Format(time.RFC3339Nano),
		Policy: *p, Redaction: RedactionNote})
	if l.err != nil {
		d.usersErr = fmt.Errorf("record: %w", l.err)
		f.Close()
		return
	}
	d.users, d.userSteps = l, map[string]int{}
}
