// Command bench drives an XMPP server on loopback over standard XMPP
// (plaintext, or STARTTLS with --starttls) and measures it:
//
//	bench logins   --addr A --n 2000 --c 50        # logins/s, p50/p99
//	bench messages --addr A --pairs 50 --k 200 --w 10 [--rate R]
//	bench presence --addr A --contacts 100 --changes 20
//	bench idle     --addr A --n 1000 --pid PID     # RSS per session
//	bench report   --in results.jsonl --md T.md --svg P.svg
//
// Every login step and every message is checked; failures and losses are
// counted, reported, and make the exit status 3. Each run is bounded (--max)
// and only loopback addresses are accepted. With --pid (the server's
// process, or processes, comma separated) the server's CPU time
// (/proc/PID/stat) and resident memory (/proc/PID/status) are read
// before and after. Accounts are PREFIX1, PREFIX2, … with one password.
//
// Each run prints a table and, with --json FILE, appends one JSON line
// {label, figure, workload, result} to FILE, which report turns into the
// tables and plot of BENCHMARKS.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

var errUsage = errors.New("usage")

// errLosses is returned when a workload counted failures or losses.
var errLosses = errors.New("failures or losses counted")

const usage = `usage: bench logins|messages|presence|idle [flags]   (bench CMD -h for the flags)
       bench report --in results.jsonl [--md F] [--svg F]`

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errLosses):
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(3)
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// record is one JSON line of --json.
type record struct {
	Label    string    `json:"label"`
	Figure   string    `json:"figure"`
	Workload string    `json:"workload"`
	Time     time.Time `json:"time"`
	Result   any       `json:"result"`
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: no command\n%s", errUsage, usage)
	}
	cmd := args[0]
	switch cmd {
	case "report":
		return report(args[1:], stdout)
	case "help", "-h", "--help":
		_, err := fmt.Fprintln(stdout, usage)
		return err
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	t := &target{creds: &credentials{}}
	fs.StringVar(&t.addr, "addr", "127.0.0.1:5222", "server address (loopback only)")
	fs.StringVar(&t.domain, "domain", "localhost", "the server's domain")
	fs.StringVar(&t.prefix, "prefix", "user", "account names are PREFIX1, PREFIX2, …")
	fs.IntVar(&t.first, "first", 1, "index of the first account")
	fs.StringVar(&t.creds.password, "password", "password", "every account's password")
	fs.StringVar(&t.creds.mech, "mech", "PLAIN", "SASL mechanism: PLAIN, SCRAM-SHA-1 or SCRAM-SHA-256 (SCRAM keys cached per account)")
	fs.BoolVar(&t.creds.starttls, "starttls", false, "negotiate STARTTLS before SASL")
	fs.Var(&t.pids, "pid", "the server's process id(s), comma separated: CPU and memory are read from /proc")
	fs.DurationVar(&t.timeout, "timeout", 15*time.Second, "how long one step may wait for its answer")
	maxTime := fs.Duration("max", 5*time.Minute, "bound on the whole run")
	label := fs.String("label", "", "the server's name in the output")
	figure := fs.String("figure", cmd, "the figure's name in the output")
	jsonOut := fs.String("json", "", "append the result as a JSON line to this file")
	conc := fs.Int("c", 50, "concurrency of logins")
	var workload func(ctx context.Context) (any, bool)
	switch cmd {
	case "logins":
		n := fs.Int("n", 2000, "logins")
		workload = func(ctx context.Context) (any, bool) {
			r := runLogins(ctx, t, *n, *conc)
			return r, r.Failed == 0
		}
	case "messages":
		o := msgOptions{}
		fs.IntVar(&o.pairs, "pairs", 50, "pairs of clients")
		fs.IntVar(&o.perSender, "k", 200, "messages each client sends to its partner")
		fs.IntVar(&o.window, "w", 10, "messages in flight per sender")
		fs.Float64Var(&o.rate, "rate", 0, "fixed offered rate, messages/s over all senders (0: as fast as the window allows)")
		fs.DurationVar(&o.grace, "grace", 5*time.Second, "how long to wait with no message arriving before counting the rest lost")
		workload = func(ctx context.Context) (any, bool) {
			o.conc = *conc
			r := runMessages(ctx, t, o)
			return r, r.Lost == 0 && r.Duplicates == 0 && r.Unexpected == 0 && r.SendErrors == 0 && len(r.LoginFailed) == 0
		}
	case "presence":
		contacts := fs.Int("contacts", 100, "contacts online")
		changes := fs.Int("changes", 20, "presence changes broadcast")
		grace := fs.Duration("grace", 10*time.Second, "how long to wait with no broadcast arriving before counting the rest lost")
		workload = func(ctx context.Context) (any, bool) {
			r := runPresence(ctx, t, *contacts, *changes, *conc, *grace)
			return r, r.Lost == 0 && r.Duplicates == 0 && r.SubscribeErr == 0 && len(r.LoginFailed) == 0
		}
	case "idle":
		n := fs.Int("n", 1000, "sessions held")
		accounts := fs.Int("accounts", 0, "accounts the sessions use (0: one per session; fewer: several resources each)")
		settle := fs.Duration("settle", 2*time.Second, "wait after the logins before reading the server's memory")
		workload = func(ctx context.Context) (any, bool) {
			if *accounts <= 0 || *accounts > *n {
				*accounts = *n
			}
			r := runIdle(ctx, t, *n, *accounts, *conc, *settle)
			return r, r.Held == r.N && r.PingFailed == 0 && len(r.LoginFailed) == 0
		}
	default:
		return fmt.Errorf("%w: unknown command %q\n%s", errUsage, cmd, usage)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	switch t.creds.mech {
	case "PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256":
	default:
		return fmt.Errorf("%w: unknown mechanism %q", errUsage, t.creds.mech)
	}
	if err := loopbackOnly(t.addr); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *maxTime)
	defer cancel()
	res, clean := workload(ctx)
	rec := record{Label: *label, Figure: *figure, Workload: cmd, Time: time.Now().UTC(), Result: res}
	if err := printTable(stdout, rec); err != nil {
		return err
	}
	if *jsonOut != "" {
		if err := appendJSON(*jsonOut, rec); err != nil {
			return err
		}
	}
	if !clean {
		return fmt.Errorf("%s against %s: %w (see the table)", *figure, t.addr, errLosses)
	}
	return nil
}

func appendJSON(path string, rec record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// printTable prints the result's fields, one per line.
func printTable(w io.Writer, rec record) error {
	b, err := json.Marshal(rec.Result)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s\n", rec.Figure, rec.Label)
	for _, k := range keys {
		v := m[k]
		if sub, ok := v.(map[string]any); ok {
			b, _ := json.Marshal(sub)
			v = string(b)
		}
		fmt.Fprintf(&sb, "  %-28s %v\n", k, v)
	}
	_, err = io.WriteString(w, sb.String())
	return err
}
