package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
)

// A metric is one figure of the report: a value read from the results of
// one figure's runs, and the goal xmppd's median is held to.
type metric struct {
	figure string // the record's figure
	path   string // the value in the result: "logins_per_sec", "latency.p99_ms"
	title  string
	unit   string
	higher bool // higher is better
	// goal returns the goal's text and whether ours meets it; ok reports
	// whether the goal could be judged (the peers' figures may be missing).
	goal func(ours float64, peer map[string]float64) (text string, met, ok bool)
	// withRate adds the offered rate of the runs to the title.
	withRate bool
}

// fifthOfProsody is the latency goal: at most a fifth of Prosody's.
func fifthOfProsody(v float64, p map[string]float64) (string, bool, bool) {
	pr, ok := p["prosody"]
	return fmt.Sprintf("≤ 1/5 of Prosody (%s ms)", num(pr/5)), v <= pr/5, ok
}

// titleOf returns m's title, with the offered rate when it has one.
func (res results) titleOf(m metric) string {
	if !m.withRate {
		return m.title
	}
	for _, s := range servers {
		if v, n := res.median(metric{figure: m.figure, path: "offered_rate"}, s); n > 0 {
			return fmt.Sprintf("%s at %s msgs/s", m.title, num(v))
		}
	}
	return m.title
}

// ours is the label of xmppd's results.
const ours = "xmppd"

var metrics = []metric{
	{figure: "logins", path: "logins_per_sec", title: "logins/s (PLAIN, bind, roster, presence)", unit: "/s", higher: true,
		goal: func(v float64, p map[string]float64) (string, bool, bool) {
			pr, ok := p["prosody"]
			return fmt.Sprintf("≥ 5× Prosody (%s)", num(5*pr)), v >= 5*pr, ok
		}},
	{figure: "logins", path: "latency.p99_ms", title: "login p99 latency", unit: "ms"},
	{figure: "logins-scram", path: "logins_per_sec", title: "logins/s, hashed credentials (SCRAM-SHA-1)", unit: "/s", higher: true},
	{figure: "messages", path: "server_cpu_us_per_msg", title: "server CPU per delivered message", unit: "µs",
		goal: func(v float64, _ map[string]float64) (string, bool, bool) { return "≤ 5 µs", v <= 5, true }},
	{figure: "messages", path: "msgs_per_sec", title: "messages/s delivered", unit: "/s", higher: true,
		goal: func(v float64, p map[string]float64) (string, bool, bool) {
			best := 0.0
			for _, x := range p {
				best = max(best, x)
			}
			return fmt.Sprintf("> both peers (%s)", num(best)), v > best, len(p) > 0
		}},
	{figure: "messages", path: "latency.p99_ms", title: "message p99 latency, window mode", unit: "ms"},
	{figure: "messages-rate", path: "latency.p99_ms", title: "message p99 latency", unit: "ms", withRate: true,
		goal: fifthOfProsody},
	{figure: "messages-rate-high", path: "latency.p99_ms", title: "message p99 latency", unit: "ms", withRate: true,
		goal: fifthOfProsody},
	{figure: "presence", path: "broadcasts_per_sec", title: "presence broadcasts/s", unit: "/s", higher: true},
	{figure: "idle", path: "kib_per_session", title: "RSS per idle available session, plaintext", unit: "KiB",
		goal: func(v float64, _ map[string]float64) (string, bool, bool) { return "≤ 8 KiB", v <= 8, true }},
	{figure: "idle-tls", path: "kib_per_session", title: "RSS per idle available session, STARTTLS", unit: "KiB"},
	{figure: "sessions", path: "held", title: "concurrent sessions held (each pinged)", unit: "", higher: true,
		goal: func(v float64, _ map[string]float64) (string, bool, bool) {
			return "10,000 with no error", v >= 10000, true
		}},
}

// servers is the order of the table's columns.
var servers = []string{ours, "prosody", "ejabberd"}

// results holds each (figure, label)'s runs as decoded JSON.
type results map[[2]string][]map[string]any

func readResults(r io.Reader) (results, error) {
	res := results{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var rec struct {
			Label, Figure string
			Result        map[string]any
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			return nil, err
		}
		k := [2]string{rec.Figure, rec.Label}
		res[k] = append(res[k], rec.Result)
	}
	return res, sc.Err()
}

// lookup returns the number at path ("a.b") in m.
func lookup(m map[string]any, path string) (float64, bool) {
	var v any = m
	for p := range strings.SplitSeq(path, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return 0, false
		}
		v = mm[p]
	}
	f, ok := v.(float64)
	return f, ok
}

// median returns the median of the metric over the runs, and how many
// runs had it.
func (res results) median(m metric, label string) (float64, int) {
	var vs []float64
	for _, r := range res[[2]string{m.figure, label}] {
		if v, ok := lookup(r, m.path); ok {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return math.NaN(), 0
	}
	slices.Sort(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2], len(vs)
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2, len(vs)
}

// problems sums what went wrong in a figure's runs: failed logins, lost
// and duplicated messages and broadcasts, failed pings.
func (res results) problems(figure, label string) int {
	n := 0
	for _, r := range res[[2]string{figure, label}] {
		for _, k := range []string{"failed", "lost", "duplicates", "unexpected", "send_errors", "subscribe_failed", "ping_failed"} {
			if v, ok := lookup(r, k); ok {
				n += int(v)
			}
		}
		if mm, ok := r["login_failed"].(map[string]any); ok {
			for _, v := range mm {
				if f, ok := v.(float64); ok {
					n += int(f)
				}
			}
		}
	}
	return n
}

func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v >= 100:
		return commas(int64(math.Round(v)))
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func commas(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + commas(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// markdown writes the table: one row per metric, a column per server, the
// goal and whether xmppd meets it.
func (res results) markdown(w io.Writer) {
	fmt.Fprintf(w, "| figure | %s | goal | met |\n|---|", strings.Join(servers, " | "))
	for range servers {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w, "---|---|")
	for _, m := range metrics {
		vals := map[string]float64{}
		fmt.Fprintf(w, "| %s |", res.titleOf(m))
		for _, s := range servers {
			v, runs := res.median(m, s)
			cell := num(v)
			if runs > 0 {
				vals[s] = v
				if m.unit != "" && m.unit != "/s" {
					cell += " " + m.unit
				}
				if p := res.problems(m.figure, s); p > 0 {
					cell += fmt.Sprintf(" (%d failed/lost)", p)
				}
			}
			fmt.Fprintf(w, " %s |", cell)
		}
		goal, met := "", ""
		if m.goal != nil {
			peers := map[string]float64{}
			for s, v := range vals {
				if s != ours {
					peers[s] = v
				}
			}
			text, ok, judged := m.goal(vals[ours], peers)
			goal = text
			_, have := vals[ours]
			switch {
			case !have || !judged:
				met = "not measured"
				goal, _, _ = strings.Cut(goal, " (") // no peer figure to quote
			case ok:
				met = "yes"
			default:
				met = "**no**"
			}
		}
		fmt.Fprintf(w, " %s | %s |\n", goal, met)
	}
}

func report(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	in := fs.String("in", "", "results file (JSON lines from --json)")
	md := fs.String("md", "", "write the markdown table here (default: standard output)")
	svg := fs.String("svg", "", "write the plot here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" {
		return fmt.Errorf("%w: report needs --in", errUsage)
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	res, err := readResults(f)
	f.Close()
	if err != nil {
		return err
	}
	var sb strings.Builder
	res.markdown(&sb)
	if *md == "" {
		_, err = io.WriteString(stdout, sb.String())
	} else {
		err = os.WriteFile(*md, []byte(sb.String()), 0o644)
	}
	if err != nil {
		return err
	}
	if *svg != "" {
		var pb strings.Builder
		res.plot(&pb)
		return os.WriteFile(*svg, []byte(pb.String()), 0o644)
	}
	return nil
}
