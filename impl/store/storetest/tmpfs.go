package storetest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// RequireTmpfsEnv names the environment variable that turns a tmpfs that
// cannot be mounted into a failure instead of a skip (.ci/run sets it: CI
// runs as root with CAP_SYS_ADMIN, so the disk-full tests must run there).
const RequireTmpfsEnv = "XMPPFSM_REQUIRE_TMPFS"

// MountTmpfs mounts a tmpfs of size (mount's syntax: "4m") on dir,
// created if need be, and unmounts it at the end of the test: a small file
// system that a test can fill, for stores and servers that run out of
// disk. Mounting needs root (or CAP_SYS_ADMIN): when it fails, MountTmpfs
// skips the test with the reason, or fails it if RequireTmpfsEnv is set.
// Cleanups registered after it (a server using the file system) run
// before the unmount.
func MountTmpfs(t testing.TB, dir, size string) {
	t.Helper()
	if err := TryMountTmpfs(t, dir, size); err != nil {
		t.Skipf("%v (mounting a tmpfs needs root or CAP_SYS_ADMIN)", err)
	}
}

// TryMountTmpfs is MountTmpfs that returns the error instead of skipping,
// for a test that has more to do without the tmpfs; it fails the test only
// if RequireTmpfsEnv is set.
func TryMountTmpfs(t testing.TB, dir, size string) error {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput()
	if err != nil {
		err = fmt.Errorf("cannot mount a tmpfs: %v: %s", err, strings.TrimSpace(string(out)))
		if os.Getenv(RequireTmpfsEnv) != "" {
			t.Fatalf("%s is set and %v: run the tests as root with CAP_SYS_ADMIN (a container needs --privileged or --cap-add SYS_ADMIN), or unset %s to skip the tests that need a tmpfs", RequireTmpfsEnv, err, RequireTmpfsEnv)
		}
		return err
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return nil
}

// Fill writes file until its file system is full (ENOSPC) and returns the
// number of bytes written. Removing the file frees the space.
func Fill(t testing.TB, file string) int64 {
	t.Helper()
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	var n int64
	for {
		k, err := f.Write(chunk)
		n += int64(k)
		if errors.Is(err, syscall.ENOSPC) {
			return n
		}
		if err != nil {
			t.Fatalf("filling %s: %v", file, err)
		}
	}
}
