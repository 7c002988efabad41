package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/record"
)

// replayLogs is `simulate replay`: it reads session logs that `xmppd serve
// --record DIR` wrote (impl/record), runs each log's events through a fresh
// session machine under the policy in the log's header, and checks that
// every step produces the effects the log holds, modulo redaction
// (record.Replay); a users log likewise, each user machine from its loads
// (record.ReplayUsers). It prints every step (← the event, → the effects), or
// with --quiet only the verdicts; at the first divergence, the step, its
// event, the log's and the machine's effects and their go-cmp diff.
//
// Every log is read before anything runs. It exits 0 when every log
// replayed identically, 1 on a divergence, 2 on bad usage or a log that
// cannot be read (file:line: what is wrong).
func replayLogs(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quiet := fs.Bool("quiet", false, "print only each log's verdict (and a divergence)")
	asJSON := fs.Bool("json", false, "print one machine-readable report")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: simulate replay [--quiet] [--json] LOG...

Replays session logs written by `+"`xmppd serve --record DIR`"+` (one JSON-lines
file per connection): each log's events go through a fresh session machine
under the policy its header records, and every step's effects must be the
ones the log holds. SASL payloads are recorded by length only; the machine
gets stand-ins of the same length and its effects are compared redacted.
The users log (users-*.jsonl) replays each user machine from the state the
store loaded it with.
Exit 0: every log replayed identically; 1: a log diverged; 2: bad input.

`)
		fs.PrintDefaults()
	}
	files, code := parseInterleaved(fs, args)
	if code >= 0 {
		return code
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "simulate replay: no log given")
		fs.Usage()
		return 2
	}
	var (
		logs  []*record.Log
		ulogs []*record.UsersLog
	)
	for _, f := range files {
		lg, ulg, err := readRecorded(f)
		if err != nil {
			fmt.Fprintf(stderr, "simulate replay: %v\n", err)
			return 2
		}
		logs, ulogs = append(logs, lg), append(ulogs, ulg)
	}

	rep := replayReport{Identical: true}
	for i, lg := range logs {
		var lr replayedLog
		if lg != nil {
			lr = replaySession(files[i], lg)
		} else {
			lr = replayUsers(files[i], ulogs[i])
		}
		rep.Identical = rep.Identical && lr.Identical
		rep.Logs = append(rep.Logs, lr)
	}

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "simulate replay: %v\n", err)
			return 2
		}
	} else {
		rep.writeText(stdout, *quiet)
	}
	if !rep.Identical {
		return 1
	}
	return 0
}

// readRecorded reads a session log, or a users log (by the format its
// header names); its errors name the file and the line.
func readRecorded(file string) (*record.Log, *record.UsersLog, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read %s: %v", file, unwrapPath(err))
	}
	first, _, _ := bytes.Cut(src, []byte("\n"))
	var h struct{ Format string }
	if json.Unmarshal(first, &h) == nil && h.Format == record.UsersFormat {
		ulg, err := record.ReadUsers(bytes.NewReader(src))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", file, err)
		}
		return nil, ulg, nil
	}
	lg, err := record.Read(bytes.NewReader(src))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", file, err)
	}
	return lg, nil, nil
}

// replaySession replays a session log.
func replaySession(file string, lg *record.Log) replayedLog {
	res, err := record.Replay(lg)
	lr := replayedLog{File: file, Kind: "session", Conn: lg.Header.Conn, Started: lg.Header.Started,
		Steps: len(lg.Steps), Replayed: res.Steps, Identical: err == nil && res.Divergence == nil}
	if err != nil {
		lr.Error = err.Error()
	}
	if d := res.Divergence; d != nil {
		lr.Divergence = &divergenceReport{Step: d.Step, Line: lg.Steps[d.Step-1].Line,
			Event: d.Event.String(), Expected: strs(d.Want), Got: strs(d.Got), Diff: d.Diff}
	}
	lr.log = lg
	return lr
}

func strs[T fmt.Stringer](list []T) []string {
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = x.String()
	}
	return out
}

// replayReport is what replay prints; --json prints it as it is.
type replayReport struct {
	Logs []replayedLog `json:"logs"`
	// Identical is true when every log replayed identically.
	Identical bool `json:"identical"`
}

// replayedLog is the replay of one log.
type replayedLog struct {
	File string `json:"file"`
	// Kind is "session" (a connection's log) or "users" (the user
	// machines' log).
	Kind    string `json:"kind"`
	Conn    string `json:"conn,omitempty"`
	Started string `json:"started,omitempty"`
	// Steps is the number of steps in the log, Replayed the number run.
	Steps      int               `json:"steps"`
	Replayed   int               `json:"replayed"`
	Identical  bool              `json:"identical"`
	Divergence *divergenceReport `json:"divergence,omitempty"`
	// Error is why the log could not be replayed to its end (the machine
	// panicked).
	Error string `json:"error,omitempty"`
	// Users are the user machines of a users log, in the order they
	// first appear.
	Users []replayedUser `json:"users,omitempty"`

	log  *record.Log
	ulog *record.UsersLog
}

// divergenceReport is a record.Divergence, rendered.
type divergenceReport struct {
	Step int `json:"step"`
	// Line is the step's line in the log file.
	Line     int      `json:"line"`
	Event    string   `json:"event"`
	Expected []string `json:"expected"`
	Got      []string `json:"got"`
	// Diff is the go-cmp diff of the effects: - the log, + the machine.
	Diff string `json:"diff"`
}

func (r replayReport) writeText(w io.Writer, quiet bool) {
	for i, lr := range r.Logs {
		if i > 0 && !quiet {
			fmt.Fprintln(w)
		}
		lr.writeText(w, quiet)
	}
	if len(r.Logs) > 1 {
		if !quiet {
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w, tally(r.Logs, func(lr replayedLog) bool { return !lr.Identical }, "logs", "all replayed identically", "diverged"))
	}
}

func (lr replayedLog) writeText(w io.Writer, quiet bool) {
	if lr.ulog != nil {
		lr.writeUsers(w, quiet)
		return
	}
	h := lr.log.Header
	if !quiet {
		fmt.Fprintf(w, "%s: session log of connection %s", lr.File, h.Conn)
		if h.Started != "" {
			fmt.Fprintf(w, ", started %s", h.Started)
		}
		fmt.Fprintf(w, "\n  policy: %s\n", describePolicy(h.Policy))
		const indent = "          "
		for _, st := range lr.log.Steps[:lr.Replayed] {
			if lr.Divergence != nil && st.N == lr.Divergence.Step {
				break
			}
			fmt.Fprintf(w, "  %-6d  ← %s\n", st.N, oneLine(st.Event.String(), indent+"  "))
			for _, e := range st.Effects {
				fmt.Fprintf(w, "%s→ %s\n", indent, oneLine(e.String(), indent+"  "))
			}
		}
	}
	switch {
	case lr.Divergence != nil:
		d := lr.Divergence
		fmt.Fprintf(w, "%s: DIVERGED at step %d of %d (line %d)\n", lr.File, d.Step, lr.Steps, d.Line)
		d.writeText(w)
	case lr.Error != "":
		fmt.Fprintf(w, "%s: cannot replay: %s\n", lr.File, lr.Error)
	default:
		fmt.Fprintf(w, "%s: %d steps replayed, every effect identical\n", lr.File, lr.Steps)
	}
}

// describePolicy is the header's policy in one line: what differs from the
// RFC's defaults is what a reader needs.
func describePolicy(p fsm.Policy) string {
	var parts []string
	parts = append(parts, "hosts "+strings.Join(p.Hosts, ","))
	tls := "no TLS"
	switch {
	case p.TLS && p.RequireTLS:
		tls = "TLS required"
	case p.TLS:
		tls = "TLS offered"
	}
	parts = append(parts, tls)
	var mechs []string
	for _, m := range p.Mechanisms {
		mechs = append(mechs, m.Name)
	}
	parts = append(parts, "mechanisms "+strings.Join(mechs, ","))
	return strings.Join(parts, "; ") + " (the whole policy is in the log's header)"
}

func indentBlock(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// writeText prints the divergent step: its event, the log's and the
// machine's effects, and their diff.
func (d *divergenceReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "  ← %s\n", oneLine(d.Event, "    "))
	fmt.Fprintln(w, "  expected (the log):")
	for _, e := range d.Expected {
		fmt.Fprintf(w, "    → %s\n", oneLine(e, "      "))
	}
	fmt.Fprintln(w, "  got (the machine):")
	for _, e := range d.Got {
		fmt.Fprintf(w, "    → %s\n", oneLine(e, "      "))
	}
	fmt.Fprintf(w, "  diff (-log +machine):\n%s\n", indentBlock(strings.TrimRight(d.Diff, "\n"), "    "))
}
