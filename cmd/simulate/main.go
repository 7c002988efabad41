// Command simulate runs client traces through the session and user
// machines (in process, or against a live server), replays the session logs
// of xmppd serve --record, explores the machines' state spaces, runs random
// clients checking the invariants, and draws the session diagram.
//
//	simulate run [--json] [--no-color] TRACE...  scansion scripts and client XML logs, step by step
//	simulate run --addr HOST:PORT [--ca FILE | --insecure-skip-verify] SCRIPT...  scansion scripts against a live server
//	simulate replay [--quiet] [--json] LOG...  session logs of xmppd serve --record, through fresh machines
//	simulate explore [--machine session|user|all]  exhaustive exploration; exit 1 on a violation
//	simulate random [--clients N] [--events M] [--seed S] [--out FILE]  random multi-client simulation; exit 1 on a violation
//	simulate diagram [--format mermaid|dot] [--page] [-o FILE]
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command, so tests can call it. It returns the exit code:
// 0 success, 1 a violation or failed expectation, 2 bad usage or input.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "diagram":
		return diagram(args[1:], stdout, stderr)
	case "explore":
		return explore(args[1:], stdout, stderr)
	case "run":
		return runTraces(args[1:], stdout, stderr)
	case "random":
		return randomSim(args[1:], stdout, stderr)
	case "replay":
		return replayLogs(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "simulate: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: simulate COMMAND [ARGS]

commands:
  run        run traces (scansion scripts, client XML logs) through the machines on the in-memory hub,
             or scansion scripts against a live server (--addr HOST:PORT)
  replay     replay session logs recorded by xmppd serve --record and check every effect
  explore    explore every reachable state of the session machine (or the user machine) and check it
  random     run many random clients through the machines, checking the invariants after every event
  diagram    print the phase diagram generated from the model
`)
}
