package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRandomCPUProfile: --cpuprofile writes a CPU profile (gzipped, as
// runtime/pprof writes them) and changes nothing in the report but the
// time taken; a file that cannot be created is bad usage.
func TestRandomCPUProfile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cpu.prof")
	args := []string{"random", "--clients", "10", "--events", "20000", "--seed", "3"}
	code, plain, _ := runCmd(t, args...)
	if code != 0 {
		t.Fatalf("exit %d without --cpuprofile:\n%s", code, plain)
	}
	code, profiled, errOut := runCmd(t, append(args, "--cpuprofile", file)...)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d with --cpuprofile, stderr %q", code, errOut)
	}
	if a, b := timing.ReplaceAllString(plain, ""), timing.ReplaceAllString(profiled, ""); a != b {
		t.Errorf("the report changed with --cpuprofile:\n%s\nwant:\n%s", b, a)
	}
	prof, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(prof, []byte{0x1f, 0x8b}) {
		t.Errorf("the profile (%d bytes) is not gzipped", len(prof))
	}

	bad := filepath.Join(t.TempDir(), "missing", "cpu.prof")
	code, out, errOut := runCmd(t, "random", "--clients", "2", "--events", "10", "--cpuprofile", bad)
	if code != 2 || out != "" || !strings.Contains(errOut, bad) {
		t.Errorf("--cpuprofile %s: exit %d, stdout %q, stderr %q; want exit 2 naming the file", bad, code, out, errOut)
	}
}
