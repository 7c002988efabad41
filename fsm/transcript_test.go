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
	forEachTranscript(t, "testdata/*.txt", "transcripts", runTranscript)
}

// forEachTranscript runs every transcript that glob finds as a subtest
// named after its file.
func forEachTranscript(t *testing.T, glob, what string, run func(t *testing.T, path string)) {
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no %s: %v", what, err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			run(t, f)
		})
	}
}

// A transcript runs one transcript file against a machine that its
// functions hold. It reads the lines all transcripts share: "> " an event,
// "< " an effect it must produce, in order, "? " machine fields that must
// hold after it, and anything else (comments, blank lines) kept as it is.
// With -rewrite, the "<" and "?" lines it returns from run say what the
// machine does now.
type transcript struct {
	t       *testing.T
	path    string
	machine string // what "?" lines check, for messages: "session"
	// own reads a line of the runner's own syntax ("policy …") and
	// reports whether it was one; run keeps such a line as it is. A line
	// that ends the effects of the last event calls flush first.
	own func(n int, raw string, flush func()) bool
	// step runs the event of the "> " line raw (line n) and returns its
	// effects, rendered.
	step func(n int, raw string) []string
	// fields returns the machine's fields that "?" lines compare.
	fields func() map[string]string
}

// run reads and runs the transcript and returns its lines and, as
// -rewrite writes them, the lines it should have.
func (tr transcript) run() (lines, out []string) {
	t, path := tr.t, tr.path
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines = strings.Split(strings.TrimRight(string(data), "\n"), "\n")
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
		case strings.HasPrefix(raw, "> "):
			flush()
			got = tr.step(n, raw)
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
			out = append(out, "? "+tr.checkFields(n, raw[2:]))
		case tr.own(n, raw, flush):
			out = append(out, raw)
		default:
			flush()
			out = append(out, raw)
		}
	}
	flush()
	return lines, out
}

// checkFields compares "key=value ..." on line n with the machine's fields
// and returns the line as it should read.
func (tr transcript) checkFields(n int, spec string) string {
	have := tr.fields()
	var fixed []string
	for _, kv := range strings.Fields(spec) {
		k, v, _ := strings.Cut(kv, "=")
		h, ok := have[k]
		if !ok {
			tr.t.Fatalf("%s:%d: no %s field %q", tr.path, n, tr.machine, k)
		}
		if h != v && !*rewrite {
			tr.t.Errorf("%s:%d: %s %s = %q, want %q", tr.path, n, tr.machine, k, h, v)
		}
		fixed = append(fixed, k+"="+h)
	}
	return strings.Join(fixed, " ")
}

// write writes out as the transcript's new text, with -rewrite.
func (tr transcript) write(out []string) {
	if !*rewrite {
		return
	}
	if err := os.WriteFile(tr.path, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
		tr.t.Fatal(err)
	}
}

// effectStrings renders effects, one a line.
func effectStrings[E fmt.Stringer](effects []E) []string {
	var got []string
	for _, e := range effects {
		got = append(got, e.String())
	}
	return got
}

func runTranscript(t *testing.T, path string) {
	var s fsm.Session
	tr := transcript{t: t, path: path, machine: "session"}
	// A "policy" line starts a new session; it does not end the effects of
	// the last event.
	tr.own = func(n int, raw string, _ func()) bool {
		if !strings.HasPrefix(raw, "policy") {
			return false
		}
		p, err := parsePolicy(strings.Fields(raw)[1:])
		if err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		s = fsm.New(p)
		return true
	}
	tr.step = func(n int, raw string) []string {
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
		return effectStrings(effects)
	}
	tr.fields = func() map[string]string {
		have := map[string]string{}
		for _, f := range s.Fields() {
			have[f.Name] = f.Value
		}
		return have
	}
	_, out := tr.run()
	tr.write(out)
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
		case "max-resources":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, err
			}
			p.MaxResources = n
		case "max-directed":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, err
			}
			p.MaxDirected = n
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
	words, xmlText, err := eventWords(text)
	if err != nil {
		return fsm.Event{}, err
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
		case k == "resources":
			n, err := strconv.Atoi(v)
			if err != nil {
				return ev, err
			}
			ev.Resources = n
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
	ev.Elem, err = eventElem(xmlText)
	return ev, err
}

// eventWords splits "kind key=value ... [<xml/>]" into the words before
// the element (each a wordRE match) and the element's text after its "<".
func eventWords(text string) (words [][]string, xmlText string, err error) {
	head, xmlText, _ := strings.Cut(text, "<")
	words = wordRE.FindAllStringSubmatch(head, -1)
	if len(words) == 0 {
		return nil, "", fmt.Errorf("empty event")
	}
	return words, xmlText, nil
}

// eventElem parses the element that eventWords split off, if any.
func eventElem(xmlText string) (*etree.Element, error) {
	if xmlText == "" {
		return nil, nil
	}
	return parseXML("<" + xmlText)
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
