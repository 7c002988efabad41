package fsm_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// forbidden are the imports the pure core may not have: I/O, goroutine
// synchronisation, randomness, logging. The clock is checked separately.
var forbidden = regexp.MustCompile(`^(net|net/.*|os|os/.*|syscall|sync|sync/.*|math/rand|math/rand/v2|crypto/rand|log|log/.*|io/ioutil|time|unsafe|reflect)$`)

// TestPureCore fails when non-test code in fsm/ or spec/ imports a package
// that does I/O, synchronisation, randomness or time.
func TestPureCore(t *testing.T) {
	for _, dir := range []string{".", "../spec"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		if len(files) == 0 {
			t.Fatalf("no Go files in %s", dir)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range ast.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if forbidden.MatchString(path) {
					t.Errorf("%s imports %s: the pure core takes I/O, time and randomness as events", f, path)
				}
			}
		}
	}
}
