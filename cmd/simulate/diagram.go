package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/xmppfsm/xmppfsm/spec"
)

// diagram prints the phase diagram generated from spec.Model.
func diagram(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("diagram", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "mermaid", "mermaid or dot")
	page := fs.Bool("page", false, "write the whole Markdown page (spec/session-diagram.md)")
	out := fs.String("o", "", "write to this file instead of standard output")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: simulate diagram [--format mermaid|dot] [--page] [-o FILE]")
		fs.PrintDefaults()
	}
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}
	var text string
	switch {
	case *page:
		text = spec.DiagramPage()
	case *format == "mermaid":
		text = spec.Mermaid(spec.DiagramPolicy())
	case *format == "dot":
		text = spec.Dot(spec.DiagramPolicy())
	default:
		fmt.Fprintf(stderr, "simulate diagram: unknown format %q (mermaid or dot)\n", *format)
		return 2
	}
	if *out == "" {
		fmt.Fprint(stdout, text)
		return 0
	}
	if err := os.WriteFile(*out, []byte(text), 0o644); err != nil {
		fmt.Fprintf(stderr, "simulate diagram: cannot write %s: %v\n", *out, unwrapPath(err))
		return 2
	}
	return 0
}
