package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestXmppJS runs xmppjs/scenario.js: two xmpp.js clients (@xmpp/client
// 0.14.0, installed by `npm ci --prefix interop/xmppjs`) and a wrong
// password against xmppd.
func TestXmppJS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		needClient(t, "xmpp.js", "no node on PATH")
	}
	if _, err := os.Stat(filepath.Join("xmppjs", "node_modules", "@xmpp", "client", "package.json")); err != nil {
		needClient(t, "xmpp.js", "no @xmpp/client in interop/xmppjs/node_modules (npm ci --prefix interop/xmppjs)")
	}
	s := startServer(t, alice, bob)
	nonce := newNonce()
	cmd := exec.CommandContext(clientContext(t), node, "scenario.js")
	cmd.Dir = "xmppjs"
	// Node trusts xmppd's certificate through NODE_EXTRA_CA_CERTS:
	// @xmpp/starttls takes no CA of its own.
	cmd.Env = append(os.Environ(), append(scenarioEnv(s, nonce), "NODE_EXTRA_CA_CERTS="+s.certFile)...)
	res := runClient(t, cmd)
	// SCRAM-SHA-1 is the only SCRAM mechanism @xmpp/client 0.14.0 has.
	checkScenario(t, s, res, nonce, expectation{mech: "SCRAM-SHA-1"})
}
