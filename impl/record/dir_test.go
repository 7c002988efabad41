package record

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xmppfsm/xmppfsm/fsm"
)

// TestDir: one file per connection, named after the Dir's start and the
// connection, never overwritten; steps of a connection that is not open
// are dropped; Read gets back what was written.
func TestDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs")
	d, err := NewDir(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	d.now = func() time.Time { return start }
	d.stamp = "20260102T030405.006Z"

	name, err := d.Open("c1", nil)
	if err != nil || name != filepath.Join(path, "session-20260102T030405.006Z-c1.jsonl") {
		t.Fatalf("Open: %q, %v", name, err)
	}
	if _, err := d.Open("c1", nil); err == nil || !strings.Contains(err.Error(), "already recorded") {
		t.Errorf("second Open of c1: %v", err)
	}
	d.Step("c1", fsm.Event{Kind: fsm.EvConnect, Conn: "c1", ID: "s1"}, []fsm.Effect{{Kind: fsm.EffStartTimer, Timer: fsm.TimerNegotiation}})
	d.Step("c9", fsm.Event{Kind: fsm.EvConnect, Conn: "c9"}, nil) // not open: dropped
	if err := d.Close("c1"); err != nil {
		t.Fatal(err)
	}
	d.Step("c1", fsm.Event{Kind: fsm.EvShutdown}, nil) // closed: dropped
	if err := d.Close("c1"); err != nil {
		t.Errorf("second Close: %v", err)
	}

	// A second server started in the same millisecond does not overwrite.
	again, err := d.Open("c1", nil)
	if err != nil || again != filepath.Join(path, "session-20260102T030405.006Z-c1.2.jsonl") {
		t.Fatalf("Open after a restart: %q, %v", again, err)
	}
	if err := d.Close("c1"); err != nil {
		t.Fatal(err)
	}

	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lg, err := Read(f)
	if err != nil {
		t.Fatal(err)
	}
	if lg.Header.Conn != "c1" || lg.Header.Started != "2026-01-02T03:04:05.006Z" || lg.Header.Policy.MaxSASLFailures != fsm.DefaultPolicy.MaxSASLFailures {
		t.Errorf("header %+v", lg.Header)
	}
	if len(lg.Steps) != 1 || lg.Steps[0].Line != 2 || lg.Steps[0].Event.String() != "connect conn=c1 id=s1" ||
		len(lg.Steps[0].Effects) != 1 || lg.Steps[0].Effects[0].String() != "start-timer timer=negotiation" {
		t.Errorf("steps %+v", lg.Steps)
	}
}
