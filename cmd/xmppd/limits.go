package main

import (
	"flag"
	"time"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/server"
	"github.com/xmppfsm/xmppfsm/impl/stream"
)

// minMaxStanza is the smallest stanza limit serve accepts: RFC 6120 §13.12
// forbids a limit below 10000 bytes.
const minMaxStanza = 10000

// conflictPolicies are the values of --conflict (fsm.ConflictPolicy).
var conflictPolicies = map[string]fsm.ConflictPolicy{
	"replace":  fsm.ConflictReplace,
	"refuse":   fsm.ConflictRefuse,
	"generate": fsm.ConflictGenerate,
}

// xmppd's defaults for the limits fsm.DefaultPolicy leaves off (the RFCs
// set none): without them one client makes the server copy an ever longer
// list on each stanza, which RFC 6120 §13.12 asks a server to guard
// against (spec/session.md and spec/im.md, Policies). Each is a flag; 0
// turns it off.
const (
	DefaultMaxResources   = 100
	DefaultMaxRosterItems = 10000
	DefaultMaxDirected    = 1000
)

// limitFlags are serve's flags for the server's limits and policies.
type limitFlags struct {
	idle, negotiation       time.Duration
	maxStanza, maxResources int
	maxRoster, maxDirected  int
	maxSASLFailures         int
	idleUsers               int
	conflict                string
	subscribeAck, probe     bool
	channelBinding          bool
}

// register defines the flags on fs.
func (l *limitFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&l.idle, "idle-timeout", server.DefaultIdleTimeout, "close a connection nothing was read from for this long (0: never)")
	fs.DurationVar(&l.negotiation, "negotiation-timeout", server.DefaultNegotiationTimeout, "close a connection not bound this long after it opened (0: never)")
	fs.IntVar(&l.maxStanza, "max-stanza", stream.DefaultMaxStanza, "largest stanza accepted, in bytes (at least 10000, RFC 6120 §13.12; at most half the 4 MiB output cap)")
	fs.IntVar(&l.maxResources, "max-resources", DefaultMaxResources, "most connected resources per account (0: no limit)")
	fs.IntVar(&l.maxRoster, "max-roster-items", DefaultMaxRosterItems, "most items per roster (0: no limit)")
	fs.IntVar(&l.maxDirected, "max-directed", DefaultMaxDirected, "most directed-presence targets a session remembers (0: no limit)")
	fs.IntVar(&l.idleUsers, "idle-users", 1024, "user machines with no connected resource kept in memory, the most recently used (0: none; each stanza to an offline user then reads the store)")
	fs.IntVar(&l.maxSASLFailures, "max-sasl-failures", 3, "failed SASL attempts before the stream is closed (1 to 255; RFC 6120 §6.4.5 suggests 2 to 5)")
	fs.StringVar(&l.conflict, "conflict", "replace", "answer to a bind of a resource in use: replace, refuse or generate")
	fs.BoolVar(&l.subscribeAck, "subscribe-ack", false, "acknowledge a delivered subscription request with unavailable presence (Prosody's extra)")
	fs.BoolVar(&l.probe, "probe-on-approval", false, "probe a contact whose approval makes the subscription both (Prosody's extra)")
	fs.BoolVar(&l.channelBinding, "channel-binding", true, "offer SCRAM-SHA-*-PLUS, bound to the TLS channel (tls-exporter); false lets clients that know only tls-unique (slixmpp 1.8.3) log in with SCRAM, without channel binding's protection")
}

// config checks the flags and returns the server.Config fields they set.
func (l *limitFlags) config() (server.Config, error) {
	var cfg server.Config
	var err error
	if cfg.IdleTimeout, err = timeout("idle-timeout", l.idle); err != nil {
		return cfg, err
	}
	if cfg.NegotiationTimeout, err = timeout("negotiation-timeout", l.negotiation); err != nil {
		return cfg, err
	}
	if l.maxStanza < minMaxStanza {
		return cfg, usageErr("serve: --max-stanza %d: at least %d bytes (RFC 6120 §13.12)", l.maxStanza, minMaxStanza)
	}
	if l.maxStanza > server.MaxOutput/2 {
		// A stanza from another must fit in a connection's output (S-98).
		return cfg, usageErr("serve: --max-stanza %d: at most %d bytes, half the output cap", l.maxStanza, server.MaxOutput/2)
	}
	cfg.MaxStanza = l.maxStanza
	if l.maxResources < 0 {
		return cfg, usageErr("serve: --max-resources %d: not a count (0 means no limit)", l.maxResources)
	}
	cfg.MaxResources = l.maxResources
	for _, n := range []struct {
		name string
		v    int
		to   *int
	}{{"max-roster-items", l.maxRoster, &cfg.MaxRosterItems}, {"max-directed", l.maxDirected, &cfg.MaxDirected}} {
		if n.v < 0 {
			return cfg, usageErr("serve: --%s %d: not a count (0 means no limit)", n.name, n.v)
		}
		*n.to = n.v
	}
	if l.maxSASLFailures < 1 || l.maxSASLFailures > 255 {
		return cfg, usageErr("serve: --max-sasl-failures %d: want 1 to 255", l.maxSASLFailures)
	}
	cfg.MaxSASLFailures = uint8(l.maxSASLFailures)
	switch {
	case l.idleUsers < 0:
		return cfg, usageErr("serve: --idle-users %d: not a count (0 keeps none)", l.idleUsers)
	case l.idleUsers == 0:
		cfg.IdleUsers = -1 // the router's "none"
	default:
		cfg.IdleUsers = l.idleUsers
	}
	c, ok := conflictPolicies[l.conflict]
	if !ok {
		return cfg, usageErr("serve: --conflict %q: want replace, refuse or generate", l.conflict)
	}
	cfg.Conflict = c
	cfg.SubscribeAck, cfg.ProbeOnApproval = l.subscribeAck, l.probe
	cfg.NoChannelBinding = !l.channelBinding
	return cfg, nil
}

// timeout turns a timeout flag into a server.Config duration: 0 (never)
// becomes negative, as Config has it.
func timeout(name string, d time.Duration) (time.Duration, error) {
	switch {
	case d < 0:
		return 0, usageErr("serve: --%s %v: negative (0 means no limit)", name, d)
	case d == 0:
		return -1, nil
	}
	return d, nil
}
