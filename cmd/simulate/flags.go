package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// parseFlags parses args, flags only, for the subcommand fs names; code
// is the exit code when parsing ends the command (0 after -h, 2 on bad
// usage, with a word on stderr), -1 otherwise.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (code int) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "simulate %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return 2
	}
	return -1
}

// parseInterleaved parses flags that may come before, between or after the
// files, and returns the files; code is the exit code when parsing ends the
// command, -1 otherwise.
func parseInterleaved(fs *flag.FlagSet, args []string) (files []string, code int) {
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0
			}
			return nil, 2
		}
		if fs.NArg() == 0 {
			return files, -1
		}
		if used := len(rest) - fs.NArg(); used > 0 && rest[used-1] == "--" {
			return append(files, fs.Args()...), -1
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
}
