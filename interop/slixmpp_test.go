package interop

import (
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
	if _, err := os.Stat(python); err != nil {
		needClient(t, "slixmpp", python+" not found (apt-get install python3-slixmpp)")
	}
	ctx := clientContext(t)
	if out, err := exec.CommandContext(ctx, python, "-c", "import slixmpp").CombinedOutput(); err != nil {
		needClient(t, "slixmpp", "import slixmpp failed (apt-get install python3-slixmpp): "+string(out))
	}
	s := startServer(t, alice, bob)
	nonce := newNonce()
	cmd := exec.CommandContext(ctx, python, "slixmpp/scenario.py")
	cmd.Env = append(os.Environ(), scenarioEnv(s, nonce)...)
	res := runClient(t, cmd)
	checkScenario(t, s, res, nonce, "SCRAM-SHA-256")
}
