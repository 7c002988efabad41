package interop

import (
	"testing"

	"github.com/xmppfsm/xmppfsm/internal/xmppdtest"
)

// TestMain removes the xmppd binary the tests build (xmppdtest.Build).
func TestMain(m *testing.M) { xmppdtest.Main(m) }
