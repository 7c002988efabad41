package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xmppfsm/xmppfsm/impl/record"
	"github.com/xmppfsm/xmppfsm/impl/server/xclient"
)

// TestServeRecord: serve --record writes a session log per connection; a
// PLAIN login leaves no password in it, and the log replays identically.
func TestServeRecord(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	logs := filepath.Join(t.TempDir(), "logs")
	e, _ := testEnv(context.Background(), "Calliope-42\n")
	if err := runWith(e, []string{"user", "add", "alice@localhost", "--password-stdin", "--data", data}); err != nil {
		t.Fatalf("user add: %v", err)
	}
	a, cancel, served := serveInProcess(t, "--data", data, "--insecure-plain", "--record", logs)
	c := xclient.Dial(t, a, "localhost")
	c.Login("alice", "Calliope-42", "r")
	c.Send(`</stream:stream>`)
	c.ExpectEnd()
	cancel() // serve returns after every connection ended: every log is closed
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}

	files, err := filepath.Glob(filepath.Join(logs, "session-*-c1.jsonl"))
	if err != nil || len(files) != 1 {
		t.Fatalf("logs %v (%v), want one for c1", files, err)
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	plain := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00Calliope-42"))
	if bytes.Contains(raw, []byte("Calliope-42")) || bytes.Contains(raw, []byte(plain)) {
		t.Errorf("the password is in the log:\n%s", raw)
	}
	if !strings.Contains(string(raw), `mechanism=\"PLAIN\">redacted:18</auth>`) {
		t.Errorf("no redacted PLAIN auth in the log:\n%s", raw)
	}
	lg, err := record.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	res, err := record.Replay(lg)
	if err != nil || res.Divergence != nil || res.Steps != len(lg.Steps) {
		t.Errorf("replay: %+v, %v", res, err)
	}
}
