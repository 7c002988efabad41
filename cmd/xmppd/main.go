// Command xmppd is an XMPP server (client-to-server) built on package fsm.
//
//	xmppd serve --domain localhost --c2s 127.0.0.1:5222 --data ./xmppd-data \
//	      [--insecure-plain] [--require-tls=false] [--tls-cert F --tls-key F]
//	      [--pprof 127.0.0.1:6060]
//	      [--idle-timeout 10m] [--negotiation-timeout 30s] [--max-stanza BYTES]
//	      [--max-resources N] [--max-roster-items N] [--max-directed N]
//	      [--max-sasl-failures N] [--idle-users N] [--conflict replace|refuse|generate]
//	      [--subscribe-ack] [--probe-on-approval] [--channel-binding=false] [--record DIR]
//	xmppd user add JID [--password-stdin] [--data DIR]
//	xmppd user add --batch [--data DIR] < lines of 'JID PASSWORD' (spaces or tabs between; the password is the rest of the line)
//	xmppd user passwd JID [--password-stdin] [--data DIR]
//	xmppd user del JID [--data DIR]
//	xmppd user list [--data DIR]
//
// Without --tls-cert, serve generates a self-signed certificate for its
// domains on first start and keeps it in the data directory. SIGINT or
// SIGTERM shuts the server down gracefully (system-shutdown to every
// client). With --record DIR, serve writes each connection's session log
// (every event and effect, credentials left out) into DIR, for `simulate
// replay` (package impl/record).
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/xmppfsm/xmppfsm/impl/record"
	"github.com/xmppfsm/xmppfsm/impl/sasl"
	"github.com/xmppfsm/xmppfsm/impl/server"
	"github.com/xmppfsm/xmppfsm/impl/store"
	"github.com/xmppfsm/xmppfsm/impl/store/boltstore"
	"github.com/xmppfsm/xmppfsm/jid"
)

// iterations is the PBKDF2 iteration count of the accounts xmppd creates.
const iterations = sasl.DefaultIterations

// env is what a command runs with.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	ready  func(addr string) // serve: called once listening (tests)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{ctx: ctx, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	if err := runWith(e, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "xmppd:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// run runs xmppd with args, on the process's standard streams.
func run(args []string) error {
	return runWith(&env{ctx: context.Background(), stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, args)
}

var errUsage = errors.New("usage")

const usage = `usage:
  xmppd serve --domain D [--domain D2] [--c2s ADDR] [--data DIR] [--insecure-plain] [--require-tls=false] [--tls-cert F --tls-key F] [--pprof ADDR]
        [--idle-timeout D] [--negotiation-timeout D] [--max-stanza BYTES] [--max-resources N] [--max-roster-items N] [--max-directed N] [--max-sasl-failures N] [--idle-users N] [--conflict replace|refuse|generate] [--subscribe-ack] [--probe-on-approval] [--channel-binding=false]
        [--record DIR]   (a session log per connection, credentials left out, for simulate replay)
  xmppd user add JID [--password-stdin] [--data DIR]
  xmppd user add --batch [--data DIR]          (lines 'JID PASSWORD' on stdin: the JID, spaces or tabs, then the password as the rest of the line)
  xmppd user passwd JID [--password-stdin] [--data DIR]
  xmppd user del JID [--data DIR]
  xmppd user list [--data DIR]`

func usageErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s\n%s", errUsage, fmt.Sprintf(format, a...), usage)
}

func runWith(e *env, args []string) error {
	if len(args) == 0 {
		return usageErr("no command")
	}
	switch args[0] {
	case "serve":
		return serve(e, args[1:])
	case "user":
		if len(args) < 2 {
			return usageErr("user: no subcommand")
		}
		return user(e, args[1], args[2:])
	case "help", "-h", "--help":
		fmt.Fprintln(e.stdout, usage)
		return nil
	}
	return usageErr("unknown command %q", args[0])
}

// parse parses fs's flags from args, which may come before or after the
// positional arguments, and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageErr("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func openStore(dir string) (*boltstore.Store, error) {
	st, err := boltstore.OpenDir(dir, nil)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	return st, nil
}

// localOf returns the prepared localpart of a JID or bare localpart.
func localOf(j string) (string, error) {
	local, domain, ok := strings.Cut(j, "@")
	if ok {
		if local == "" {
			return "", fmt.Errorf("%q: no localpart", j)
		}
		if _, err := jid.PrepDomain(domain); err != nil {
			return "", fmt.Errorf("%q: bad domain: %v", j, err)
		}
	}
	p, err := jid.PrepLocal(local)
	if err != nil {
		return "", fmt.Errorf("%q: bad localpart: %v", j, err)
	}
	return p, nil
}

func readPassword(e *env, fromStdin bool) (string, error) {
	if !fromStdin {
		fmt.Fprint(e.stderr, "Password (echoed): ")
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", fmt.Errorf("reading the password: %v", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("empty password")
	}
	return pw, nil
}

func credentials(pw string) ([]byte, error) {
	creds, err := sasl.NewCredentials(pw, iterations, nil)
	if err != nil {
		return nil, err
	}
	return creds.MarshalBinary()
}

func user(e *env, sub string, args []string) error {
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	data := fs.String("data", "./xmppd-data", "data directory")
	pwStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	batch := fs.Bool("batch", false, "add: read 'JID PASSWORD' lines from standard input (bulk registration; the password is the rest of the line after the spaces or tabs)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *batch {
		if sub != "add" || len(pos) != 0 {
			return usageErr("user %s: --batch is for 'user add' without a JID", sub)
		}
		return addBatch(e, *data)
	}
	want := 1
	if sub == "list" {
		want = 0
	}
	switch sub {
	case "add", "passwd", "del", "list":
	default:
		return usageErr("unknown user subcommand %q", sub)
	}
	if len(pos) != want {
		return usageErr("user %s: want %d argument(s), got %d", sub, want, len(pos))
	}
	var local string
	if want == 1 {
		if local, err = localOf(pos[0]); err != nil {
			return err
		}
	}
	var creds []byte
	if sub == "add" || sub == "passwd" {
		pw, err := readPassword(e, *pwStdin)
		if err != nil {
			return err
		}
		if creds, err = credentials(pw); err != nil {
			return err
		}
	}
	st, err := openStore(*data)
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "add":
		err = st.CreateAccount(local, creds)
		if errors.Is(err, store.ErrExists) {
			return fmt.Errorf("user %s already exists", local)
		}
	case "passwd":
		err = st.SetCredentials(local, creds)
	case "del":
		err = st.DeleteAccount(local)
	case "list":
		var users []string
		if users, err = st.Accounts(); err == nil {
			for _, u := range users {
				fmt.Fprintln(e.stdout, u)
			}
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no user %s", local)
	}
	if err != nil {
		return err
	}
	return st.Close()
}

// domainsFlag collects --domain flags (each may list several, comma
// separated).
type domainsFlag []string

func (d *domainsFlag) String() string { return strings.Join(*d, ",") }
func (d *domainsFlag) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		p, err := jid.PrepDomain(strings.TrimSpace(part))
		if err != nil {
			return fmt.Errorf("bad domain %q: %v", part, err)
		}
		*d = append(*d, p)
	}
	return nil
}

func serve(e *env, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var domains domainsFlag
	fs.Var(&domains, "domain", "domain to serve (repeatable)")
	c2s := fs.String("c2s", "127.0.0.1:5222", "client listener address")
	data := fs.String("data", "./xmppd-data", "data directory")
	insecurePlain := fs.Bool("insecure-plain", false, "offer PLAIN without TLS (loopback testing only)")
	requireTLS := fs.Bool("require-tls", true, "make STARTTLS mandatory (the default, unless --insecure-plain is given)")
	certFile := fs.String("tls-cert", "", "TLS certificate (PEM)")
	keyFile := fs.String("tls-key", "", "TLS private key (PEM)")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this loopback address (profiling)")
	var lim limitFlags
	lim.register(fs)
	recordDir := fs.String("record", "", "write each connection's session log (every event and effect, credentials left out) into this directory, for simulate replay")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *insecurePlain && !flagSet(fs, "require-tls") {
		*requireTLS = false // PLAIN without TLS is for plaintext loopback tests
	}
	if len(pos) != 0 {
		return usageErr("serve: unexpected argument %q", pos[0])
	}
	if len(domains) == 0 {
		return usageErr("serve: --domain is required")
	}
	lc, err := lim.config()
	if err != nil {
		return err
	}
	if (*certFile == "") != (*keyFile == "") {
		return usageErr("serve: --tls-cert and --tls-key go together")
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	if *pprofAddr != "" {
		stopPprof, err := servePprof(log, *pprofAddr)
		if err != nil {
			return err
		}
		defer stopPprof()
	}

	st, err := openStore(*data)
	if err != nil {
		return err
	}
	defer st.Close()
	if *certFile == "" {
		*certFile, *keyFile, err = selfSigned(log, *data, domains)
		if err != nil {
			return err
		}
	}
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate: %v", err)
	}
	secret, err := loadSecret(*data)
	if err != nil {
		return err
	}
	var rec server.Recorder // a nil *record.Dir would be a non-nil Recorder
	if *recordDir != "" {
		d, err := record.NewDir(*recordDir)
		if err != nil {
			return err
		}
		rec = d
		log.Info("recording sessions", "dir", *recordDir)
	}
	// The limits and policies come whole from limits.go's config, so that
	// a new flag there cannot be dropped here.
	cfg := lc
	cfg.Domains = domains
	cfg.C2S = *c2s
	cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	cfg.RequireTLS = *requireTLS
	cfg.InsecurePlain = *insecurePlain
	cfg.Store = st
	cfg.Iterations = iterations
	cfg.SASLSecret = secret
	cfg.Logger = log
	cfg.Record = rec
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *c2s)
	if err != nil {
		return err
	}
	if e.ready != nil {
		e.ready(ln.Addr().String())
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		// Serve failed on its own: stop what is left.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		return err
	case <-e.ctx.Done():
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(ctx)
	if serr := <-served; !errors.Is(serr, server.ErrServerClosed) && err == nil {
		err = serr
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	log.Info("stopped")
	return err
}

// selfSigned returns the self-signed certificate kept in the data
// directory, generating it on first start.
func selfSigned(log *slog.Logger, dir string, domains []string) (certFile, keyFile string, err error) {
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if _, err := os.Stat(certFile); err == nil {
		return certFile, keyFile, nil
	}
	certPEM, keyPEM, err := server.SelfSigned(domains)
	if err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return "", "", err
	}
	log.Info("generated a self-signed certificate", "file", certFile, "domains", domains)
	return certFile, keyFile, nil
}

// loadSecret returns the SASL secret kept in the data directory, so that
// an unknown user's fake salt survives restarts.
func loadSecret(dir string) ([]byte, error) {
	path := filepath.Join(dir, "sasl-secret")
	b, err := os.ReadFile(path)
	if err == nil && len(b) == 32 {
		return b, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	b = make([]byte, 32)
	_, _ = rand.Read(b)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, err
	}
	return b, nil
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
