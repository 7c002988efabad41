package fsm_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/google/go-cmp/cmp"
	"github.com/xmppfsm/xmppfsm/fsm"
)

// Transcripts in testdata/*.txt are readable scripts in the style of
// etcd-io/raft's interaction tests:
//
//	# S-20 S-23: a comment names the rules the transcript checks
//	policy tls require-tls
//	> connect conn=c1 id=s0          an event (or "> <xml/>" for an element)
//	< start-timer timer=negotiation  the effects it must produce, in order
//	? phase=wait-for-stream          session fields that must hold after it
//
// go test ./fsm -run TestTranscripts -rewrite regenerates the "<" and "?"
// lines from what Step does now: read the diff before committing it.
var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of fsm/testdata transcripts")

func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			runTranscript(t, f)
		})
	}
}

func runTranscript(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	var out []string // the rewritten transcript
	var s fsm.Session
	var got []string // effects of the last event not yet matched
	var lastEvent string
	lastLine := 0
	flush := func() {
		if len(got) > 0 && !*rewrite {
			t.Errorf("%s:%d: after %q, effects not in the transcript:\n  %s", path, lastLine, lastEvent, strings.Join(got, "\n  "))
		}
		for _, g := range got {
			out = append(out, "< "+g)
		}
		got = nil
	}
	for i, raw := range lines {
		n := i + 1
		switch {
		case strings.HasPrefix(raw, "policy"):
			p, err := parsePolicy(strings.Fields(raw)[1:])
			if err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
			s = fsm.New(p)
			out = append(out, raw)
		case strings.HasPrefix(raw, "> "):
			flush()
			ev, err := parseEvent(raw[2:])
			if err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
			before := s.Fields()
			wasClosed := s.Phase == fsm.Closed
			next, effects := fsm.Step(s, ev)
			if diff := cmp.Diff(before, s.Fields()); diff != "" {
				t.Fatalf("%s:%d: Step changed its argument (-before +after):\n%s", path, n, diff)
			}
			if err := next.Check(); err != nil {
				t.Errorf("%s:%d: invariant broken after %q:\n%v", path, n, raw, err)
			}
			if wasClosed && len(effects) > 0 {
				t.Errorf("%s:%d: a closed session produced effects", path, n)
			}
			s = next
			for _, e := range effects {
				got = append(got, e.String())
			}
			lastEvent, lastLine = raw, n
			out = append(out, raw)
		case strings.HasPrefix(raw, "< "):
			want := raw[2:]
			if *rewrite {
				continue
			}
			if len(got) == 0 {
				t.Errorf("%s:%d: want effect %q, got none", path, n, want)
				continue
			}
			if got[0] != want {
				t.Errorf("%s:%d: effect differs (-want +got):\n%s", path, n, cmp.Diff(want, got[0]))
			}
			got = got[1:]
		case strings.HasPrefix(raw, "? "):
			flush()
			out = append(out, "? "+checkFields(t, path, n, s, raw[2:]))
		default:
			flush()
			out = append(out, raw)
		}
	}
	flush()
	if *rewrite {
		if err := os.WriteFile(path, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkFields compares "key=value ..." with the session's fields and
// returns the line as it should read.
func checkFields(t *testing.T, path string, n int, s fsm.Session, spec string) string {
	have := map[string]string{}
	for _, f := range s.Fields() {
		have[f.Name] = f.Value
	}
	var fixed []string
	for _, kv := range strings.Fields(spec) {
		k, v, _ := strings.Cut(kv, "=")
		h, ok := have[k]
		if !ok {
			t.Fatalf("%s:%d: no session field %q", path, n, k)
		}
		if h != v && !*rewrite {
			t.Errorf("%s:%d: session %s = %q, want %q", path, n, k, h, v)
		}
		fixed = append(fixed, k+"="+h)
	}
	return strings.Join(fixed, " ")
}

func parsePolicy(words []string) (*fsm.Policy, error) {
	p := fsm.DefaultPolicy
	p.Hosts = []string{"localhost", "example.com"}
	for _, w := range words {
		k, v, _ := strings.Cut(w, "=")
		switch k {
		case "tls":
			p.TLS = true
		case "require-tls":
			p.TLS, p.RequireTLS = true, true
		case "unauth":
			if v != "stanza-error" {
				return nil, fmt.Errorf("unauth=%s", v)
			}
			p.UnauthStanza = fsm.UnauthStanzaError
		case "conflict":
			switch v {
			case "refuse":
				p.Conflict = fsm.ConflictRefuse
			case "generate":
				p.Conflict = fsm.ConflictGenerate
			default:
				return nil, fmt.Errorf("conflict=%s", v)
			}
		case "max-failures":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, err
			}
			p.MaxSASLFailures = uint8(n)
		case "no-session":
			p.LegacySession = false
		case "bare-features":
			p.LegacySession, p.RosterVersioning, p.PreApproval = false, false, false
		case "mechanisms":
			p.Mechanisms = nil
			for _, m := range strings.Split(v, ",") {
				name, tls := strings.CutSuffix(m, "+tls")
				if name != "" {
					p.Mechanisms = append(p.Mechanisms, fsm.Mechanism{Name: name, NeedsTLS: tls})
				}
			}
		default:
			return nil, fmt.Errorf("unknown policy word %q", w)
		}
	}
	return &p, nil
}

var eventKinds = func() map[string]fsm.EventKind {
	m := map[string]fsm.EventKind{}
	for k := fsm.EventKind(0); k.String() != "event(?)"; k++ {
		m[k.String()] = k
	}
	return m
}()

var wordRE = regexp.MustCompile(`(\w[\w-]*)(?:=("(?:[^"\\]|\\.)*"|\S*))?`)

// parseEvent reads "kind key=value ... [<xml/>]" or "<xml/>".
func parseEvent(text string) (fsm.Event, error) {
	if strings.HasPrefix(text, "<") {
		el, err := parseXML(text)
		return fsm.Event{Kind: fsm.EvElement, Elem: el}, err
	}
	head, xmlText, _ := strings.Cut(text, "<")
	words := wordRE.FindAllStringSubmatch(head, -1)
	if len(words) == 0 {
		return fsm.Event{}, fmt.Errorf("empty event")
	}
	kind, ok := eventKinds[words[0][0]]
	if !ok {
		return fsm.Event{}, fmt.Errorf("unknown event %q", words[0][0])
	}
	ev := fsm.Event{Kind: kind}
	if kind == fsm.EvStreamOpen {
		ev.Header = &fsm.StreamHeader{Space: fsm.NSStreams, Local: "stream", Default: fsm.NSClient}
	}
	for _, w := range words[1:] {
		k, v := w[1], w[2]
		if strings.HasPrefix(v, `"`) {
			u, err := strconv.Unquote(v)
			if err != nil {
				return ev, err
			}
			v = u
		}
		h := ev.Header
		switch {
		case k == "conn":
			ev.Conn = v
		case k == "id":
			ev.ID = v
		case k == "secure":
			ev.Secure = true
		case k == "username":
			ev.Username = v
		case k == "resource":
			ev.Resource = v
		case k == "condition":
			ev.Condition = v
		case k == "text":
			ev.Text = v
		case k == "data":
			ev.Data = []byte(v)
		case k == "timer" && v == "negotiation":
			ev.Timer = fsm.TimerNegotiation
		case k == "timer" && v == "idle":
			ev.Timer = fsm.TimerIdle
		case h == nil && k == "from":
			ev.From = v
		case h == nil && k == "to":
			ev.To = v
		case h != nil && k == "to":
			h.To = v
		case h != nil && k == "from":
			h.From = v
		case h != nil && k == "version":
			h.Version = v
		case h != nil && k == "lang":
			h.Lang = v
		case h != nil && k == "xmlns":
			h.Default = v
		case h != nil && k == "space":
			h.Space = v
		case h != nil && k == "local":
			h.Local = v
		default:
			return ev, fmt.Errorf("unknown field %q for %v", k, kind)
		}
	}
	if xmlText != "" {
		el, err := parseXML("<" + xmlText)
		if err != nil {
			return ev, err
		}
		ev.Elem = el
	}
	return ev, nil
}

func parseXML(text string) (*etree.Element, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromString(text); err != nil {
		return nil, err
	}
	root := doc.Root()
	if root == nil {
		return nil, fmt.Errorf("no element in %q", text)
	}
	doc.RemoveChild(root)
	return root, nil
}
