package fsm_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xmppfsm/xmppfsm/fsm"
)

// TestInvariantsMatchSpec keeps fsm.Invariants and the table in
// spec/session.md the same.
func TestInvariantsMatchSpec(t *testing.T) {
	data, err := os.ReadFile("../spec/session.md")
	if err != nil {
		t.Fatal(err)
	}
	var want []fsm.Invariant
	for _, m := range regexp.MustCompile(`(?m)^\| (SI-\d+) \| (.*) \|$`).FindAllStringSubmatch(string(data), -1) {
		want = append(want, fsm.Invariant{ID: m[1], Text: strings.ReplaceAll(m[2], "`", "")})
	}
	if len(want) == 0 {
		t.Fatal("no invariants in spec/session.md")
	}
	if diff := cmp.Diff(want, fsm.Invariants); diff != "" {
		t.Errorf("fsm.Invariants differs from spec/session.md (-spec +code):\n%s", diff)
	}
}
