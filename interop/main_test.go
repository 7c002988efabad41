package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// xmppdBin is the xmppd binary TestMain builds.
var xmppdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "xmppfsm-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		os.Exit(1)
	}
	xmppdBin = filepath.Join(dir, "xmppd")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	out, err := exec.CommandContext(ctx, "go", "build", "-o", xmppdBin, "github.com/xmppfsm/xmppfsm/cmd/xmppd").CombinedOutput()
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "interop: building xmppd: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
