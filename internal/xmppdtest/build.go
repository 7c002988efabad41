package xmppdtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Package is the import path of the binary Build builds.
const Package = "github.com/xmppfsm/xmppfsm/cmd/xmppd"

// buildLimit bounds go build.
const buildLimit = 5 * time.Minute

// built is the binary Build made, once per test binary.
var built struct {
	once sync.Once
	dir  string // the temporary directory that holds it
	bin  string
	err  error
}

// Build builds cmd/xmppd, once per test binary, and returns the path of
// the binary; a failed build fails every test that asks. The binary lives
// in a temporary directory that Main removes: a package that calls Build
// calls Main from its TestMain.
func Build(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "xmppdtest-")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		bin := filepath.Join(dir, "xmppd")
		ctx, cancel := context.WithTimeout(context.Background(), buildLimit)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, Package).CombinedOutput(); err != nil {
			built.err = fmt.Errorf("building xmppd: %v\n%s", err, out)
			return
		}
		built.bin = bin
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

// Main runs m's tests, removes the binary Build made, if it made one, and
// exits with m's exit code: a TestMain for a package that calls Build.
func Main(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}
