package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/xmppfsm/xmppfsm/conformance"
)

// addrFlags are run's flags for a live server (--addr and what goes with
// it).
type addrFlags struct {
	addr         string
	caFile       string
	insecure     bool
	timeout      time.Duration
	loginTimeout time.Duration
	quietPeriod  time.Duration
}

// liveOnly are the flags that mean something only with --addr.
var liveOnly = []string{"ca", "insecure-skip-verify", "timeout", "login-timeout", "quiet-period"}

func (a *addrFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.addr, "addr", "", "run the scansion scripts against the live XMPP server at `HOST:PORT` (its accounts must exist)")
	fs.StringVar(&a.caFile, "ca", "", "with --addr: verify the server's certificate against the CA certificates in this PEM `file` (default: the system's)")
	fs.BoolVar(&a.insecure, "insecure-skip-verify", false, "with --addr: accept any certificate at STARTTLS (testing only)")
	fs.DurationVar(&a.timeout, "timeout", conformance.DefaultTCPReceiveTimeout, "with --addr: how long a receives waits for a stanza")
	fs.DurationVar(&a.loginTimeout, "login-timeout", conformance.DefaultTCPLoginTimeout, "with --addr: how long a connects may take (dial, STARTTLS, SASL, bind)")
	fs.DurationVar(&a.quietPeriod, "quiet-period", conformance.DefaultTCPQuietPeriod,
		"with --addr: how long the server must stay silent for \"receives: nothing\" to pass")
}

// setWithoutAddr returns the name of a flag given that needs --addr, or "".
func (a *addrFlags) setWithoutAddr(fs *flag.FlagSet) string {
	for _, name := range liveOnly {
		if flagGiven(fs, name) {
			return name
		}
	}
	return ""
}

func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// options returns the TCP target's options; its errors are bad input.
func (a *addrFlags) options() (conformance.TCPOptions, error) {
	if a.caFile != "" && a.insecure {
		return conformance.TCPOptions{}, fmt.Errorf("--ca and --insecure-skip-verify exclude each other")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"timeout", a.timeout}, {"login-timeout", a.loginTimeout}, {"quiet-period", a.quietPeriod}} {
		if d.v <= 0 {
			return conformance.TCPOptions{}, fmt.Errorf("--%s must be positive, not %v", d.name, d.v)
		}
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: a.insecure}
	if a.caFile != "" {
		pem, err := os.ReadFile(a.caFile)
		if err != nil {
			return conformance.TCPOptions{}, fmt.Errorf("cannot read %s: %v", a.caFile, unwrapPath(err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return conformance.TCPOptions{}, fmt.Errorf("%s: no PEM certificate in it", a.caFile)
		}
		cfg.RootCAs = pool
	}
	return conformance.TCPOptions{
		TLSConfig:      cfg,
		ReceiveTimeout: a.timeout,
		LoginTimeout:   a.loginTimeout,
		QuietPeriod:    a.quietPeriod,
	}, nil
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// runAgainst is `simulate run --addr`: each scansion script runs against
// the live server through conformance's TCP target (conformance.NewTCP),
// and the report lists every action with its outcome: ok, FAIL (with the
// runner's report: the expected and received XML and their go-cmp diff)
// or not run (a script stops at its first failure). Every script is read
// and checked first: a raw XML log, a script that does not parse, or one
// that uses what the TCP target cannot do (our raw-stream extension, timers,
// a server shutdown) is bad input, exit 2. It exits 1 when a script fails.
func runAgainst(a *addrFlags, files []string, asJSON bool, stdout, stderr io.Writer) int {
	opts, err := a.options()
	if err != nil {
		fmt.Fprintf(stderr, "simulate run: %v\n", err)
		return 2
	}
	var scripts []*conformance.Script
	for _, f := range files {
		s, err := loadLiveScript(f)
		if err != nil {
			fmt.Fprintf(stderr, "simulate run: %v\n", err)
			return 2
		}
		scripts = append(scripts, s)
	}
	rep := liveReport{Addr: a.addr, Passed: true}
	for i, s := range scripts {
		res := conformance.Run(s, conformance.NewTCP(a.addr, opts))
		lt := newLiveTrace(files[i], s, res)
		rep.Passed = rep.Passed && lt.Passed
		rep.Traces = append(rep.Traces, lt)
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "simulate run: %v\n", err)
			return 2
		}
	} else {
		rep.writeText(stdout)
	}
	if !rep.Passed {
		return 1
	}
	return 0
}

// loadLiveScript reads and parses a script to run against a server.
func loadLiveScript(file string) (*conformance.Script, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %v", file, unwrapPath(err))
	}
	if filepath.Ext(file) != ".scs" {
		return nil, fmt.Errorf("%s: a raw XML log cannot run against a server: the TCP target logs each client in itself "+
			"and sends no raw stream (run it without --addr, through the machines)", file)
	}
	s, err := conformance.Parse(file, src)
	if err != nil {
		return nil, err // file:line:column: message
	}
	if why := conformance.TCPUnsupported(s); why != "" {
		return nil, fmt.Errorf("%s: cannot run against a server: %s", file, why)
	}
	return s, nil
}

// liveReport is what run --addr prints; --json prints it as it is.
type liveReport struct {
	Addr   string      `json:"addr"`
	Traces []liveTrace `json:"traces"`
	Passed bool        `json:"passed"`
}

// liveTrace is one script's run against the server.
type liveTrace struct {
	File    string          `json:"file"`
	Title   string          `json:"title,omitempty"`
	Actions []actionOutcome `json:"actions"`
	Passed  bool            `json:"passed"`
	// Failures are the script's failed expectations (one: a script stops
	// at its first failure); Dropped the unawaited stanzas discarded.
	Failures []failureReport `json:"failures"`
	Dropped  int             `json:"dropped"`
	// Report is the runner's report (conformance.Result's text).
	Report string `json:"report"`
}

// actionOutcome is one action of a script and what became of it.
type actionOutcome struct {
	Line   int    `json:"line"`
	Client string `json:"client"`
	Verb   string `json:"verb"`
	// Status is "ok", "FAIL" or "not run".
	Status string `json:"status"`
}

func newLiveTrace(file string, s *conformance.Script, res conformance.Result) liveTrace {
	lt := liveTrace{File: file, Title: s.Title, Passed: res.Passed(), Dropped: len(res.Dropped),
		Report: res.String(), Failures: []failureReport{}}
	for i, act := range s.Actions {
		status := "ok"
		switch {
		case i == res.Actions && !res.Passed():
			status = "FAIL" // the action the runner stopped at
		case i >= res.Actions:
			status = "not run"
		}
		lt.Actions = append(lt.Actions, actionOutcome{Line: act.Line, Client: act.Client, Verb: act.Verb.String(), Status: status})
	}
	for _, f := range res.Failures {
		lt.Failures = append(lt.Failures, newFailureReport(f))
	}
	return lt
}

func (r liveReport) writeText(w io.Writer) {
	for i, lt := range r.Traces {
		if i > 0 {
			fmt.Fprintln(w)
		}
		head := fmt.Sprintf("%s against %s", lt.File, r.Addr)
		if lt.Title != "" {
			head += ": " + lt.Title
		}
		fmt.Fprintln(w, head)
		for _, a := range lt.Actions {
			fmt.Fprintf(w, "  %-7s  line %-4d  %s %s\n", a.Status, a.Line, a.Client, a.Verb)
		}
		fmt.Fprintln(w, lt.Report)
	}
	if len(r.Traces) > 1 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, tally(r.Traces, func(lt liveTrace) bool { return !lt.Passed }, "scripts against "+r.Addr, "all passed", "failed"))
	}
}
