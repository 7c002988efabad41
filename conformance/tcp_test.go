package conformance

import (
	"crypto/tls"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmppfsm/xmppfsm/impl/server"
	"github.com/xmppfsm/xmppfsm/impl/server/servertest"
)

// tcpIterations is the PBKDF2 iteration count of the test accounts: low,
// to keep SCRAM fast under -race.
const tcpIterations = 64

// tcpTestOptions are the TCP target's options in these tests: a quiet
// period shorter than the default keeps the run short on loopback.
var tcpTestOptions = TCPOptions{QuietPeriod: 100 * time.Millisecond, MinIterations: tcpIterations}

// startServer runs impl/server on 127.0.0.1:0 for host localhost, with a
// memstore account for every client s declares, and returns its address.
// tlsCfg, when set, is the server's STARTTLS configuration.
func startServer(t *testing.T, s *Script, tlsCfg *tls.Config) string {
	t.Helper()
	return startServerWith(t, s, tlsCfg, false)
}

// startServerWith is startServer with Prosody's two subscription extras
// (server.Config SubscribeAck and ProbeOnApproval) on or off. A client
// whose local part an earlier client declared shares its account.
func startServerWith(t *testing.T, s *Script, tlsCfg *tls.Config, prosodyExtras bool) string {
	t.Helper()
	accounts := map[string]string{}
	for _, c := range s.Clients {
		local, _, _, err := splitJID(c.JID)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := accounts[local]; !ok {
			accounts[local] = c.Password
		}
	}
	return servertest.Start(t, server.Config{
		TLS:             tlsCfg,
		InsecurePlain:   true,
		Iterations:      tcpIterations,
		SubscribeAck:    prosodyExtras,
		ProbeOnApproval: prosodyExtras,
	}, accounts).Addr
}

// knownTCPFailure is a script that fails over TCP against impl/server,
// with the failure it stops at.
type knownTCPFailure struct {
	line int
	kind FailureKind
	why  string
	// race: the failure depends on the order in which the server's
	// goroutines handle two connections' stanzas, so the script may pass.
	race bool
}

// knownTCPCorpusFailures are corpus scripts that pass in process and fail
// over TCP against impl/server. The test fails when one passes (remove it
// then, unless race is set) or fails elsewhere. There are none: the races
// between two connections' stanzas that scripts used to meet over TCP are
// gone since the target waits, after each stanza it sends, for the answer
// to a ping on the same connection (tcpConn.sync).
var knownTCPCorpusFailures = map[string]knownTCPFailure{}

// knownTCPProsodyFailures are Prosody core scripts that fail over TCP
// against impl/server: none.
var knownTCPProsodyFailures = map[string]knownTCPFailure{}

// tcpTally counts outcomes of parallel subtests.
type tcpTally struct {
	mu                          sync.Mutex
	passed, known, failed, skip int
}

func (c *tcpTally) add(p *int) {
	c.mu.Lock()
	*p++
	c.mu.Unlock()
}

// runOverTCP runs s against a fresh server over TCP and checks the result
// against known.
func runOverTCP(t *testing.T, s *Script, known map[string]knownTCPFailure, tally *tcpTally, prosodyExtras bool) {
	addr := startServerWith(t, s, nil, prosodyExtras)
	start := time.Now()
	res := Run(s, NewTCP(addr, tcpTestOptions))
	k, isKnown := known[s.Name]
	switch {
	case res.Passed() && isKnown && k.race:
		tally.add(&tally.passed)
		t.Logf("%s (known to fail when the server's goroutines race: this time they did not)", res)
	case res.Passed() && isKnown:
		tally.add(&tally.failed)
		t.Errorf("%s passes over TCP now: remove it from the known failures\n%s", s.Name, res)
	case res.Passed():
		tally.add(&tally.passed)
		t.Logf("%s in %v", res, time.Since(start).Round(time.Millisecond))
	case !isKnown:
		tally.add(&tally.failed)
		t.Errorf("over TCP:\n%s", res)
	case k.race && (res.Failures[0].Line != k.line || res.Failures[0].Kind != k.kind):
		// A race may strike at another of the script's cross-connection steps.
		tally.add(&tally.known)
		t.Logf("known race over TCP, struck elsewhere this time: %s\n%s", k.why, res)
	case res.Failures[0].Line != k.line || res.Failures[0].Kind != k.kind:
		tally.add(&tally.failed)
		t.Errorf("%s fails over TCP at line %d (%s), known failure at line %d (%s):\n%s",
			s.Name, res.Failures[0].Line, res.Failures[0].Kind, k.line, k.kind, res)
	default:
		tally.add(&tally.known)
		t.Logf("known failure over TCP: %s\n%s", k.why, res)
	}
}

// TestTCPCorpus runs over TCP, against impl/server, the corpus scripts the
// TCP target can run (TCPUnsupported) and that need no policy tag
// (server.Config has no policy knobs besides TLS and PLAIN).
func TestTCPCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("network target: skipped in -short mode")
	}
	scripts := corpusScripts(t)
	var tally tcpTally
	t.Run("scripts", func(t *testing.T) {
		for _, s := range scripts {
			t.Run(s.Name, func(t *testing.T) {
				if why := TCPUnsupported(s); why != "" {
					tally.add(&tally.skip)
					t.Skipf("the TCP target cannot run it: %s", why)
				}
				for _, tag := range s.Tags {
					if strings.HasPrefix(tag, PolicyTag) {
						tally.add(&tally.skip)
						t.Skipf("needs %q, which server.Config cannot set", tag)
					}
				}
				t.Parallel()
				runOverTCP(t, s, knownTCPCorpusFailures, &tally, false)
			})
		}
	})
	t.Logf("corpus over TCP: %d of %d scripts run pass, %d known failures, %d unexpected failures; %d skipped",
		tally.passed, tally.passed+tally.known+tally.failed, tally.known, tally.failed, tally.skip)
}

// TestTCPProsodyCore runs Prosody's core c2s scripts over TCP against
// impl/server.
func TestTCPProsodyCore(t *testing.T) {
	if testing.Short() {
		t.Skip("network target: skipped in -short mode")
	}
	prosodyScripts(t)
	var tally tcpTally
	t.Run("scripts", func(t *testing.T) {
		for _, name := range []string{"basic", "basic_message", "basic_roster", "presence_preapproval", "keep_full_sub_req", "issue1121"} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				s := parseFile(t, filepath.Join(prosodyDir, name+".scs"))
				runOverTCP(t, s, knownTCPProsodyFailures, &tally, true)
			})
		}
	})
	t.Logf("Prosody core over TCP: %d of %d pass, %d known failures, %d unexpected failures",
		tally.passed, tally.passed+tally.known+tally.failed, tally.known, tally.failed)
}

// TestTCPStartTLS logs in over STARTTLS (a self-signed certificate the
// client trusts) and runs a corpus script.
func TestTCPStartTLS(t *testing.T) {
	srvTLS, cliTLS, _ := servertest.TLS(t)
	s := parseFile(t, filepath.Join(corpusDir, "message_full_jid.scs"))
	addr := startServer(t, s, srvTLS)

	opts := tcpTestOptions
	// Without a TLS configuration the target logs in without TLS (the
	// server offers STARTTLS without requiring it).
	if res := Run(s, NewTCP(addr, opts)); !res.Passed() {
		t.Errorf("without TLS:\n%s", res)
	}
	opts.TLSConfig = cliTLS
	target := NewTCP(addr, opts)
	if res := Run(s, target); !res.Passed() {
		t.Errorf("with STARTTLS:\n%s", res)
	}
	c, err := target.Connect(s.Clients[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*tcpConn).rw.(*tls.Conn); !ok {
		t.Errorf("the connection did not negotiate TLS")
	}
	// An untrusted certificate fails the login.
	opts.TLSConfig = &tls.Config{}
	if _, err := NewTCP(addr, opts).Connect(s.Clients[0]); err == nil {
		t.Errorf("login with an untrusted certificate succeeded")
	}
}

// TestTCPUnsupported: scripts the TCP target cannot run are named by
// TCPUnsupported, and a "login: no" client fails with ErrUnsupported.
func TestTCPUnsupported(t *testing.T) {
	s := parseFile(t, filepath.Join(corpusDir, "login_raw.scs"))
	if TCPUnsupported(s) == "" {
		t.Fatalf("TCPUnsupported(login_raw.scs) is empty")
	}
	res := Run(s, NewTCP("127.0.0.1:1", tcpTestOptions))
	if res.Passed() || !errors.Is(res.Failures[0].Err, ErrUnsupported) {
		t.Errorf("want a failure with ErrUnsupported, got:\n%s", res)
	}
	if why := TCPUnsupported(parseFile(t, filepath.Join(corpusDir, "message_full_jid.scs"))); why != "" {
		t.Errorf("TCPUnsupported(message_full_jid.scs) = %q, want \"\"", why)
	}
}
