package conformance

import "testing"

// TestFallsBehindAndMaxResources: "falls behind" parses to FallsBehind
// (no text on its line), the TCP target skips a script that uses it, and
// the max-resources=N policy word sets MaxResources (N from 1).
func TestFallsBehindAndMaxResources(t *testing.T) {
	head := "# S-98: t\n\n[Client] Romeo\n\tjid: romeo@localhost\n\tpassword: p\n\n-----\n\nRomeo connects\n\n"
	s, err := Parse("fb.scs", []byte(head+"Romeo falls behind\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a := s.Actions[len(s.Actions)-1]; a.Verb != FallsBehind || a.Verb.String() != "falls behind" {
		t.Errorf("action %+v", a)
	}
	if why := TCPUnsupported(s); why != "output overflow (falls behind)" {
		t.Errorf("TCPUnsupported: %q", why)
	}
	if _, err := Parse("fb.scs", []byte(head+"Romeo falls behind: badly\n")); err == nil {
		t.Errorf("falls behind with text: no error")
	}

	for tag, want := range map[string]int{"## policy: max-resources=2\n": 2, "": 0} {
		s, err := Parse("p.scs", []byte("# S-99: t\n"+tag+"\n[Client] Romeo\n\tjid: romeo@localhost\n\tpassword: p\n\n-----\n\nRomeo connects\n"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := PolicyFor(s, nil)
		if err != nil || p.MaxResources != want {
			t.Errorf("%q: MaxResources %v (%v), want %d", tag, p, err, want)
		}
	}
	for _, bad := range []string{"max-resources=0", "max-resources=-1", "max-resources=x"} {
		s, err := Parse("p.scs", []byte("# S-99: t\n## policy: "+bad+"\n\n[Client] Romeo\n\tjid: romeo@localhost\n\tpassword: p\n\n-----\n\nRomeo connects\n"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := PolicyFor(s, nil); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
