package main

import (
	"strings"
	"testing"
)

// TestBadInputEverySubcommand: bad usage of explore, random, diagram and
// of the command itself gets a clear message and exit 2, nothing on
// stdout, never a stack trace. (run and replay have their own tables:
// TestRunBadInput, TestRunAddrBadInput, TestReplayBadInput.)
func TestBadInputEverySubcommand(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "usage: simulate COMMAND"},
		{"unknown command", []string{"frob"}, "simulate: unknown command \"frob\"\n"},
		{"explore: argument", []string{"explore", "extra"}, "simulate explore: unexpected argument \"extra\"\n"},
		{"explore: unknown machine", []string{"explore", "--machine", "robot"}, "simulate explore: unknown machine \"robot\""},
		{"explore: unknown flag", []string{"explore", "--bogus"}, "flag provided but not defined: -bogus"},
		{"random: argument", []string{"random", "extra"}, "simulate random: unexpected argument \"extra\"\n"},
		{"random: too few clients", []string{"random", "--clients", "1"}, "simulate random: --clients must be between 2 and"},
		{"random: no events", []string{"random", "--events", "0"}, "simulate random: --events must be at least 1, not 0\n"},
		{"random: not a number", []string{"random", "--seed", "x"}, `invalid value "x" for flag -seed`},
		{"diagram: argument", []string{"diagram", "extra"}, "simulate diagram: unexpected argument \"extra\"\nusage: simulate diagram"},
		{"diagram: unknown format", []string{"diagram", "--format", "svg"}, "simulate diagram: unknown format \"svg\""},
		{"diagram: unwritable output", []string{"diagram", "-o", "testdata/no/such/dir.mmd"},
			"simulate diagram: cannot write testdata/no/such/dir.mmd: no such file or directory\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tt.args...)
			if code != 2 || out != "" || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errOut, tt.want)
			}
			checkNoInternals(t, errOut)
		})
	}
}
