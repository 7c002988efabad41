package main

import (
	"fmt"
	"io"
	"sort"
	"time"
)

// inputCost is what the events of one input cost in a run (--costs): the
// time the hub took to run the machines until idle, and the time the
// checks after the event took.
type inputCost struct {
	events           int
	machines, checks time.Duration
}

func (c *inputCost) add(machines, checks time.Duration) {
	c.events++
	c.machines += machines
	c.checks += checks
}

// writeCosts prints the inputs by the share of the run's time they took,
// most first, with the cost of one event of each.
func writeCosts(w io.Writer, costs *[numKinds]inputCost, elapsed time.Duration) {
	var order []kindID
	var machines, checks time.Duration
	for k := range costs {
		if c := &costs[k]; c.events > 0 {
			order = append(order, kindID(k))
			machines += c.machines
			checks += c.checks
		}
	}
	total := func(k kindID) time.Duration { return costs[k].machines + costs[k].checks }
	sort.SliceStable(order, func(i, j int) bool { return total(order[i]) > total(order[j]) })
	share := func(d time.Duration) float64 { return 100 * d.Seconds() / elapsed.Seconds() }
	fmt.Fprintln(w, "\ncosts: the run's time by input (--costs), most first; per event, the machines and hub until idle, then the checks")
	fmt.Fprintf(w, "  %-22s %9s %7s %10s %10s\n", "input", "events", "time", "machines", "checks")
	for _, k := range order {
		c := &costs[k]
		fmt.Fprintf(w, "  %-22s %9s %6.1f%% %7.0f ns %7.0f ns\n", kinds[k].name, commas(c.events), share(total(k)),
			perEvent(c.machines, c.events), perEvent(c.checks, c.events))
	}
	other := elapsed - machines - checks
	fmt.Fprintf(w, "  machines and hub %.1f%%, checks %.1f%%, the rest %.1f%% (choosing actions, coverage, the timing itself)\n",
		share(machines), share(checks), share(other))
}

func perEvent(d time.Duration, n int) float64 { return float64(d.Nanoseconds()) / float64(n) }
