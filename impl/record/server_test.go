package record_test

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/record"
	"github.com/xmppfsm/xmppfsm/impl/server"
	"github.com/xmppfsm/xmppfsm/impl/server/servertest"
	"github.com/xmppfsm/xmppfsm/impl/server/xclient"
)

var passwords = map[string]string{"alice": "wonderland", "bob": "builder"}

// recordSessions runs impl/server on loopback with a record.Dir in a
// temporary directory, lets session talk to it, shuts the server down (so
// every log is closed) and returns the session logs' paths and the users
// log's.
func recordSessions(t *testing.T, session func(addr string)) (sessions []string, users string) {
	t.Helper()
	dir := t.TempDir()
	rec, err := record.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.Start(t, server.Config{InsecurePlain: true, Record: rec}, passwords)
	session(srv.Addr)
	srv.Stop()
	sessions, err = filepath.Glob(filepath.Join(dir, "session-*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.UsersErr(); err != nil {
		t.Fatal(err)
	}
	usersLogs, err := filepath.Glob(filepath.Join(dir, "users-*.jsonl"))
	if err != nil || len(usersLogs) != 1 {
		t.Fatalf("users logs %v (%v), want one", usersLogs, err)
	}
	return sessions, usersLogs[0]
}

// chat: Alice logs in with PLAIN, Bob with SCRAM-SHA-256; Alice sends Bob
// a message; both close their streams.
func chat(t *testing.T) func(addr string) {
	return func(addr string) {
		alice := xclient.Dial(t, addr, "localhost")
		alice.Login("alice", passwords["alice"], "rabbit")
		alice.Send(`<presence/>`)
		alice.Expect("presence")

		bob := xclient.Dial(t, addr, "localhost")
		bob.Open()
		if !bob.Scram("SCRAM-SHA-256", "bob", passwords["bob"], nil) {
			t.Fatal("bob's SCRAM login failed")
		}
		bob.Restart()
		bob.Bind("site")
		bob.Send(`<presence/>`)
		bob.Expect("presence")

		alice.Send(`<message to='bob@localhost/site' type='chat' id='m1'><body>hello bob</body></message>`)
		if body := bob.Expect("message").FindElement("body"); body == nil || body.Text() != "hello bob" {
			t.Fatalf("bob got %v", body)
		}
		alice.Send(`</stream:stream>`)
		alice.ExpectEnd()
		bob.Send(`</stream:stream>`)
		bob.ExpectEnd()
	}
}

func readLog(t *testing.T, path string) *record.Log {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lg, err := record.Read(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return lg
}

// TestRecordedSessionsReplay: both sessions of a real server run are
// recorded, every step of them, and replay identically through fresh
// machines; no credential reaches the logs.
func TestRecordedSessionsReplay(t *testing.T) {
	files, users := recordSessions(t, chat(t))
	if len(files) != 2 {
		t.Fatalf("%d logs, want 2: %v", len(files), files)
	}
	plain := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + passwords["alice"]))
	saslText := regexp.MustCompile(`^(|=|redacted:[0-9]+|redacted:invalid)$`)
	seen := map[string]bool{}
	for _, f := range append([]string{users}, files...) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{passwords["alice"], passwords["bob"], plain} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("%s holds the credential %q", f, secret)
			}
		}
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", f, fi.Mode(), err)
		}
		if f == users {
			continue
		}
		lg := readLog(t, f)
		if lg.Header.Format != record.Format || lg.Header.Policy.Hosts[0] != "localhost" {
			t.Errorf("%s: header %+v", f, lg.Header)
		}
		var kinds []string
		for _, st := range lg.Steps {
			kinds = append(kinds, st.Event.Kind)
			elems := []string{st.Event.Elem}
			for _, e := range st.Effects {
				elems = append(elems, e.Elem)
			}
			for _, s := range elems {
				if s == "" {
					continue
				}
				doc := etree.NewDocument()
				if err := doc.ReadFromString(s); err != nil {
					t.Fatal(err)
				}
				if el := doc.Root(); el.NamespaceURI() == fsm.NSSASL && el.Tag != "mechanisms" && !saslText.MatchString(strings.TrimSpace(el.Text())) {
					t.Errorf("%s: step %d: SASL payload recorded: %s", f, st.N, s)
				}
			}
		}
		// The first step is the connect, the last the client's close; a
		// routed stanza is recorded in its receiver's log.
		if kinds[0] != "connect" || kinds[len(kinds)-1] != "stream-end" {
			t.Errorf("%s: events %v", f, kinds)
		}
		for _, st := range lg.Steps {
			if st.Event.Kind == "routed" && strings.Contains(st.Event.Elem, "hello bob") {
				seen["routed message"] = true
			}
		}

		res, err := record.Replay(lg)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if res.Divergence != nil {
			t.Fatalf("%s: replay diverges at step %d:\n%s", f, res.Divergence.Step, res.Divergence.Diff)
		}
		if res.Steps != len(lg.Steps) || res.Session.Phase != fsm.Closed {
			t.Errorf("%s: replayed %d of %d steps, ending in %v", f, res.Steps, len(lg.Steps), res.Session.Phase)
		}
	}
	if !seen["routed message"] {
		t.Errorf("no log holds the message routed to bob")
	}

	// The user machines: each loaded, stepped, and replayed identically.
	f, err := os.Open(users)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ulog, err := record.ReadUsers(f)
	if err != nil {
		t.Fatalf("%s: %v", users, err)
	}
	res, err := record.ReplayUsers(ulog)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]record.UserReplayed{}
	for _, ur := range res {
		if ur.Divergence != nil {
			t.Errorf("%s diverges at step %d:\n%s", ur.User, ur.Divergence.Step, ur.Divergence.Diff)
		}
		got[ur.User] = ur
	}
	for _, u := range []string{"alice@localhost", "bob@localhost"} {
		if got[u].Loads == 0 || got[u].Steps == 0 {
			t.Errorf("%s: %+v", u, got[u])
		}
	}
	delivered := false
	for _, ul := range ulog.Lines {
		for _, e := range ul.Effects {
			delivered = delivered || ul.User == "bob@localhost" && e.Kind == "deliver" && strings.Contains(e.Elem, "hello bob")
		}
	}
	if !delivered {
		t.Errorf("bob's machine did not record the delivery of alice's message")
	}
}

// TestTamperedLogDiverges: a log whose effect was changed is reported at
// the step that holds it, with the log's and the machine's effects.
func TestTamperedLogDiverges(t *testing.T) {
	files, _ := recordSessions(t, func(addr string) {
		c := xclient.Dial(t, addr, "localhost")
		c.Login("alice", passwords["alice"], "rabbit")
		c.Send(`</stream:stream>`)
		c.ExpectEnd()
	})
	if len(files) != 1 {
		t.Fatalf("%d logs, want 1", len(files))
	}
	lg := readLog(t, files[0])
	k := -1
	for i, st := range lg.Steps {
		for j, e := range st.Effects {
			if e.Kind == "send" && strings.Contains(e.Elem, "<jid>") {
				lg.Steps[i].Effects[j].Elem = strings.Replace(e.Elem, "alice@localhost/rabbit", "mallory@localhost/rabbit", 1)
				k = i
			}
		}
	}
	if k < 0 {
		t.Fatal("no bind result in the log")
	}
	res, err := record.Replay(lg)
	if err != nil {
		t.Fatal(err)
	}
	d := res.Divergence
	if d == nil {
		t.Fatal("the tampered log replays identically")
	}
	// The bind result goes out once the roster is loaded.
	if d.Step != lg.Steps[k].N || d.Event.Kind != "roster-loaded" {
		t.Errorf("divergence at step %d (%s), want step %d", d.Step, d.Event.Kind, lg.Steps[k].N)
	}
	if len(d.Want) != len(d.Got) || !strings.Contains(d.Want[0].Elem, "mallory@") || !strings.Contains(d.Got[0].Elem, "alice@") {
		t.Errorf("want %v, got %v", d.Want, d.Got)
	}
	if !strings.Contains(d.Diff, `"mallory"`) || !strings.Contains(d.Diff, `"alice"`) {
		t.Errorf("diff does not show the change:\n%s", d.Diff)
	}
}
