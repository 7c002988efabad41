package spec_test

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xmppfsm/xmppfsm/spec"
)

// TestDiagramIsCurrent fails when spec/session-diagram.md is not what the
// model generates now: run go generate ./spec.
func TestDiagramIsCurrent(t *testing.T) {
	got, err := os.ReadFile("session-diagram.md")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(spec.DiagramPage(), string(got)); diff != "" {
		t.Errorf("session-diagram.md is stale; run go generate ./spec (-want +got):\n%s", diff)
	}
}
