package main

import (
	"flag"
	"strconv"
	"strings"
	"testing"

	"github.com/xmppfsm/xmppfsm/impl/server"
)

// TestMaxStanzaHalfOutput: --max-stanza may be at most half the output
// cap, so that a stanza from another always fits in a connection's output
// (S-98); one byte more is a usage error naming the flag.
func TestMaxStanzaHalfOutput(t *testing.T) {
	for _, tc := range []struct {
		n       int
		wantErr string
	}{
		{server.MaxOutput / 2, ""},
		{server.MaxOutput/2 + 1, "--max-stanza " + strconv.Itoa(server.MaxOutput/2+1) + ": at most " + strconv.Itoa(server.MaxOutput/2) + " bytes"},
	} {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		var lim limitFlags
		lim.register(fs)
		if _, err := parse(fs, []string{"--max-stanza", strconv.Itoa(tc.n)}); err != nil {
			t.Fatal(err)
		}
		cfg, err := lim.config()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("--max-stanza %d: %v", tc.n, err)
		case tc.wantErr == "" && cfg.MaxStanza != tc.n:
			t.Errorf("--max-stanza %d: MaxStanza %d", tc.n, cfg.MaxStanza)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("--max-stanza %d: error %v, want %q", tc.n, err, tc.wantErr)
		}
	}
}
