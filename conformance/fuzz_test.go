package conformance

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseScript parses arbitrary text as a scansion script. Parse never
// panics; an error is a *ParseError whose position lies in the text; and a
// script that parses, written out again by render, parses to the same
// script (positions aside). The seeds are the corpus's scripts and
// testdata/fuzz/FuzzParseScript. A short run:
//
//	go test ./conformance -run '^$' -fuzz FuzzParseScript -fuzztime 60s
func FuzzParseScript(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "corpus", "*.scs"))
	for _, path := range paths {
		src, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := Parse("fuzz.scs", src)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error is %T, not a *ParseError: %v", err, err)
			}
			lines := strings.Count(strings.ReplaceAll(string(src), "\r\n", "\n"), "\n") + 2
			if pe.Line < 1 || pe.Line > lines || pe.Column < 1 {
				t.Fatalf("error position %d:%d outside the text (%d lines): %v", pe.Line, pe.Column, lines, err)
			}
			return
		}
		if ambiguousNames(s) {
			// "[Client] A" and "[Client] A sends" make "A sends raw" mean
			// two things: the format cannot write such a script back.
			return
		}
		text := render(s)
		again, err := Parse("fuzz.scs", []byte(text))
		if err != nil {
			t.Fatalf("the rendered script does not parse: %v\n%s", err, text)
		}
		if a, b := positionless(s), positionless(again); !reflect.DeepEqual(a, b) {
			t.Fatalf("the rendered script parses differently:\n%+v\n%+v\n%s", a, b, text)
		}
	})
}

// ambiguousNames reports whether one client's name followed by a space
// starts another's, or a name starts with "#" (the line would be a
// comment), or a client is called ServerName.
func ambiguousNames(s *Script) bool {
	for _, a := range s.Clients {
		if strings.HasPrefix(a.Name, "#") || a.Name == ServerName {
			return true
		}
		for _, b := range s.Clients {
			if a.Name != b.Name && strings.HasPrefix(b.Name, a.Name+" ") {
				return true
			}
		}
	}
	return false
}

// render writes s in the script format.
func render(s *Script) string {
	var b strings.Builder
	if s.Title != "" {
		b.WriteString("# " + s.Title + "\n")
		for _, tag := range s.Tags {
			b.WriteString("## " + tag + "\n")
		}
	}
	for _, c := range s.Clients {
		b.WriteString("\n[Client] " + c.Name + "\n")
		for _, kv := range [][2]string{{"jid", c.JID}, {"password", c.Password}, {"resource", c.Resource},
			{"connect_host", c.ConnectHost}, {"connect_port", c.ConnectPort}} {
			if kv[1] != "" {
				b.WriteString("\t" + kv[0] + ": " + kv[1] + "\n")
			}
		}
		if c.NoLogin {
			b.WriteString("\tlogin: no\n")
		}
	}
	b.WriteString("\n-----\n")
	for _, a := range s.Actions {
		b.WriteString("\n")
		switch a.Verb {
		case ShutsDown:
			b.WriteString(ServerName + " shuts down\n")
			continue
		case TimesOut:
			b.WriteString(a.Client + " times out: " + a.Timer + "\n")
			continue
		}
		b.WriteString(a.Client + " " + a.Verb.String() + "\n")
		if a.XML != "" {
			for _, l := range strings.Split(a.XML, "\n") {
				b.WriteString("\t" + l + "\n")
			}
		}
	}
	return b.String()
}

// positionless returns s without the line numbers, which a rendering
// changes, and the unexported bookkeeping.
func positionless(s *Script) Script {
	c := *s
	c.Name = ""
	c.Clients = nil
	for _, cl := range s.Clients {
		c.Clients = append(c.Clients, Client{Name: cl.Name, JID: cl.JID, Password: cl.Password,
			Resource: cl.Resource, ConnectHost: cl.ConnectHost, ConnectPort: cl.ConnectPort, NoLogin: cl.NoLogin})
	}
	c.Actions = nil
	for _, a := range s.Actions {
		a.Line, a.BodyLine = 0, 0
		c.Actions = append(c.Actions, a)
	}
	return c
}
