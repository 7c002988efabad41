package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/xmppfsm/xmppfsm/impl/record"
	"github.com/xmppfsm/xmppfsm/impl/server"
	"github.com/xmppfsm/xmppfsm/impl/server/servertest"
	"github.com/xmppfsm/xmppfsm/impl/server/xclient"
)

var chatAccounts = map[string]string{"alice": "wonderland", "bob": "builder"}

// recordChat records a session through impl/server: Alice and Bob log in
// (PLAIN), Alice sends Bob a message, both close their streams. It returns
// the two session logs, Alice's first.
func recordChat(t *testing.T) []string {
	t.Helper()
	sessions, _ := recordChatUsers(t)
	return sessions
}

// recordChatUsers is recordChat that also returns the users log.
func recordChatUsers(t *testing.T) (sessions []string, users string) {
	t.Helper()
	dir := t.TempDir()
	rec, err := record.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.Start(t, server.Config{InsecurePlain: true, Record: rec}, chatAccounts)
	alice := xclient.Dial(t, srv.Addr, "localhost")
	alice.Login("alice", chatAccounts["alice"], "rabbit")
	alice.Send(`<presence/>`)
	alice.Expect("presence")
	bob := xclient.Dial(t, srv.Addr, "localhost")
	bob.Login("bob", chatAccounts["bob"], "site")
	alice.Send(`<message to='bob@localhost/site' type='chat' id='m1'><body>hello bob</body></message>`)
	bob.Expect("message")
	alice.Send(`</stream:stream>`)
	alice.ExpectEnd()
	bob.Send(`</stream:stream>`)
	bob.ExpectEnd()
	srv.Stop() // every connection has ended: every log is closed
	files, err := filepath.Glob(filepath.Join(dir, "session-*.jsonl"))
	if err != nil || len(files) != 2 {
		t.Fatalf("logs %v (%v), want 2", files, err)
	}
	sort.Strings(files) // c1 (Alice) before c2 (Bob)
	usersLogs, err := filepath.Glob(filepath.Join(dir, "users-*.jsonl"))
	if err != nil || len(usersLogs) != 1 {
		t.Fatalf("users logs %v (%v), want 1", usersLogs, err)
	}
	return files, usersLogs[0]
}

// TestReplayRecordedSession: both logs of a real server run replay
// identically; every step is printed with its event and effects, the
// SASL payload by its length only.
func TestReplayRecordedSession(t *testing.T) {
	files := recordChat(t)
	code, out, errOut := runCmd(t, append([]string{"replay"}, files...)...)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q\n%s", code, errOut, out)
	}
	for _, want := range []string{
		files[0] + ": session log of connection c1, started ",
		"\n  policy: hosts localhost; no TLS; mechanisms SCRAM-SHA-256,SCRAM-SHA-1,PLAIN (the whole policy is in the log's header)\n",
		"\n  1       ← connect conn=c1 id=",
		"\n          → start-timer timer=negotiation\n",
		"← element <auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>redacted:17</auth>\n" +
			"          → sasl-start mechanism=PLAIN data=<17 bytes, redacted>\n",
		"← routed from=alice@localhost/rabbit to=bob@localhost/site <message to='bob@localhost/site' type='chat' id='m1'><body>hello bob</body></message>\n",
		"\n" + files[1] + ": session log of connection c2",
		"\n2 logs: all replayed identically\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	for _, f := range files {
		lg := readLogFile(t, f)
		if !strings.Contains(out, "\n"+f+": "+itoa(len(lg.Steps))+" steps replayed, every effect identical\n") {
			t.Errorf("no verdict for %s (%d steps) in:\n%s", f, len(lg.Steps), out)
		}
	}
	if strings.Contains(out, "wonderland") || strings.Contains(out, "builder") {
		t.Errorf("a password is shown:\n%s", out)
	}

	code, out, _ = runCmd(t, "replay", "--quiet", files[0])
	if code != 0 || !regexp.MustCompile(`^\S+: \d+ steps replayed, every effect identical\n$`).MatchString(out) {
		t.Errorf("--quiet: exit %d\n%s", code, out)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func readLogFile(t *testing.T, path string) *record.Log {
	t.Helper()
	lg, _, err := readRecorded(path)
	if err != nil || lg == nil {
		t.Fatalf("%s: %v, %v", path, lg, err)
	}
	return lg
}

// tamper rewrites line n (1-based) of a log with edit and returns the
// new file.
func tamper(t *testing.T, file string, n int, edit func(string) string) string {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	changed := edit(lines[n-1])
	if changed == lines[n-1] {
		t.Fatalf("the edit changes nothing on line %d: %s", n, lines[n-1])
	}
	lines[n-1] = changed
	out := filepath.Join(t.TempDir(), filepath.Base(file))
	if err := os.WriteFile(out, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReplayTamperedLog: a log whose effect was changed is reported at the
// step that holds it: its line, its event, the log's and the machine's
// effects and their diff; exit 1. The steps before it are printed, the
// ones after it are not run. --json says the same.
func TestReplayTamperedLog(t *testing.T) {
	files := recordChat(t)
	lg := readLogFile(t, files[0])
	var target record.Step
	for _, st := range lg.Steps {
		if len(st.Effects) > 0 && strings.Contains(st.Effects[0].Elem, "<jid>alice@localhost/rabbit</jid>") {
			target = st
		}
	}
	if target.N == 0 {
		t.Fatal("no bind result in the log")
	}
	bad := tamper(t, files[0], target.Line, func(l string) string {
		return strings.Replace(l, "<jid>alice@localhost/rabbit</jid>", "<jid>mallory@localhost/rabbit</jid>", 1)
	})
	code, out, errOut := runCmd(t, "replay", bad)
	if code != 1 || errOut != "" {
		t.Fatalf("exit %d, stderr %q, want 1\n%s", code, errOut, out)
	}
	for _, want := range []string{
		"\n" + bad + ": DIVERGED at step " + itoa(target.N) + " of " + itoa(len(lg.Steps)) + " (line " + itoa(target.Line) + ")\n" +
			"  ← roster-loaded\n" +
			"  expected (the log):\n" +
			"    → send <iq type='result' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>mallory@localhost/rabbit</jid></bind></iq>\n",
		"  got (the machine):\n" +
			"    → send <iq type='result' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@localhost/rabbit</jid></bind></iq>\n",
		"  diff (-log +machine):\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`\n[\s\x{a0}]*-[\s\x{a0}]*"mallory",`).MatchString(out) || !regexp.MustCompile(`\n[\s\x{a0}]*\+[\s\x{a0}]*"alice",`).MatchString(out) {
		t.Errorf("the diff does not show the change:\n%s", out)
	}
	if strings.Contains(out, "\n  "+itoa(target.N)+" ") || !strings.Contains(out, "\n  "+itoa(target.N-1)+" ") {
		t.Errorf("the steps printed do not stop before the divergence:\n%s", out)
	}

	code, out, _ = runCmd(t, "replay", "--json", bad, files[1])
	var rep replayReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	d := rep.Logs[0].Divergence
	if rep.Identical || d == nil || d.Step != target.N || d.Line != target.Line || d.Event != "roster-loaded" ||
		!strings.Contains(d.Expected[0], "mallory") || !strings.Contains(d.Got[0], "alice") || d.Diff == "" ||
		!rep.Logs[1].Identical {
		t.Errorf("JSON report %+v", rep)
	}
}

// TestReplayBadInput: a log that cannot be read is bad input: exit 2, a
// message naming the file and the line, nothing on stdout.
func TestReplayBadInput(t *testing.T) {
	files := recordChat(t)
	lg := readLogFile(t, files[0])
	empty := filepath.Join(t.TempDir(), "empty.jsonl")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(t.TempDir(), "truncated.jsonl")
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(truncated, raw[:len(raw)-20], 0o600); err != nil {
		t.Fatal(err)
	}
	last := len(lg.Steps) + 1
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no log", []string{"replay"}, "simulate replay: no log given\nusage: simulate replay"},
		{"unknown flag", []string{"replay", "--bogus", files[0]}, "flag provided but not defined: -bogus"},
		{"missing file", []string{"replay", "testdata/nope.jsonl"}, "simulate replay: cannot read testdata/nope.jsonl: no such file or directory\n"},
		{"directory", []string{"replay", "testdata"}, "simulate replay: cannot read testdata: is a directory\n"},
		{"empty file", []string{"replay", empty}, "simulate replay: " + empty + ": empty: not a session log\n"},
		{"a scansion script", []string{"replay", loginChat}, "simulate replay: " + loginChat + ": line 1: not a session log header: invalid character '#'"},
		{"truncated", []string{"replay", truncated}, "simulate replay: " + truncated + ": line " + itoa(last) + ": not a step: unexpected EOF\n"},
		{"other format", []string{"replay", tamper(t, files[0], 1, func(l string) string {
			return strings.Replace(l, `"format":"xmppfsm-session-log"`, `"format":"other"`, 1)
		})}, `: line 1: not a session log: format "other", want "xmppfsm-session-log"` + "\n"},
		{"other version", []string{"replay", tamper(t, files[0], 1, func(l string) string {
			return strings.Replace(l, `"version":1`, `"version":9`, 1)
		})}, ": line 1: session log version 9, this program reads version 1\n"},
		{"unknown event", []string{"replay", tamper(t, files[0], 3, func(l string) string {
			return strings.Replace(l, `"kind":"stream-open"`, `"kind":"teleport"`, 1)
		})}, `: line 3: step 2: event: unknown event kind "teleport"` + "\n"},
		{"unknown effect", []string{"replay", tamper(t, files[0], 2, func(l string) string {
			return strings.Replace(l, `"kind":"start-timer"`, `"kind":"explode"`, 1)
		})}, `: line 2: step 1: effect 1: unknown effect kind "explode"` + "\n"},
		{"bad element", []string{"replay", tamper(t, files[0], 3, func(l string) string {
			return strings.Replace(l, `<stream:features>`, `<stream:features`, 1)
		})}, ": line 3: step 2: effect 2: element: "},
		{"step out of order", []string{"replay", tamper(t, files[0], 3, func(l string) string {
			return strings.Replace(l, `{"n":2,`, `{"n":7,`, 1)
		})}, ": line 3: step 7 where step 2 should be\n"},
		{"unknown field", []string{"replay", tamper(t, files[0], 2, func(l string) string {
			return strings.Replace(l, `{"n":1,`, `{"n":1,"extra":true,`, 1)
		})}, `: line 2: not a step: json: unknown field "extra"` + "\n"},
		{"bad file after a good one", []string{"replay", files[1], empty}, empty + ": empty: not a session log\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tt.args...)
			if code != 2 || out != "" || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errOut, tt.want)
			}
			checkNoInternals(t, errOut)
		})
	}
}

// TestReplayUsersLog: the user machines' log of a real server run replays
// identically, each user from its load; an effect changed in Bob's log is
// reported at Bob's step, with its line, while Alice's still replays; a
// step before any load is bad input.
func TestReplayUsersLog(t *testing.T) {
	_, users := recordChatUsers(t)
	code, out, errOut := runCmd(t, "replay", users)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q\n%s", code, errOut, out)
	}
	for _, want := range []string{
		users + ": user machines' log, started ",
		"\n  alice@localhost          loaded: an account, roster version 0 with 0 items, 0 pending requests\n",
		"\n  bob@localhost    2       ← inbound from=alice@localhost/rabbit to=bob@localhost/site <message",
		"\n                           → deliver target=bob@localhost/site from=alice@localhost/rabbit to=bob@localhost/site <message",
		"\n" + users + ": alice@localhost: 1 load, ",
		"\n" + users + ": bob@localhost: 1 load, ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}

	raw, err := os.ReadFile(users)
	if err != nil {
		t.Fatal(err)
	}
	line := 0
	for i, l := range strings.Split(string(raw), "\n") {
		if strings.Contains(l, `"user":"bob@localhost"`) && strings.Contains(l, `"target":"bob@localhost/site"`) {
			line = i + 1
		}
	}
	if line == 0 {
		t.Fatalf("no delivery to bob in:\n%s", raw)
	}
	bad := tamper(t, users, line, func(l string) string {
		return strings.Replace(l, `"target":"bob@localhost/site"`, `"target":"bob@localhost/tower"`, 1)
	})
	code, out, _ = runCmd(t, "replay", "--quiet", bad)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{
		bad + ": alice@localhost: 1 load, ",
		bad + ": bob@localhost: DIVERGED at step 2 (line " + itoa(line) + ")\n" +
			"  ← inbound from=alice@localhost/rabbit to=bob@localhost/site <message",
		"  expected (the log):\n    → deliver target=bob@localhost/tower ",
		"  got (the machine):\n    → deliver target=bob@localhost/site ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}

	// Bob's load removed: his first step comes before any load.
	loadLine := 0
	for i, l := range strings.Split(string(raw), "\n") {
		if strings.Contains(l, `"user":"bob@localhost","load"`) {
			loadLine = i + 1
		}
	}
	noLoad := tamper(t, users, loadLine, func(l string) string {
		return strings.Replace(l, `"user":"bob@localhost"`, `"user":"carol@localhost"`, 1)
	})
	code, out, errOut = runCmd(t, "replay", noLoad)
	if code != 2 || out != "" || !strings.Contains(errOut, ": bob@localhost: a step before the machine was loaded\n") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
