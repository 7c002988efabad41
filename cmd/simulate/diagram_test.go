package main

import (
	"strings"
	"testing"
)

// TestDiagramMermaid: `simulate diagram` prints the Mermaid state diagram
// of the model, with the binding edge into established.
func TestDiagramMermaid(t *testing.T) {
	code, out, errOut := runCmd(t, "diagram")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if !strings.HasPrefix(out, "stateDiagram-v2\n") {
		t.Errorf("does not start with stateDiagram-v2:\n%s", out)
	}
	for _, want := range []string{
		"    wait_for_roster --> established: roster-loaded\n",
		"    [*] --> unconnected\n",
		"    unconnected --> wait_for_stream: connect\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}

// TestDiagramDot: --format dot prints a Graphviz digraph.
func TestDiagramDot(t *testing.T) {
	code, out, errOut := runCmd(t, "diagram", "--format", "dot")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if !strings.HasPrefix(out, "digraph ") || !strings.HasSuffix(out, "}\n") {
		t.Errorf("not a digraph:\n%s", out)
	}
	if !strings.Contains(out, `"wait-for-roster" -> "established" [label="roster-loaded"];`) {
		t.Errorf("no roster-loaded edge in:\n%s", out)
	}
}

// TestDiagramBadFormat: an unknown format exits 2 with a message.
func TestDiagramBadFormat(t *testing.T) {
	code, out, errOut := runCmd(t, "diagram", "--format", "nope")
	if code != 2 || out != "" || !strings.Contains(errOut, `unknown format "nope"`) {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and a message", code, out, errOut)
	}
}
