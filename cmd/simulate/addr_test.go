package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/xmppfsm/xmppfsm/impl/server"
	"github.com/xmppfsm/xmppfsm/impl/server/servertest"
)

// loginChatAccounts are the accounts traces/login-chat.scs and
// testdata/wrong-reflection.scs declare.
var loginChatAccounts = map[string]string{"romeo": "password", "juliet": "secret"}

// startTLSServer runs impl/server with STARTTLS required and returns its
// address and a file holding its certificate, for --ca.
func startTLSServer(t *testing.T) (addr, caFile string) {
	t.Helper()
	cfg, _, certPEM := servertest.TLS(t)
	srv := servertest.Start(t, server.Config{TLS: cfg, RequireTLS: true}, loginChatAccounts)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return srv.Addr, caFile
}

// actionLine matches a line of the action list: status, line, client, verb.
var actionLine = regexp.MustCompile(`^  (ok|FAIL|not run) +line (\d+) +(\S+) (.+)$`)

type outcome struct{ status, line, client, verb string }

func actionOutcomes(out string) []outcome {
	var list []outcome
	for _, l := range strings.Split(out, "\n") {
		if m := actionLine.FindStringSubmatch(l); m != nil {
			list = append(list, outcome{m[1], m[2], m[3], m[4]})
		}
	}
	return list
}

// TestRunAddrPasses: the shipped script passes against our server over
// TCP, STARTTLS verified against the CA file, and every action is listed
// as ok.
func TestRunAddrPasses(t *testing.T) {
	addr, ca := startTLSServer(t)
	code, out, errOut := runCmd(t, "run", "--addr", addr, "--ca", ca, "--quiet-period", "100ms", loginChat)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q\n%s", code, errOut, out)
	}
	if !strings.HasPrefix(out, loginChat+" against "+addr+": Romeo and Juliet log in") {
		t.Errorf("title line:\n%s", out)
	}
	list := actionOutcomes(out)
	if len(list) != 33 {
		t.Errorf("%d actions listed, want 33:\n%s", len(list), out)
	}
	for _, o := range list {
		if o.status != "ok" {
			t.Errorf("action %+v", o)
		}
	}
	if len(list) > 0 && list[0] != (outcome{"ok", "15", "Romeo", "connects"}) {
		t.Errorf("first action %+v", list[0])
	}
	if !strings.Contains(out, "\nPASS "+loginChat+" (33 actions, ") {
		t.Errorf("no PASS line:\n%s", out)
	}
}

// TestRunAddrFailure: a failed expectation against the server is the
// action marked FAIL, with the expected and received XML and their diff,
// the actions after it not run, and exit 1. --json says the same.
func TestRunAddrFailure(t *testing.T) {
	addr, ca := startTLSServer(t)
	const script = "testdata/wrong-reflection.scs"
	code, out, errOut := runCmd(t, "run", "--addr", addr, "--ca", ca, "--quiet-period", "100ms", script)
	if code != 1 || errOut != "" {
		t.Fatalf("exit %d, stderr %q, want 1\n%s", code, errOut, out)
	}
	want := []outcome{
		{"ok", "11", "Romeo", "connects"},
		{"ok", "13", "Romeo", "sends"},
		{"FAIL", "16", "Romeo", "receives"},
		{"not run", "19", "Romeo", "disconnects"},
	}
	if got := actionOutcomes(out); !equalOutcomes(got, want) {
		t.Errorf("actions %+v, want %+v\n%s", got, want, out)
	}
	for _, w := range []string{
		"FAIL " + script + ":16: Romeo receives: mismatch\n",
		"  expected:\n    <presence from='romeo@localhost'/>\n",
		"  received:\n    <presence from='romeo@localhost/balcony'",
		"  diff (-expected +received):\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("no %q in:\n%s", w, out)
		}
	}
	// go-cmp varies its spacing on purpose: match the diff's lines loosely.
	for _, w := range []string{`\n[\s\x{a0}]*-[\s\x{a0}]*"<presence from='romeo@localhost'/>",\n`,
		`\n[\s\x{a0}]*\+[\s\x{a0}]*"<presence from='romeo@localhost/balcony' to=`} {
		if !regexp.MustCompile(w).MatchString(out) {
			t.Errorf("no diff line %s in:\n%s", w, out)
		}
	}

	code, out, _ = runCmd(t, "run", "--addr", addr, "--ca", ca, "--quiet-period", "100ms", "--json", script)
	var rep liveReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	tr := rep.Traces[0]
	if rep.Passed || tr.Passed || len(tr.Failures) != 1 || tr.Failures[0].Line != 16 || tr.Failures[0].Diff == "" || tr.Actions[2].Status != "FAIL" {
		t.Errorf("JSON report %+v", rep)
	}
}

func equalOutcomes(a, b []outcome) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRunAddrCertificate: without --ca the self-signed certificate is
// refused (the connect fails, exit 1); --insecure-skip-verify accepts it.
func TestRunAddrCertificate(t *testing.T) {
	addr, _ := startTLSServer(t)
	code, out, _ := runCmd(t, "run", "--addr", addr, "testdata/wrong-reflection.scs")
	if code != 1 || !strings.Contains(out, "Romeo connects: connect failed") || !strings.Contains(out, "certificate") {
		t.Errorf("exit %d, want 1 and a certificate error:\n%s", code, out)
	}
	code, out, _ = runCmd(t, "run", "--addr", addr, "--insecure-skip-verify", "--quiet-period", "100ms", loginChat)
	if code != 0 {
		t.Errorf("exit %d with --insecure-skip-verify:\n%s", code, out)
	}
}

// TestRunAddrBadInput: what cannot run against a server is bad input,
// exit 2 with a message and nothing on stdout; no server is contacted.
func TestRunAddrBadInput(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const addr = "127.0.0.1:1" // never dialled
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"raw XML log", []string{"run", "--addr", addr, gajimConsole},
			"simulate run: " + gajimConsole + ": a raw XML log cannot run against a server: the TCP target logs each client in itself"},
		{"script that does not parse", []string{"run", "--addr", addr, "testdata/bad-body.scs"},
			"simulate run: testdata/bad-body.scs:13:13: bad XML in body: element <show> closed by </shw>\n"},
		{"unknown client", []string{"run", "--addr", addr, "testdata/unknown-client.scs"},
			`simulate run: testdata/unknown-client.scs:11:1: unknown client name at the start of "Mercutio"`},
		{"missing file", []string{"run", "--addr", addr, "testdata/nope.scs"},
			"simulate run: cannot read testdata/nope.scs: no such file or directory\n"},
		{"raw-stream extension", []string{"run", "--addr", addr, "../../conformance/testdata/corpus/bad_missing_to.scs"},
			"simulate run: ../../conformance/testdata/corpus/bad_missing_to.scs: cannot run against a server: "},
		{"unreadable CA file", []string{"run", "--addr", addr, "--ca", "testdata/nope.pem", loginChat},
			"simulate run: cannot read testdata/nope.pem: no such file or directory\n"},
		{"CA file without a certificate", []string{"run", "--addr", addr, "--ca", notPEM, loginChat},
			"simulate run: " + notPEM + ": no PEM certificate in it\n"},
		{"both CA and no verification", []string{"run", "--addr", addr, "--ca", notPEM, "--insecure-skip-verify", loginChat},
			"simulate run: --ca and --insecure-skip-verify exclude each other\n"},
		{"zero timeout", []string{"run", "--addr", addr, "--timeout", "0s", loginChat},
			"simulate run: --timeout must be positive, not 0s\n"},
		{"bad duration", []string{"run", "--addr", addr, "--timeout", "soon", loginChat},
			`invalid value "soon" for flag -timeout`},
		{"live flag without --addr", []string{"run", "--insecure-skip-verify", loginChat},
			"simulate run: --insecure-skip-verify needs --addr\n"},
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

// TestRunAddrHelp: --help says that the scripts' accounts must exist on
// the server.
func TestRunAddrHelp(t *testing.T) {
	code, _, errOut := runCmd(t, "run", "--help")
	if code != 0 || !strings.Contains(errOut, "The accounts the scripts declare (jid and password) must exist on\nthat server") ||
		!strings.Contains(errOut, "-insecure-skip-verify") || !strings.Contains(errOut, "-ca file") {
		t.Errorf("exit %d, help:\n%s", code, errOut)
	}
}
