package interop

import (
	"context"
	"os"
	"os/exec"
	"testing"
)

// python is Debian's interpreter, the one python3-slixmpp installs for (a
// python3 earlier on PATH may be another one).
const python = "/usr/bin/python3"

// TestSlixmpp runs slixmpp/scenario.py: two slixmpp clients and a wrong
// password against xmppd.
func TestSlixmpp(t *testing.T) {
	ctx := needSlixmpp(t)
	s := startServer(t, alice, bob)
	nonce := newNonce()
	cmd := exec.CommandContext(ctx, python, "slixmpp/scenario.py")
	cmd.Env = append(os.Environ(), scenarioEnv(s, nonce)...)
	res := runClient(t, cmd)
	checkScenario(t, s, res, nonce, expectation{mech: "SCRAM-SHA-256"})
}

// TestSlixmppStock runs the same scenario with slixmpp as it comes (its
// own choice of mechanism, its tls-unique channel binding) against an
// xmppd that offers no -PLUS mechanism (--channel-binding=false): it logs
// in with SCRAM and gs2 flag "y", which xmppd then accepts. With a wrong
// password it tries each mechanism offered, and the third failure closes
// the stream (S-38, --max-sasl-failures 3).
func TestSlixmppStock(t *testing.T) {
	ctx := needSlixmpp(t)
	s := startServerWith(t, []string{"--channel-binding=false"}, alice, bob)
	nonce := newNonce()
	cmd := exec.CommandContext(ctx, python, "slixmpp/scenario.py")
	cmd.Env = append(os.Environ(), append(scenarioEnv(s, nonce), "STOCK=1")...)
	res := runClient(t, cmd)
	checkScenario(t, s, res, nonce, expectation{
		mech:       "SCRAM-SHA-256",
		failures:   []string{"not-authorized", "not-authorized", "not-authorized"},
		wrongClose: "closed by server",
	})
}

// needSlixmpp skips the test, or fails it (needClient), when Debian's
// python3 cannot import slixmpp; it returns the context to run it in.
func needSlixmpp(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		needClient(t, "slixmpp", python+" not found (apt-get install python3-slixmpp)")
	}
	ctx := clientContext(t)
	if out, err := exec.CommandContext(ctx, python, "-c", "import slixmpp").CombinedOutput(); err != nil {
		needClient(t, "slixmpp", "import slixmpp failed (apt-get install python3-slixmpp): "+string(out))
	}
	return ctx
}
