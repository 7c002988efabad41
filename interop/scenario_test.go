package interop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// clientLimit bounds one client's whole scenario.
const clientLimit = 2 * time.Minute

// scenarioResult is what a client reports of the scenario (interop/doc.go):
// an external client prints it as JSON on a line "RESULT {...}".
type scenarioResult struct {
	Client       string       `json:"client"`        // library and version
	Error        string       `json:"error"`         // the step that failed, if any
	Secure       bool         `json:"secure"`        // alice's stream ran under TLS
	Mechanism    string       `json:"mechanism"`     // the SASL mechanism alice's client chose
	RosterBefore []rosterItem `json:"roster_before"` // alice's roster before any subscription
	Presence     string       `json:"presence"`      // the status of bob's presence that alice received
	Message      string       `json:"message"`       // the body of alice's message bob received
	AliceRoster  []rosterItem `json:"alice_roster"`  // after the subscription
	BobRoster    []rosterItem `json:"bob_roster"`
	BobClosed    bool         `json:"bob_closed"`   // xmppd answered bob's </stream:stream> with its own
	Unavailable  bool         `json:"unavailable"`  // alice then received bob's unavailable presence
	AliceClosed  bool         `json:"alice_closed"` // and closed her stream the same way
	// WrongPassword is the SASL failure condition of a login as alice
	// with a wrong password, and WrongClosed whether that stream then
	// closed cleanly too.
	WrongPassword string `json:"wrong_password"`
	WrongClosed   bool   `json:"wrong_closed"`
}

// rosterItem is one roster item as a client reports it.
type rosterItem struct {
	JID          string `json:"jid"`
	Subscription string `json:"subscription"`
	Ask          string `json:"ask"`
}

// scenarioEnv returns the environment an external client's script reads.
func scenarioEnv(s *server, nonce string) []string {
	return []string{
		"XMPP_ADDR=" + s.addr,
		"XMPP_DOMAIN=" + domain,
		"XMPP_CA=" + s.certFile,
		"ALICE_JID=" + alice.jid(),
		"ALICE_PASSWORD=" + alice.password,
		"BOB_JID=" + bob.jid(),
		"BOB_PASSWORD=" + bob.password,
		"NONCE=" + nonce,
	}
}

// newNonce returns a fresh word for a scenario's status and message.
func newNonce() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "n" + hex.EncodeToString(b)
}

// runClient runs an external client's scenario (cmd made with ctx) and
// returns its RESULT; on any failure it fails the test with the client's
// whole output.
func runClient(t *testing.T, cmd *exec.Cmd) scenarioResult {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var res scenarioResult
	found := false
	sc := bufio.NewScanner(bytes.NewReader(out.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
			if jerr := json.Unmarshal([]byte(line), &res); jerr != nil {
				t.Fatalf("%s: bad RESULT line: %v\n%s", cmd.Path, jerr, out.String())
			}
			found = true
		}
	}
	switch {
	case err != nil:
		t.Fatalf("%s: %v (error: %q)\n%s", cmd.Path, err, res.Error, out.String())
	case !found:
		t.Fatalf("%s printed no RESULT line:\n%s", cmd.Path, out.String())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s's output:\n%s", res.Client, out.String())
		}
	})
	return res
}

// clientContext returns a context bounding one client run.
func clientContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), clientLimit)
	t.Cleanup(cancel)
	return ctx
}

// expectation is what differs between the clients' runs of the scenario.
type expectation struct {
	// mech is the SASL mechanism both users must authenticate with.
	mech string
	// failures are the conditions xmppd must log for the wrong password,
	// one per mechanism the client tries; nil means one not-authorized.
	failures []string
	// wrongClose is the reason xmppd must log for the wrong password's
	// connection; "" means closedByClient (the client gave up and closed).
	wrongClose string
}

// checkScenario asserts what the scenario must show, in the client's
// report and in xmppd's log.
func checkScenario(t *testing.T, s *server, res scenarioResult, nonce string, want expectation) {
	t.Helper()
	wantMech := want.mech
	t.Logf("%s: %+v", res.Client, res)
	if res.Error != "" {
		t.Errorf("client error: %s", res.Error)
	}
	if !res.Secure {
		t.Error("alice's stream did not run under TLS")
	}
	if res.Mechanism != wantMech {
		t.Errorf("client chose mechanism %q, want %q", res.Mechanism, wantMech)
	}
	for _, a := range []account{alice, bob} {
		if got, want := s.authentications(a.local), []string{wantMech}; !cmp.Equal(got, want) {
			t.Errorf("xmppd logged authentications of %s with %q, want %q", a.local, got, want)
		}
	}
	if len(res.RosterBefore) != 0 {
		t.Errorf("alice's first roster = %+v, want it empty", res.RosterBefore)
	}
	if res.Presence != nonce {
		t.Errorf("alice saw bob's presence with status %q, want %q", res.Presence, nonce)
	}
	if want := "hello " + nonce; res.Message != want {
		t.Errorf("bob received %q, want %q", res.Message, want)
	}
	if diff := cmp.Diff([]rosterItem{{JID: bob.jid(), Subscription: "to"}}, res.AliceRoster); diff != "" {
		t.Errorf("alice's roster after the subscription: -want +got\n%s", diff)
	}
	if diff := cmp.Diff([]rosterItem{{JID: alice.jid(), Subscription: "from"}}, res.BobRoster); diff != "" {
		t.Errorf("bob's roster after the subscription: -want +got\n%s", diff)
	}
	if !res.Unavailable {
		t.Error("alice did not see bob's unavailable presence when he closed his stream")
	}
	if !res.AliceClosed || !res.BobClosed || !res.WrongClosed {
		t.Errorf("streams closed cleanly: alice %v, bob %v, wrong password %v; want all", res.AliceClosed, res.BobClosed, res.WrongClosed)
	}
	if res.WrongPassword != "not-authorized" {
		t.Errorf("a wrong password got %q, want not-authorized", res.WrongPassword)
	}
	// Once every connection has closed, the wrong password's failure,
	// logged before its connection closed, is in the log.
	wrongClose := want.wrongClose
	if wrongClose == "" {
		wrongClose = closedByClient
	}
	s.checkCleanLog(t, closedByClient, closedByClient, wrongClose)
	var failures []string
	for _, l := range s.log.Lines() {
		if l["msg"] == "authentication failed" {
			failures = append(failures, l["condition"])
		}
	}
	wantFailures := want.failures
	if wantFailures == nil {
		wantFailures = []string{"not-authorized"}
	}
	if !cmp.Equal(failures, wantFailures) {
		t.Errorf("xmppd logged authentication failures %q, want %q", failures, wantFailures)
	}
}
