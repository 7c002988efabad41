package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/google/go-cmp/cmp"
	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/server"
	"github.com/xmppfsm/xmppfsm/impl/server/xclient"
	"github.com/xmppfsm/xmppfsm/impl/stream"
)

// TestLimitFlags: each limit flag reaches server.Config, the defaults are
// the server's, and a bad value is a usage error that names the flag.
func TestLimitFlags(t *testing.T) {
	defaults := server.Config{
		IdleTimeout:        server.DefaultIdleTimeout,
		NegotiationTimeout: server.DefaultNegotiationTimeout,
		MaxStanza:          stream.DefaultMaxStanza,
		MaxResources:       DefaultMaxResources,
		MaxRosterItems:     DefaultMaxRosterItems,
		MaxDirected:        DefaultMaxDirected,
		MaxSASLFailures:    3,
		IdleUsers:          1024,
	}
	for _, tc := range []struct {
		args    []string
		want    func(*server.Config)
		wantErr string
	}{
		{args: nil, want: func(*server.Config) {}},
		{args: []string{"--idle-timeout", "90s", "--negotiation-timeout", "5s"}, want: func(c *server.Config) {
			c.IdleTimeout, c.NegotiationTimeout = 90*time.Second, 5*time.Second
		}},
		{args: []string{"--idle-timeout", "0", "--negotiation-timeout", "0"}, want: func(c *server.Config) {
			c.IdleTimeout, c.NegotiationTimeout = -1, -1 // no limit
		}},
		{args: []string{"--max-stanza", "10000", "--max-resources", "3"}, want: func(c *server.Config) {
			c.MaxStanza, c.MaxResources = 10000, 3
		}},
		{args: []string{"--max-roster-items", "500", "--max-directed", "100"}, want: func(c *server.Config) {
			c.MaxRosterItems, c.MaxDirected = 500, 100
		}},
		{args: []string{"--max-resources", "0", "--max-roster-items", "0", "--max-directed", "0"}, want: func(c *server.Config) {
			c.MaxResources, c.MaxRosterItems, c.MaxDirected = 0, 0, 0 // no limits
		}},
		{args: []string{"--max-sasl-failures", "5"}, want: func(c *server.Config) { c.MaxSASLFailures = 5 }},
		{args: []string{"--idle-users", "10"}, want: func(c *server.Config) { c.IdleUsers = 10 }},
		{args: []string{"--idle-users", "0"}, want: func(c *server.Config) { c.IdleUsers = -1 }},
		{args: []string{"--idle-users", "-3"}, wantErr: "--idle-users -3: not a count"},
		{args: []string{"--max-sasl-failures", "0"}, wantErr: "--max-sasl-failures 0: want 1 to 255"},
		{args: []string{"--max-sasl-failures", "256"}, wantErr: "--max-sasl-failures 256: want 1 to 255"},
		{args: []string{"--conflict", "refuse"}, want: func(c *server.Config) { c.Conflict = fsm.ConflictRefuse }},
		{args: []string{"--conflict", "generate"}, want: func(c *server.Config) { c.Conflict = fsm.ConflictGenerate }},
		{args: []string{"--conflict", "replace"}, want: func(c *server.Config) { c.Conflict = fsm.ConflictReplace }},
		{args: []string{"--subscribe-ack", "--probe-on-approval"}, want: func(c *server.Config) {
			c.SubscribeAck, c.ProbeOnApproval = true, true
		}},
		{args: []string{"--channel-binding=false"}, want: func(c *server.Config) { c.NoChannelBinding = true }},
		{args: []string{"--channel-binding=true"}, want: func(*server.Config) {}},
		{args: []string{"--idle-timeout", "-1s"}, wantErr: "--idle-timeout -1s: negative"},
		{args: []string{"--negotiation-timeout", "-5m"}, wantErr: "--negotiation-timeout -5m0s: negative"},
		{args: []string{"--idle-timeout", "ten"}, wantErr: `invalid value "ten" for flag -idle-timeout`},
		{args: []string{"--max-stanza", "9999"}, wantErr: "--max-stanza 9999: at least 10000 bytes"},
		{args: []string{"--max-stanza", "0"}, wantErr: "--max-stanza 0: at least 10000 bytes"},
		{args: []string{"--max-resources", "-1"}, wantErr: "--max-resources -1: not a count"},
		{args: []string{"--max-resources", "many"}, wantErr: `invalid value "many" for flag -max-resources`},
		{args: []string{"--max-roster-items", "-2"}, wantErr: "--max-roster-items -2: not a count"},
		{args: []string{"--max-directed", "-1"}, wantErr: "--max-directed -1: not a count"},
		{args: []string{"--conflict", "kick"}, wantErr: `--conflict "kick": want replace, refuse or generate`},
	} {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		var lim limitFlags
		lim.register(fs)
		_, err := parse(fs, tc.args)
		var got server.Config
		if err == nil {
			got, err = lim.config()
		}
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: error %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		want := defaults
		tc.want(&want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%v: config (-want +got):\n%s", tc.args, diff)
		}
	}
}

// TestServeBadLimit: serve refuses a bad limit before it opens anything.
func TestServeBadLimit(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	e, _ := testEnv(context.Background(), "")
	err := runWith(e, []string{"serve", "--domain", "localhost", "--data", data, "--conflict", "kick"})
	if err == nil || !strings.Contains(err.Error(), "--conflict") || !strings.Contains(err.Error(), "usage:") {
		t.Errorf("serve --conflict kick: %v, want a usage error about --conflict", err)
	}
	if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the data directory was opened before the flags were checked: %v", err)
	}
}

// TestServeMaxResources: xmppd serve --max-resources 1 refuses a second
// resource of one account with resource-constraint (S-99).
func TestServeMaxResources(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	e, _ := testEnv(context.Background(), "secret\n")
	if err := runWith(e, []string{"user", "add", "alice", "--password-stdin", "--data", data}); err != nil {
		t.Fatal(err)
	}
	addr, stop := startServe(t, "--data", data, "--insecure-plain", "--max-resources", "1")
	defer stop()

	first := xclient.Dial(t, addr, "localhost")
	first.Login("alice", "secret", "one")
	second := xclient.Dial(t, addr, "localhost")
	second.Open()
	if el := second.Plain("alice", "secret"); el.Tag != "success" {
		t.Fatalf("login: <%s>", el.Tag)
	}
	second.Restart()
	second.Send(`<iq type='set' id='b2'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>two</resource></bind></iq>`)
	wantResourceConstraint(t, "second resource", second.Expect("iq"))
}

// startServe runs xmppd serve on a free loopback port with args (plus
// --domain localhost) and returns its address and a function that stops
// it as SIGINT would and waits for it.
func startServe(t *testing.T, args ...string) (string, func()) {
	t.Helper()
	addr, cancel, served := serveInProcess(t, args...)
	return addr, func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
}

// serveInProcess runs xmppd serve as startServe does and returns its
// address, the cancel that stops it as SIGINT would (called at the end of
// the test too), and the channel its result arrives on.
func serveInProcess(t *testing.T, args ...string) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	addr := make(chan string, 1)
	e, _ := testEnv(ctx, "")
	e.ready = func(a string) { addr <- a }
	served := make(chan error, 1)
	go func() {
		served <- runWith(e, append([]string{"serve", "--domain", "localhost", "--c2s", "127.0.0.1:0"}, args...))
	}()
	select {
	case a := <-addr:
		return a, cancel, served
	case err := <-served:
		t.Fatalf("serve: %v", err)
	case <-time.After(xclient.Timeout):
		t.Fatal("serve did not start")
	}
	return "", nil, nil
}

// TestServeAppliesLimits: the limits reach the running server, not only
// the parsed config: --max-roster-items 1 refuses a second contact (I-51),
// --max-directed 1 a second directed-presence target (S-106) and
// --max-sasl-failures 1 closes the stream at the first failure (S-38).
func TestServeAppliesLimits(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	e, _ := testEnv(context.Background(), "secret\n")
	if err := runWith(e, []string{"user", "add", "alice", "--password-stdin", "--data", data}); err != nil {
		t.Fatal(err)
	}
	addr, stop := startServe(t, "--data", data, "--insecure-plain",
		"--max-roster-items", "1", "--max-directed", "1", "--max-sasl-failures", "1")
	defer stop()

	alice := xclient.Dial(t, addr, "localhost")
	alice.Login("alice", "secret", "pc")
	alice.Send(`<iq type='set' id='s1'><query xmlns='jabber:iq:roster'><item jid='bob@localhost'/></query></iq>`)
	if iq := alice.Expect("iq"); iq.SelectAttrValue("type", "") != "result" {
		t.Fatalf("first roster set: %s", fsm.XML(iq))
	}
	alice.Send(`<iq type='set' id='s2'><query xmlns='jabber:iq:roster'><item jid='carol@localhost'/></query></iq>`)
	wantResourceConstraint(t, "second roster set", alice.Expect("iq"))

	alice.Send(`<presence/>`)
	alice.Expect("presence") // its own, broadcast back
	alice.Send(`<presence to='dave@localhost'/>`)
	alice.Send(`<presence to='erin@localhost' id='d2'/>`)
	wantResourceConstraint(t, "second directed presence", alice.Expect("presence"))

	wrong := xclient.Dial(t, addr, "localhost")
	wrong.Open()
	if el := wrong.Plain("alice", "wrong"); el.Tag != "failure" {
		t.Fatalf("wrong password: <%s>", el.Tag)
	}
	if cond := wrong.ExpectStreamError(); cond != "policy-violation" {
		t.Errorf("after one failure with --max-sasl-failures 1: stream error %q, want policy-violation", cond)
	}
}

// wantResourceConstraint fails the test unless el is a stanza error of
// type wait with the condition resource-constraint.
func wantResourceConstraint(t *testing.T, what string, el *etree.Element) {
	t.Helper()
	if el.SelectAttrValue("type", "") != "error" || !isError(el, "wait", "resource-constraint") {
		t.Errorf("%s: %s, want a wait/resource-constraint error", what, fsm.XML(el))
	}
}
