package spec_test

import (
	"os"
	"strings"
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

// TestREADMEDiagramIsCurrent fails when the diagram in README.md is not the
// one the model generates now.
func TestREADMEDiagramIsCurrent(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want := "```mermaid\n" + spec.Mermaid(spec.DiagramPolicy()) + "```"
	if !strings.Contains(string(readme), want) {
		t.Errorf("README.md does not hold the current diagram; paste the output of go run ./cmd/simulate diagram:\n%s", want)
	}
}
