package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// costRow is a row of the --costs table: input, events, share, ns per
// event in the machines and in the checks.
var costRow = regexp.MustCompile(`(?m)^  ([a-z0-9-]+) +([0-9,]+) +([0-9.]+)% +([0-9]+) ns +([0-9]+) ns$`)

// TestRandomCosts: --costs adds a table of the inputs whose events add up
// to the events the run reports, in order of the time they took, and
// leaves the rest of the report as it was.
func TestRandomCosts(t *testing.T) {
	args := []string{"random", "--clients", "10", "--events", "20000", "--seed", "5"}
	code, plain, _ := runCmd(t, args...)
	if code != 0 {
		t.Fatalf("exit %d without --costs:\n%s", code, plain)
	}
	code, out, errOut := runCmd(t, append(args, "--costs")...)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d with --costs, stderr %q:\n%s", code, errOut, out)
	}
	head, table, ok := strings.Cut(out, "\ncosts: ")
	if !ok {
		t.Fatalf("no costs table:\n%s", out)
	}
	table, tail, ok := strings.Cut(table, "\ncoverage: ")
	if !ok {
		t.Fatalf("the costs table is not followed by the coverage:\n%s", out)
	}
	if a, b := timing.ReplaceAllString(plain, ""), timing.ReplaceAllString(head+"\ncoverage: "+tail, ""); a != b {
		t.Errorf("the report changed with --costs:\n%s\nwant:\n%s", b, a)
	}

	costRows := costRow.FindAllStringSubmatch(table, -1)
	if len(costRows) < 20 {
		t.Fatalf("%d rows in the costs table, want one per input the run gave (more than 20):\n%s", len(costRows), table)
	}
	events, seen := 0, map[string]bool{}
	lastShare := 101.0
	for _, r := range costRows {
		if seen[r[1]] || !isInput(r[1]) {
			t.Errorf("row %q: not an input, or listed twice", r[0])
		}
		seen[r[1]] = true
		n, _ := strconv.Atoi(strings.ReplaceAll(r[2], ",", ""))
		events += n
		share, _ := strconv.ParseFloat(r[3], 64)
		if share > lastShare+0.05 { // rounded to 0.1
			t.Errorf("row %q comes after a row of %.1f%%: not in order of time", r[0], lastShare)
		}
		lastShare = share
	}
	m := regexp.MustCompile(`events +([0-9,]+) client events`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no event count in the report:\n%s", out)
	}
	if want, _ := strconv.Atoi(strings.ReplaceAll(m[1], ",", "")); events != want {
		t.Errorf("the costs table counts %d events, the report %d", events, want)
	}
	// The summary splits the whole run: the rows' shares add up to the
	// machines' and the checks', and the rest is what is left of it.
	sum := regexp.MustCompile(`machines and hub ([0-9.]+)%, checks ([0-9.]+)%, the rest ([0-9.]+)%`).FindStringSubmatch(table)
	if sum == nil {
		t.Fatalf("no summary line of the shares, or a negative one:\n%s", table)
	}
	var machines, checks, rest float64
	for i, v := range []*float64{&machines, &checks, &rest} {
		*v, _ = strconv.ParseFloat(sum[i+1], 64)
	}
	if total := machines + checks + rest; total < 99.8 || total > 100.2 {
		t.Errorf("the shares add up to %.1f%%, not the whole run", total)
	}
	rows := 0.0
	for _, r := range costRows {
		share, _ := strconv.ParseFloat(r[3], 64)
		rows += share
	}
	if slack := 0.05*float64(len(costRows)) + 0.1; rows < machines+checks-slack || rows > machines+checks+slack {
		t.Errorf("the rows add up to %.1f%%, the machines and checks to %.1f%%", rows, machines+checks)
	}
}

// isInput reports whether name is the name of an input.
func isInput(name string) bool {
	for k := range kinds {
		if kinds[k].name == name {
			return true
		}
	}
	return false
}
