package interop

import (
	"os"
	"testing"
)

// requireClientsEnv, set to 1, makes a missing client a failure instead of
// a skip (.ci/run sets it: CI must prove the clients work).
const requireClientsEnv = "XMPPFSM_REQUIRE_CLIENTS"

// needClient skips the test when a client is missing (why says what is
// missing), or fails it when XMPPFSM_REQUIRE_CLIENTS=1.
func needClient(t *testing.T, name, why string) {
	t.Helper()
	if os.Getenv(requireClientsEnv) == "1" {
		t.Fatalf("%s is not installed: %s (%s=1: the client must be installed; .ci/run installs it)", name, why, requireClientsEnv)
	}
	t.Skipf("%s is not installed: %s (set %s=1 to make this a failure)", name, why, requireClientsEnv)
}
