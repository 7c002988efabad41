package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/spec"
)

// stepFunc is the machine explore checks. Tests replace it with a broken
// one to see that the explorer catches it.
var stepFunc spec.StepFunc = fsm.Step

// policyOrder is the order in which policies are explored and reported;
// a policy spec.Policies adds later comes after these, by name.
var policyOrder = []string{"rfc", "require-tls", "variants"}

// invariants lists the invariants the "invariant" check states, as
// spec/session.md words them.
func invariants() []string {
	out := make([]string, len(fsm.Invariants))
	for i, inv := range fsm.Invariants {
		out[i] = inv.ID + " " + inv.Text
	}
	return out
}

// explore runs the exhaustive explorer (spec.Explore) over the chosen
// policies and reports each: states, transitions, states per phase, the
// checks made, the time taken, and either the fixpoint with no violation or
// every violation with its shortest input path. It exits 0 when every
// policy is clean, 1 on a violation, 2 on bad usage.
func explore(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("explore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	policy := fs.String("policy", "all", "the policy to explore: "+strings.Join(policyNames(), ", ")+" or all")
	asJSON := fs.Bool("json", false, "print a machine-readable report")
	machine := fs.String("machine", "session", "the machine to explore: session (under --policy), user (two users with two resources each, under the RFC's policy) or all")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: simulate explore [--machine session|user|all] [--policy NAME|all] [--json]\n\n")
		fs.PrintDefaults()
	}
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}
	names, err := selectPolicies(*policy)
	if err != nil {
		fmt.Fprintf(stderr, "simulate explore: %v\n", err)
		return 2
	}
	switch *machine {
	case "session", "all":
	case "user":
		names = nil
	default:
		fmt.Fprintf(stderr, "simulate explore: unknown machine %q (want session, user or all)\n", *machine)
		return 2
	}

	policies := spec.Policies()
	rep := report{Clean: true}
	if *machine != "session" {
		ur := exploreUserReport()
		rep.User = &ur
		rep.Clean = len(ur.Violations) == 0 && ur.Fixpoint
	}
	for _, name := range names {
		start := time.Now()
		x := spec.Explore(policies[name], stepFunc)
		elapsed := time.Since(start)
		pr := newPolicyReport(name, x, elapsed)
		rep.Clean = rep.Clean && len(pr.Violations) == 0
		rep.Policies = append(rep.Policies, pr)
	}

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "simulate explore: %v\n", err)
			return 2
		}
	} else {
		rep.writeText(stdout)
	}
	if !rep.Clean {
		return 1
	}
	return 0
}

// policyNames lists the policies of spec.Policies in report order.
func policyNames() []string {
	all := spec.Policies()
	var names []string
	for _, n := range policyOrder {
		if _, ok := all[n]; ok {
			names = append(names, n)
		}
	}
	var extra []string
	for n := range all {
		if !slices.Contains(names, n) {
			extra = append(extra, n)
		}
	}
	sort.Strings(extra)
	return append(names, extra...)
}

// selectPolicies turns the --policy value into the policies to explore.
func selectPolicies(choice string) ([]string, error) {
	names := policyNames()
	switch {
	case choice == "all":
		return names, nil
	case slices.Contains(names, choice):
		return []string{choice}, nil
	}
	return nil, fmt.Errorf("unknown policy %q (want %s or all)", choice, strings.Join(names, ", "))
}

// report is what explore prints; --json prints it as it is.
type report struct {
	Policies []policyReport `json:"policies,omitempty"`
	// User is the exploration of the user machine (--machine user or all).
	User *userReport `json:"user,omitempty"`
	// Clean is true when no policy, and not the user machine, has a
	// violation (and the user machine reached its fixpoint).
	Clean bool `json:"clean"`
}

// policyReport is the exploration of one policy.
type policyReport struct {
	Policy      string `json:"policy"`
	States      int    `json:"states"`
	Transitions int    `json:"transitions"`
	// Phases counts the states per phase, every phase listed (0 when none
	// was reached).
	Phases     map[string]int `json:"phases"`
	Checks     []string       `json:"checks"`
	Invariants []string       `json:"invariants"`
	ElapsedMS  float64        `json:"elapsed_ms"`
	// Fixpoint is true once no new state appears: Explore always runs to
	// it, so a report exists only with it.
	Fixpoint   bool            `json:"fixpoint"`
	Violations []violationJSON `json:"violations"`

	elapsed    time.Duration
	phaseOrder []string
}

// violationJSON is one failed check with its shortest input path.
type violationJSON struct {
	Check string   `json:"check"`
	Error string   `json:"error"`
	Path  []string `json:"path"`
}

func newPolicyReport(name string, x spec.Exploration, elapsed time.Duration) policyReport {
	pr := policyReport{
		Policy: name, States: x.States, Transitions: x.Transitions,
		Phases: map[string]int{}, Checks: spec.Checks, Invariants: invariants(),
		ElapsedMS: float64(elapsed.Microseconds()) / 1000, Fixpoint: true,
		Violations: []violationJSON{}, elapsed: elapsed,
	}
	for ph := fsm.Phase(0); int(ph) < fsm.NumPhases; ph++ {
		pr.Phases[ph.String()] = x.Phases[ph]
		pr.phaseOrder = append(pr.phaseOrder, ph.String())
	}
	for _, v := range x.Violations {
		path := make([]string, len(v.Path))
		for i, in := range v.Path {
			path[i] = in.String()
		}
		msg := ""
		if v.Err != nil {
			msg = v.Err.Error()
		}
		pr.Violations = append(pr.Violations, violationJSON{Check: v.Check, Error: msg, Path: path})
	}
	return pr
}

// writeText prints the report for people.
func (r report) writeText(w io.Writer) {
	for i, pr := range r.Policies {
		if i > 0 {
			fmt.Fprintln(w)
		}
		pr.writeText(w)
	}
	if r.User != nil {
		if len(r.Policies) > 0 {
			fmt.Fprintln(w)
		}
		r.User.writeText(w)
	}
	fmt.Fprintln(w)
	if len(r.Policies) > 0 {
		var bad []string
		for _, pr := range r.Policies {
			if len(pr.Violations) > 0 {
				bad = append(bad, pr.Policy)
			}
		}
		if len(bad) == 0 {
			fmt.Fprintf(w, "explored %d %s: no violation\n", len(r.Policies), plural(len(r.Policies), "policy", "policies"))
		} else {
			fmt.Fprintf(w, "explored %d %s: violations under %s\n", len(r.Policies), plural(len(r.Policies), "policy", "policies"), strings.Join(bad, ", "))
		}
	}
	if r.User != nil {
		if len(r.User.Violations) == 0 && r.User.Fixpoint {
			fmt.Fprintln(w, "explored the user machine: no violation")
		} else {
			fmt.Fprintln(w, "explored the user machine: violations")
		}
	}
}

func (pr policyReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "policy %s: %d states, %d transitions, explored in %v\n",
		pr.Policy, pr.States, pr.Transitions, pr.elapsed.Round(10*time.Microsecond))
	width := len("phase")
	for _, ph := range pr.phaseOrder {
		width = max(width, len(ph))
	}
	numWidth := max(len("states"), len(fmt.Sprint(pr.States)))
	fmt.Fprintf(w, "  %-*s  %*s\n", width, "phase", numWidth, "states")
	for _, ph := range pr.phaseOrder {
		fmt.Fprintf(w, "  %-*s  %*d\n", width, ph, numWidth, pr.Phases[ph])
	}
	fmt.Fprintf(w, "  %-*s  %*d\n", width, "total", numWidth, pr.States)
	fmt.Fprintln(w, "  checks after every transition:")
	for _, c := range pr.Checks {
		fmt.Fprintf(w, "    %s\n", c)
	}
	fmt.Fprintln(w, "  invariants checked in every reached state:")
	for _, inv := range pr.Invariants {
		fmt.Fprintf(w, "    %s\n", inv)
	}
	if len(pr.Violations) == 0 {
		fmt.Fprintln(w, "  fixpoint reached: no violation")
		return
	}
	fmt.Fprintf(w, "  fixpoint reached: %d %s\n", len(pr.Violations), plural(len(pr.Violations), "violation", "violations"))
	for _, v := range pr.Violations {
		lines := strings.Split(v.Error, "\n")
		fmt.Fprintf(w, "  %s: %s\n", v.Check, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(w, "    %s\n", l)
		}
		fmt.Fprintf(w, "    shortest path: %s\n", strings.Join(v.Path, " → "))
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
