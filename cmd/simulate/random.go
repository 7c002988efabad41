package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"regexp"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/conformance"
	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/hub"
)

// This file is `simulate random`: a seeded random simulation of many
// clients through the pure machines on the in-memory hub, checking the
// invariants after every event, measuring the transition coverage, and on
// a violation shrinking the run to a scansion script that reproduces it.
//
// The command owns the randomness (math/rand/v2, PCG seeded with --seed);
// the machines and the hub are deterministic, so a seed is a run.

// randomFault, when set (tests only), is applied to every hub `simulate
// random` creates: the simulation's, each replay's while shrinking, and
// the hub that checks the script. The hub takes no step function, so a
// test breaks the server through the hub's public API instead.
var randomFault func(*hub.Hub)

// progressOn reports whether the progress bar is drawn on w (stderr): only
// on a terminal. Tests never see one.
var progressOn = func(w io.Writer) bool { return isTerminal(w) }

// sweepEvery is how often, in events, the whole hub is checked (checkHub)
// besides the per-event checks of what the event touched.
const sweepEvery = 1 << 18

// randomSim is `simulate random`. It exits 0 when every invariant held
// after every event, 1 on a violation (with the seed, the event, and a
// shrunk scansion script), 2 on bad usage.
func randomSim(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("random", flag.ContinueOnError)
	fs.SetOutput(stderr)
	clients := fs.Int("clients", 100, "number of clients: accounts u0 … uN-1, each with two devices")
	events := fs.Int("events", 100000, "number of client events to feed")
	seed := fs.Uint64("seed", 1, "seed of the random choices")
	out := fs.String("out", "", "write the reproducing scansion script to `FILE` (default: print it after the report)")
	shrinkTime := fs.Duration("shrink-time", 60*time.Second, "time allowed for shrinking a violation")
	tolerate := fs.String("tolerate", "", "comma-separated invariant `IDs` (e.g. WI-4) whose violations are counted and reported but do not stop the run")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the run (not of the shrinking) to `FILE`, for go tool pprof")
	costs := fs.Bool("costs", false, "time every event and print what each input costs, in the machines and in the checks (adds about 50 ns an event)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: simulate random [--clients N] [--events M] [--seed S] [--out FILE] [--tolerate IDS] [--cpuprofile FILE] [--costs]

Runs N clients, chosen at random, through the session and user machines on
the in-memory hub for M client events, checking the invariants after every
event. Prints the rate, the transition and rule coverage, and on a
violation the seed and a shrunk scansion script that reproduces it.

`)
		fs.PrintDefaults()
	}
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}
	switch {
	case *clients < 2 || *clients > 1_000_000:
		fmt.Fprintf(stderr, "simulate random: --clients must be between 2 and 1000000, not %d\n", *clients)
		return 2
	case *events < 1:
		fmt.Fprintf(stderr, "simulate random: --events must be at least 1, not %d\n", *events)
		return 2
	case *shrinkTime <= 0:
		fmt.Fprintf(stderr, "simulate random: --shrink-time must be positive\n")
		return 2
	}

	tol, err := parseTolerate(*tolerate)
	if err != nil {
		fmt.Fprintf(stderr, "simulate random: %v\n", err)
		return 2
	}
	// The hub allocates some 2 kB an event and keeps little: collecting
	// at 5× the live heap instead of 2× costs memory (about 600 MB for a
	// million events with 1,000 clients) and saves a quarter of the time
	// on one core. GOGC in the environment wins.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	s := newSim(*clients, tol)
	s.rng = rand.New(rand.NewPCG(*seed, *seed^0x9e3779b97f4a7c15))
	s.record = true
	if *costs {
		s.costs = new([numKinds]inputCost)
	}
	if progressOn(stderr) {
		s.progress = progressBar(stderr, *events)
	}
	var stopProfile func()
	if *cpuprofile != "" {
		if stopProfile, err = startCPUProfile(*cpuprofile); err != nil {
			fmt.Fprintf(stderr, "simulate random: %v\n", err)
			return 2
		}
	}
	start := time.Now()
	s.run(*events)
	elapsed := time.Since(start)
	if stopProfile != nil {
		stopProfile()
	}
	if s.progress != nil {
		fmt.Fprint(stderr, "\r\033[K")
	}
	s.writeReport(stdout, *seed, elapsed)
	if s.viol == nil {
		return 0
	}

	v := *s.viol
	fmt.Fprintf(stdout, "\nVIOLATION of %s after event %s (action %s) with --seed %d: %s\n",
		v.Key, commas(v.Event), commas(v.Action+1), *seed, v.Text)
	sh := shrink(*clients, tol, s.rec[:v.Action+1], v, time.Now().Add(*shrinkTime))
	note := fmt.Sprintf("shrunk from %s actions to %d in %d replays on fresh hubs", commas(v.Action+1), len(sh.actions), sh.replays)
	if !sh.complete {
		note += fmt.Sprintf(" (stopped after --shrink-time %v: not minimal)", *shrinkTime)
	}
	fmt.Fprintln(stdout, note)
	title := fmt.Sprintf("simulate random --clients %d --events %d --seed %d: %s after event %d",
		*clients, *events, *seed, v.Key, v.Event)
	sc := writeScript(*clients, tol, sh.actions, v, title)
	fmt.Fprintln(stdout, sc.verdict())
	if *out != "" {
		if err := os.WriteFile(*out, []byte(sc.text), 0o644); err != nil {
			fmt.Fprintf(stderr, "simulate random: %v\n", err)
			return 2
		}
		fmt.Fprintf(stdout, "scansion script written to %s\n", *out)
	} else {
		fmt.Fprintf(stdout, "\nscansion script:\n\n%s", sc.text)
	}
	return 1
}

// startCPUProfile starts writing a CPU profile to file and returns the
// function that stops it and closes the file.
func startCPUProfile(file string) (stop func(), err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// parseTolerate reads --tolerate: invariant ids such as WI-4 or SI-3.
func parseTolerate(list string) (map[string]bool, error) {
	tol := map[string]bool{}
	for _, id := range strings.Split(list, ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		prefix, num, ok := strings.Cut(id, "-")
		if _, err := strconv.Atoi(num); !ok || err != nil || (prefix != "SI" && prefix != "UI" && prefix != "WI") {
			return nil, fmt.Errorf("--tolerate: %q is not an invariant id (SI-n, UI-n or WI-n)", id)
		}
		tol[id] = true
	}
	return tol, nil
}

// progressBar returns a function that redraws a progress bar on w.
func progressBar(w io.Writer, total int) func(done int) {
	start := time.Now()
	return func(done int) {
		frac := min(float64(done)/float64(total), 1)
		const width = 30
		filled := int(frac * width)
		rate := float64(done) / time.Since(start).Seconds()
		fmt.Fprintf(w, "\r[%s%s] %3.0f%%  %s/%s events  %s events/s", strings.Repeat("#", filled),
			strings.Repeat(".", width-filled), frac*100, commas(done), commas(total), commas(int(rate)))
	}
}

// ---------------------------------------------------------------------------
// The inputs.

// kindID is one input a client (or its connection) gives the server: an
// event, or an element built from a template for a target.
type kindID uint8

const (
	// Login.
	kConnect kindID = iota
	kHeader
	kAuth
	kBind
	// A connected resource.
	kRosterGet
	kRosterSet
	kRosterRemove
	kSubscribe
	kSubscribed
	kUnsubscribe
	kUnsubscribed
	kAvailable
	kUnavailable
	kDirected
	kDirectedUnavailable
	kProbe
	kPresenceSelf
	kChat
	kNormal
	kHeadline
	kGroupchat
	kPingServer
	kDiscoServer
	kIQFull
	kIQBare
	kSession
	// Malformed or in the wrong stage.
	kBadTo
	kBadIQ
	kBadType
	kSubNoTo
	kBindAgain
	kAuthAgain
	kStartTLS
	kUnknown
	kStreamError
	// Ends.
	kEnd
	kLost
	kXMLError
	kIdleTimeout
	// Connections that never bind.
	kHeaderBadHost
	kAuthBadPassword
	kAuthUnknownMech
	kAuthNoData
	kResponse
	kAbort
	kAuthBadBase64
	kBindBadResource
	kNegotiationTimeout
	kHeaderBadNamespace
	kHeaderNoVersion
	kHeaderNoTo
	kHeaderOtherHost
	kBindGet

	numKinds
)

// The coverage columns: what an input is to the session machine, the event
// kind and, for an element, its class (fsm.Classify).
const (
	colConnect = iota
	colHeader
	colMessage
	colPresence
	colIQ
	colStartTLS
	colAuth
	colResponse
	colAbort
	colStreamError
	colUnknown
	colEnd
	colXMLError
	colTimeout
	colLost
	numCols
)

var colNames = [numCols]string{
	"connect", "header", "message", "presence", "iq", "starttls", "auth", "response",
	"abort", "stream-error", "unknown", "end", "xml-error", "timeout", "lost",
}

// kindInfo describes one input.
type kindInfo struct {
	name string
	col  int
	// ev is the event of an input that is not an element.
	ev fsm.Event
	// build makes the element for to (a JID, or "" for none) and res (the
	// resource or priority variant).
	build func(to string, res uint8) *etree.Element
}

// scriptable reports whether a scansion script can give input k to a
// connected client: an element (sends), or the client's close
// (disconnects).
func scriptable(k kindID) bool { return kinds[k].build != nil || k == kEnd }

var (
	priorities  = []int{-1, 0, 1, 2, 5}
	resNames    = []string{"a", "b"}
	badResource = strings.Repeat("x", 1024) // RFC 7622: at most 1023 bytes
)

const (
	domain       = "localhost"
	password     = "pw"
	nobodyJID    = "nobody@localhost"
	remoteJID    = "someone@remote.example"
	targetNone   = -1
	targetNobody = -2 // an address of the server with no account (I-22)
	targetRemote = -3 // a domain the server does not serve (I-21)
)

func newEl(tag string, attrs ...string) *etree.Element {
	e := etree.NewElement(tag)
	for i := 0; i+1 < len(attrs); i += 2 {
		e.CreateAttr(attrs[i], attrs[i+1])
	}
	return e
}

func withChild(parent, c *etree.Element) *etree.Element {
	parent.AddChild(c)
	return parent
}

func withText(e *etree.Element, text string) *etree.Element {
	e.SetText(text)
	return e
}

// localOf returns the localpart of a bare JID.
func localOf(j string) string {
	l, _, _ := strings.Cut(j, "@")
	return l
}

func presenceTyped(typ string) func(string, uint8) *etree.Element {
	return func(to string, _ uint8) *etree.Element { return newEl("presence", "to", to, "type", typ) }
}

func message(typ string) func(string, uint8) *etree.Element {
	return func(to string, _ uint8) *etree.Element {
		return withChild(newEl("message", "to", to, "type", typ, "id", "m-"+typ), withText(newEl("body"), "hi"))
	}
}

func fixed(e func() *etree.Element) func(string, uint8) *etree.Element {
	return func(string, uint8) *etree.Element { return e() }
}

func auth(pw string) func(string, uint8) *etree.Element {
	return func(to string, _ uint8) *etree.Element {
		return withText(newEl("auth", "xmlns", fsm.NSSASL, "mechanism", "PLAIN"), hub.PlainAuth(localOf(to), pw))
	}
}

func bindRequest(resource string) *etree.Element {
	b := newEl("bind", "xmlns", fsm.NSBind)
	if resource != "" {
		b.AddChild(withText(newEl("resource"), resource))
	}
	return withChild(newEl("iq", "type", "set", "id", "bind"), b)
}

func ping(id, to string) *etree.Element {
	return withChild(newEl("iq", "type", "get", "id", id, "to", to), newEl("ping", "xmlns", "urn:xmpp:ping"))
}

var kinds = [numKinds]kindInfo{
	kConnect: {name: "connect", col: colConnect, ev: fsm.Event{Kind: fsm.EvConnect}},
	kHeader:  {name: "header", col: colHeader, ev: hub.Header(domain)},
	kAuth:    {name: "auth", col: colAuth, build: auth(password)},
	kBind: {name: "bind", col: colIQ, build: func(_ string, res uint8) *etree.Element {
		return bindRequest(resNames[res])
	}},

	kRosterGet: {name: "roster-get", col: colIQ, build: fixed(func() *etree.Element {
		return withChild(newEl("iq", "type", "get", "id", "rg"), newEl("query", "xmlns", fsm.NSRoster))
	})},
	kRosterSet: {name: "roster-set", col: colIQ, build: func(to string, _ uint8) *etree.Element {
		item := withChild(newEl("item", "jid", to, "name", localOf(to)), withText(newEl("group"), "friends"))
		return withChild(newEl("iq", "type", "set", "id", "rs"), withChild(newEl("query", "xmlns", fsm.NSRoster), item))
	}},
	kRosterRemove: {name: "roster-remove", col: colIQ, build: func(to string, _ uint8) *etree.Element {
		item := newEl("item", "jid", to, "subscription", "remove")
		return withChild(newEl("iq", "type", "set", "id", "rr"), withChild(newEl("query", "xmlns", fsm.NSRoster), item))
	}},
	kSubscribe:    {name: "subscribe", col: colPresence, build: presenceTyped("subscribe")},
	kSubscribed:   {name: "subscribed", col: colPresence, build: presenceTyped("subscribed")},
	kUnsubscribe:  {name: "unsubscribe", col: colPresence, build: presenceTyped("unsubscribe")},
	kUnsubscribed: {name: "unsubscribed", col: colPresence, build: presenceTyped("unsubscribed")},
	kAvailable: {name: "available", col: colPresence, build: func(_ string, res uint8) *etree.Element {
		return withChild(newEl("presence"), withText(newEl("priority"), strconv.Itoa(priorities[res])))
	}},
	kUnavailable: {name: "unavailable", col: colPresence, build: fixed(func() *etree.Element {
		return newEl("presence", "type", "unavailable")
	})},
	kDirected: {name: "directed", col: colPresence, build: func(to string, _ uint8) *etree.Element {
		return newEl("presence", "to", to)
	}},
	kDirectedUnavailable: {name: "directed-unavailable", col: colPresence, build: presenceTyped("unavailable")},
	kProbe:               {name: "probe", col: colPresence, build: presenceTyped("probe")},
	kPresenceSelf: {name: "presence-to-self", col: colPresence, build: func(to string, _ uint8) *etree.Element {
		return newEl("presence", "to", to)
	}},
	kChat:       {name: "chat", col: colMessage, build: message("chat")},
	kNormal:     {name: "normal", col: colMessage, build: message("normal")},
	kHeadline:   {name: "headline", col: colMessage, build: message("headline")},
	kGroupchat:  {name: "groupchat", col: colMessage, build: message("groupchat")},
	kPingServer: {name: "ping-server", col: colIQ, build: fixed(func() *etree.Element { return ping("ping", domain) })},
	kDiscoServer: {name: "disco-server", col: colIQ, build: fixed(func() *etree.Element {
		return withChild(newEl("iq", "type", "get", "id", "disco", "to", domain), newEl("query", "xmlns", fsm.NSDiscoInfo))
	})},
	kIQFull: {name: "iq-full", col: colIQ, build: func(to string, _ uint8) *etree.Element { return ping("qf", to) }},
	kIQBare: {name: "iq-bare", col: colIQ, build: func(to string, _ uint8) *etree.Element { return ping("qb", to) }},
	kSession: {name: "session", col: colIQ, build: fixed(func() *etree.Element {
		return withChild(newEl("iq", "type", "set", "id", "sess"), newEl("session", "xmlns", fsm.NSSession))
	})},

	kBadTo: {name: "bad-to", col: colMessage, build: fixed(func() *etree.Element {
		return withChild(newEl("message", "to", "@"+domain, "type", "chat", "id", "bad"), withText(newEl("body"), "hi"))
	})},
	kBadIQ:     {name: "iq-without-child", col: colIQ, build: fixed(func() *etree.Element { return newEl("iq", "type", "get", "id", "empty") })},
	kBadType:   {name: "bad-presence-type", col: colPresence, build: fixed(func() *etree.Element { return newEl("presence", "type", "bogus") })},
	kSubNoTo:   {name: "subscribe-without-to", col: colPresence, build: fixed(func() *etree.Element { return newEl("presence", "type", "subscribe") })},
	kBindAgain: {name: "bind-again", col: colIQ, build: fixed(func() *etree.Element { return bindRequest("again") })},
	kAuthAgain: {name: "auth-again", col: colAuth, build: auth(password)},
	kStartTLS:  {name: "starttls", col: colStartTLS, build: fixed(func() *etree.Element { return newEl("starttls", "xmlns", fsm.NSTLS) })},
	kUnknown:   {name: "unknown-element", col: colUnknown, build: fixed(func() *etree.Element { return newEl("foo", "xmlns", "urn:example:unknown") })},
	kStreamError: {name: "stream-error", col: colStreamError, build: fixed(func() *etree.Element {
		return withChild(newEl("stream:error", "xmlns:stream", fsm.NSStreams), newEl("undefined-condition", "xmlns", fsm.NSStreamErr))
	})},

	kEnd:         {name: "stream-end", col: colEnd, ev: fsm.Event{Kind: fsm.EvStreamEnd}},
	kLost:        {name: "conn-lost", col: colLost, ev: fsm.Event{Kind: fsm.EvConnLost, Text: "closed"}},
	kXMLError:    {name: "xml-error", col: colXMLError, ev: fsm.Event{Kind: fsm.EvXMLError, Condition: "not-well-formed"}},
	kIdleTimeout: {name: "idle-timeout", col: colTimeout, ev: fsm.Event{Kind: fsm.EvTimeout, Timer: fsm.TimerIdle}},

	kHeaderBadHost:   {name: "header-unknown-host", col: colHeader, ev: hub.Header("unknown.example")},
	kAuthBadPassword: {name: "auth-bad-password", col: colAuth, build: auth("wrong")},
	kAuthUnknownMech: {name: "auth-unknown-mechanism", col: colAuth, build: fixed(func() *etree.Element {
		return newEl("auth", "xmlns", fsm.NSSASL, "mechanism", "X-UNKNOWN")
	})},
	kAuthNoData: {name: "auth-without-data", col: colAuth, build: fixed(func() *etree.Element {
		return newEl("auth", "xmlns", fsm.NSSASL, "mechanism", "PLAIN")
	})},
	kResponse: {name: "response", col: colResponse, build: func(to string, _ uint8) *etree.Element {
		return withText(newEl("response", "xmlns", fsm.NSSASL), hub.PlainAuth(localOf(to), password))
	}},
	kAbort: {name: "abort", col: colAbort, build: fixed(func() *etree.Element { return newEl("abort", "xmlns", fsm.NSSASL) })},
	kAuthBadBase64: {name: "auth-bad-base64", col: colAuth, build: fixed(func() *etree.Element {
		return withText(newEl("auth", "xmlns", fsm.NSSASL, "mechanism", "PLAIN"), "!!!")
	})},
	kBindBadResource:    {name: "bind-bad-resource", col: colIQ, build: fixed(func() *etree.Element { return bindRequest(badResource) })},
	kNegotiationTimeout: {name: "negotiation-timeout", col: colTimeout, ev: fsm.Event{Kind: fsm.EvTimeout, Timer: fsm.TimerNegotiation}},
	kHeaderBadNamespace: {name: "header-bad-namespace", col: colHeader, ev: header(func(h *fsm.StreamHeader) { h.Default = "jabber:server" })},
	kHeaderNoVersion:    {name: "header-without-version", col: colHeader, ev: header(func(h *fsm.StreamHeader) { h.Version = "" })},
	kHeaderNoTo:         {name: "header-without-to", col: colHeader, ev: header(func(h *fsm.StreamHeader) { h.To = "" })},
	kHeaderOtherHost:    {name: "header-other-host", col: colHeader, ev: hub.Header("unknown.example")},
	kBindGet: {name: "bind-get", col: colIQ, build: fixed(func() *etree.Element {
		b := bindRequest("a")
		b.SelectAttr("type").Value = "get"
		return b
	})},
}

// header returns the event of a stream header to the server's domain,
// changed by change.
func header(change func(*fsm.StreamHeader)) fsm.Event {
	ev := hub.Header(domain)
	h := *ev.Header
	change(&h)
	ev.Header = &h
	return ev
}

// probeInputs are one input for each column but connect: what connections
// that never bind and closed connections get.
var probeInputs = []kindID{kHeader, kChat, kAvailable, kRosterGet, kStartTLS, kAuth, kResponse, kAbort,
	kStreamError, kUnknown, kEnd, kXMLError, kNegotiationTimeout, kIdleTimeout, kLost}

// junkPrefixes bring a connection to each phase it can wait in before
// bind: wait-for-stream, wait-for-feature, wait-for-sasl-response, and
// after SASL success wait-for-stream and wait-for-bind.
var junkPrefixes = [][]kindID{
	{kConnect},
	{kConnect, kHeader},
	{kConnect, kHeader, kAuthNoData},
	{kConnect, kHeader, kAuth},
	{kConnect, kHeader, kAuth, kHeader},
}

// junkVariants are the connections that never bind: each a sequence of
// inputs, stopped when the server closes the stream, and ended with a lost
// connection if it did not. The named ones first, then each prefix with
// each probe input.
var junkVariants = append([][]kindID{
	{kConnect, kChat},             // S-5: an element instead of a header
	{kConnect, kHeaderBadHost},    // S-9
	{kConnect, kHeader, kChat},    // S-60: a stanza before auth
	{kConnect, kHeader, kUnknown}, // S-61
	{kConnect, kHeader, kAuthBadPassword, kAuthBadPassword, kAuthBadPassword}, // S-37, S-38
	{kConnect, kHeader, kAuthUnknownMech, kEnd},                               // S-31, S-90
	{kConnect, kHeader, kAuthNoData, kResponse},                               // S-34, S-35
	{kConnect, kHeader, kAuthNoData, kAbort},                                  // S-39
	{kConnect, kHeader, kAuthBadBase64, kEnd},                                 // S-33
	{kConnect, kHeader, kStartTLS},                                            // S-21: no TLS here
	{kConnect, kHeader, kHeader},                                              // S-15
	{kConnect, kHeader, kNegotiationTimeout},                                  // S-93
	{kConnect, kXMLError},                                                     // S-92
	{kConnect, kHeader, kAuth, kHeader, kChat},                                // S-60: a stanza before bind
	{kConnect, kHeader, kAuth, kHeader, kBindBadResource, kLost},              // S-51, S-91
	{kConnect, kHeader, kAuth, kLost},                                         // S-91 after SASL
	{kConnect, kHeader, kAbort, kEnd},                                         // S-40
	{kConnect, kEnd},                                                          // S-90 before a header
	{kConnect, kHeader, kAuth, kHeader, kNegotiationTimeout},                  // S-93 unbound
	{kConnect, kHeader, kAuth, kHeader, kAuthAgain},                           // S-43
	{kConnect, kHeaderBadNamespace},                                           // S-6
	{kConnect, kHeaderNoVersion},                                              // S-7
	{kConnect, kHeaderNoTo},                                                   // S-8
	{kConnect, kHeader, kAuth, kHeaderOtherHost},                              // S-10
	{kConnect, kHeader, kAuth, kHeader, kBindGet},                             // S-52
}, func() (vs [][]kindID) {
	for _, p := range junkPrefixes {
		for _, k := range probeInputs {
			vs = append(vs, append(slices.Clip(p), k))
		}
	}
	return vs
}()...)

// liveOps are the inputs of a connected resource and how often each is
// chosen (out of the sum); closing inputs are about 2.5 %, so a session
// lives for some forty inputs of its own.
var liveOps = []struct {
	k kindID
	w int
}{
	{kChat, 130}, {kNormal, 40}, {kHeadline, 35}, {kGroupchat, 20},
	{kAvailable, 90}, {kUnavailable, 25}, {kDirected, 25}, {kDirectedUnavailable, 15}, {kProbe, 10}, {kPresenceSelf, 5},
	{kSubscribe, 70}, {kSubscribed, 70}, {kUnsubscribe, 20}, {kUnsubscribed, 20},
	{kRosterGet, 50}, {kRosterSet, 35}, {kRosterRemove, 20},
	{kPingServer, 30}, {kDiscoServer, 10}, {kIQFull, 30}, {kIQBare, 10}, {kSession, 10},
	{kBadTo, 6}, {kBadIQ, 6}, {kBadType, 6}, {kSubNoTo, 6}, {kBindAgain, 6},
	{kAuthAgain, 2}, {kStartTLS, 2}, {kUnknown, 2}, {kStreamError, 2},
	{kEnd, 8}, {kLost, 6}, {kXMLError, 2}, {kIdleTimeout, 2},
	{kHeader, 1}, {kResponse, 1}, {kAbort, 1}, {kNegotiationTimeout, 1},
}

// liveSlots maps 1024 slots to liveOps in proportion to the weights.
var liveSlots = func() [1024]kindID {
	total := 0
	for _, op := range liveOps {
		total += op.w
	}
	var slots [1024]kindID
	cum, i := 0, 0
	for _, op := range liveOps {
		cum += op.w
		for ; i < cum*len(slots)/total; i++ {
			slots[i] = op.k
		}
	}
	return slots
}()

// ---------------------------------------------------------------------------
// Actions: what a client does, recorded so that a run can be replayed.

type opKind uint8

const (
	opLogin opKind = iota // a device connects, authenticates and binds
	opSend                // a device's connected resource gives an input
	opLate                // an input to a device's connection after it closed (S-4)
	opJunk                // a connection that never binds
)

// action is one client action. A replay skips an action that the state no
// longer allows (a send from a device that is not connected), so that any
// subsequence of a run is a run.
type action struct {
	op     opKind
	kind   kindID // opSend, opLate: the input; opJunk: the variant
	res    uint8  // opLogin: the resource; otherwise the target's (0 bare, 1 a, 2 b) or the priority
	dev    int32  // the device: account*2 + 0 or 1 (opJunk: -1)
	target int32  // an account, targetNone, targetNobody or targetRemote
}

func (a action) account() int32 {
	if a.op == opJunk {
		return a.target
	}
	return a.dev / 2
}

// expressible reports whether a scansion script can do a.
func (a action) expressible() bool {
	return a.op == opLogin || (a.op == opSend && scriptable(a.kind))
}

// ---------------------------------------------------------------------------
// The simulation.

type account struct {
	bare string
	full [2]string // resources a and b
	// ver and npend are the roster version and the number of pending
	// requests when the user was last checked.
	ver   uint64
	npend int
}

type device struct {
	conn int32 // the connection of the device, 0 when not connected
	last int32 // its last connection, closed
}

type connInfo struct {
	id    string
	dev   int32 // -1 for a junk connection
	key   int32 // account*2+resource asked for, -1 if none
	phase fsm.Phase
	avail bool
	prio  int8
}

type sim struct {
	h        *hub.Hub
	n        int
	rng      *rand.Rand
	record   bool
	rec      []action
	progress func(int)

	acc   []account
	devs  []device
	conns []connInfo // by connection number, [0] unused
	owner []int32    // account*2+resource → the live connection bound to it

	elems [numKinds][]*etree.Element // built elements, by kind and slot

	touched []int32
	// closed are the connections the last event closed for good: no input
	// can reach them any more (a device's late inputs go to its last
	// connection only), so once checked they are forgotten by the hub.
	closed        []int32
	actor, target int32 // the accounts the current action involves
	// pairs: the current action sends a subscription stanza or a probe,
	// which can change what the actor and the target agree on.
	pairs     bool
	events    int
	nextSweep int
	viol      *violation
	tolerate  map[string]bool
	// tolerated counts the violations of tolerated invariants, by id, and
	// keeps the first of each.
	tolerated map[string]*toleratedViolation

	// statistics
	established, replaced, loginsFailed, junk, late int
	delivered, messages                             int

	// costs, with --costs, times each event by its input.
	costs *[numKinds]inputCost

	// coverage: obs[(kind*phases+before)*phases+after] counts events;
	// iHits counts I-n rules by number, rowOut and rowIn the rows of
	// Appendix A.2 and A.3 by state and kind.
	obs           []uint64
	iHits         [51]uint64
	rowOut, rowIn [9][5]uint64
}

// connIDs matches connection ids in violation texts.
var connIDs = regexp.MustCompile(`\bc\d+\b`)

// sig is what identifies a violation across replays: the invariant's own
// message, from its id on, with connection ids (which differ between a run
// and its replays) blanked.
func (v violation) sig() string {
	t := v.Text
	if i := strings.Index(t, v.Key+" "); i >= 0 {
		t = t[i:]
	}
	return connIDs.ReplaceAllString(t, "c*")
}

type toleratedViolation struct {
	first violation
	count int
}

// violation is a broken invariant: Key is its id (SI-n, UI-n, WI-n, …).
type violation struct {
	Event  int
	Action int
	Key    string
	Text   string
}

func newSim(n int, tolerate map[string]bool) *sim {
	s := &sim{
		tolerate:  tolerate,
		tolerated: map[string]*toleratedViolation{},
		n:         n,
		h:         hub.New(conformance.LoopbackPolicy()),
		acc:       make([]account, n),
		devs:      make([]device, 2*n),
		conns:     make([]connInfo, 1, 4*n),
		owner:     make([]int32, 2*n),
		obs:       make([]uint64, int(numKinds)*fsm.NumPhases*fsm.NumPhases),
		actor:     -1,
		target:    targetNone,
		nextSweep: sweepEvery,
	}
	for i := range s.acc {
		local := "u" + strconv.Itoa(i)
		s.h.Store.AddAccount(local, password)
		b := local + "@" + domain
		s.acc[i] = account{bare: b, full: [2]string{b + "/a", b + "/b"}}
	}
	s.h.Output = s.output
	if randomFault != nil {
		randomFault(s.h)
	}
	return s
}

// output watches what the hub writes: each connection written to was
// touched by the event, and routed stanzas are counted.
func (s *sim) output(o hub.Output) {
	if o.Effect.Kind == fsm.EffSend && o.Effect.From != "" {
		s.delivered++
		if o.Effect.Elem != nil && o.Effect.Elem.Tag == "message" {
			s.messages++
		}
	}
	c := int32(0)
	for i := 1; i < len(o.Conn); i++ {
		c = c*10 + int32(o.Conn[i]-'0')
	}
	if n := len(s.touched); n > 0 && s.touched[n-1] == c {
		return
	}
	s.touched = append(s.touched, c)
}

// violate records a broken invariant; a tolerated one is counted and the
// run goes on. It reports whether the run must stop.
func (s *sim) violate(key, format string, args ...any) bool {
	if s.viol != nil {
		return true
	}
	if s.tolerate[key] {
		t := s.tolerated[key]
		if t == nil {
			t = &toleratedViolation{first: violation{Event: s.events, Action: len(s.rec) - 1, Key: key, Text: fmt.Sprintf(format, args...)}}
			s.tolerated[key] = t
		}
		t.count++
		return false
	}
	s.viol = &violation{Event: s.events, Action: len(s.rec) - 1, Key: key, Text: fmt.Sprintf(format, args...)}
	return true
}

// run chooses and does actions until events events were fed or an
// invariant broke, then checks the whole hub once more.
func (s *sim) run(events int) {
	defer s.recoverPanic()
	for s.events < events && s.viol == nil {
		a := s.choose()
		if s.record {
			s.rec = append(s.rec, a)
		}
		s.do(a)
	}
	if s.viol == nil {
		s.sweep()
	}
}

func (s *sim) recoverPanic() {
	if p := recover(); p != nil {
		s.violate("panic", "the server panicked: %v", p)
	}
}

// replay does the actions in order, skipping those the state does not
// allow, and returns those it did.
func (s *sim) replay(actions []action) (done []action) {
	defer s.recoverPanic()
	for _, a := range actions {
		if s.record {
			s.rec = append(s.rec, a)
		}
		if s.do(a) {
			done = append(done, a)
		}
		if s.viol != nil {
			return done
		}
	}
	s.sweep()
	return done
}

// pickTarget picks another account: mostly a neighbour (so that pairs meet
// again and subscriptions complete), sometimes anyone, now and then an
// address with no account or on a domain the server does not serve.
func (s *sim) pickTarget(acc int32) int32 {
	r := s.rng.IntN(64)
	switch {
	case r == 0:
		return targetNobody
	case r == 1:
		return targetRemote
	case r < 10:
		t := int32(s.rng.IntN(s.n - 1))
		if t >= acc {
			t++
		}
		return t
	}
	d := [...]int32{-2, -1, 1, 2}[r&3]
	t := ((acc+d)%int32(s.n) + int32(s.n)) % int32(s.n)
	if t == acc {
		t = (acc + 1) % int32(s.n)
	}
	return t
}

// choose picks the next action.
func (s *sim) choose() action {
	acc := int32(s.rng.IntN(s.n))
	r := s.rng.Uint32()
	if r%100 < 3 {
		return action{op: opJunk, kind: kindID(s.rng.IntN(len(junkVariants))), dev: -1, target: acc}
	}
	d := int32(0)
	if r>>8&3 == 0 {
		d = 1
	}
	dev := acc*2 + d
	dv := &s.devs[dev]
	if dv.conn == 0 {
		if dv.last != 0 && r>>10&15 == 0 {
			return action{op: opLate, kind: probeInputs[s.rng.IntN(len(probeInputs))], dev: dev, target: s.pickTarget(acc)}
		}
		res := uint8(d)
		if r>>14&7 == 0 {
			res ^= 1 // the other device's resource: a conflict if it is bound
		}
		return action{op: opLogin, dev: dev, res: res}
	}
	k := liveSlots[r>>17&1023]
	if (k == kRosterSet || k == kSubscribe) && s.rosterSize(acc) >= steadyRoster {
		k = kRosterRemove // a user with a full roster makes room first
	}
	a := action{op: opSend, kind: k, dev: dev, target: targetNone}
	switch k {
	case kRosterSet, kRosterRemove, kProbe, kIQBare:
		a.target = s.pickTarget(acc)
		if k == kRosterSet && r>>27&31 == 0 {
			a.target = acc // I-42: one's own JID is refused
		}
		if k == kRosterRemove && r>>27&3 != 0 {
			a.target = s.contact(acc, a.target)
		}
	case kSubscribe, kUnsubscribe, kUnsubscribed:
		a.target = s.pickTarget(acc)
		switch {
		case r>>27&31 == 0:
			a.target = acc // I-30
		case k != kSubscribe && r>>27&3 != 0:
			a.target = s.contact(acc, a.target)
		}
	case kSubscribed:
		a.target = s.pickTarget(acc)
		if r>>27&3 != 0 {
			// Mostly approve a pending request, so that subscriptions
			// complete.
			if u, ok := s.h.User(s.acc[acc].bare); ok && len(u.Pending) > 0 {
				if t := s.accountOf(u.Pending[s.rng.IntN(len(u.Pending))].From); t >= 0 {
					a.target = t
				}
			}
		}
	case kAvailable:
		a.res = [...]uint8{0, 1, 1, 1, 2, 2, 3, 4}[r>>27&7]
	case kPresenceSelf:
		a.target = acc
	case kChat, kNormal, kHeadline, kGroupchat, kDirected, kDirectedUnavailable:
		a.target = s.pickTarget(acc)
		a.res = [...]uint8{0, 0, 0, 0, 0, 1, 1, 2}[r>>27&7]
	case kIQFull:
		a.target = s.pickTarget(acc)
		a.res = 1 + uint8(r>>27&1)
	}
	return a
}

// steadyRoster is the roster size at which a user stops adding contacts
// (roster sets and requests) and removes one instead; approving a request
// still adds one, so rosters settle a little above it. Without it rosters grow with the run (requests
// and roster sets to random accounts add contacts faster than removals
// find them), and so does the cost of every presence broadcast and roster
// fetch: the rate a run reports would depend on its length.
const steadyRoster = 20

// rosterSizes returns the mean and the largest number of roster items of
// the accounts.
func (s *sim) rosterSizes() (mean float64, most int) {
	total := 0
	for i := range s.acc {
		r, _ := view(s.h, s.acc[i].bare)
		total += len(r.Items)
		most = max(most, len(r.Items))
	}
	return float64(total) / float64(len(s.acc)), most
}

// rosterSize returns the number of items in the roster of account acc.
func (s *sim) rosterSize(acc int32) int {
	if u, ok := s.h.User(s.acc[acc].bare); ok {
		return len(u.Roster.Items)
	}
	return 0
}

// contact returns a contact of account acc chosen at random from its
// roster, or otherwise if it has none that is an account of the
// simulation. Removals and cancellations mostly go to contacts, as a
// user's do, rather than to accounts the user most likely never added.
func (s *sim) contact(acc, otherwise int32) int32 {
	u, ok := s.h.User(s.acc[acc].bare)
	if !ok || len(u.Roster.Items) == 0 {
		return otherwise
	}
	if t := s.accountOf(u.Roster.Items[s.rng.IntN(len(u.Roster.Items))].JID); t >= 0 {
		return t
	}
	return otherwise
}

// accountOf returns the account of a bare JID of the simulation, or -1.
func (s *sim) accountOf(bare string) int32 {
	l, ok := strings.CutSuffix(bare, "@"+domain)
	if !ok || len(l) < 2 || l[0] != 'u' {
		return -1
	}
	n, err := strconv.Atoi(l[1:])
	if err != nil || n < 0 || n >= s.n {
		return -1
	}
	return int32(n)
}

// addr renders a target.
func (s *sim) addr(target int32, res uint8) string {
	var bare string
	switch target {
	case targetNone:
		return ""
	case targetNobody:
		bare = nobodyJID
	case targetRemote:
		bare = remoteJID
	default:
		if res == 1 || res == 2 {
			return s.acc[target].full[res-1]
		}
		return s.acc[target].bare
	}
	if res == 1 || res == 2 {
		return bare + "/" + resNames[res-1]
	}
	return bare
}

// elem returns the element of input k for target and res, built once.
func (s *sim) elem(k kindID, target int32, res uint8) *etree.Element {
	const perTarget = 5
	cache := s.elems[k]
	if cache == nil {
		cache = make([]*etree.Element, (s.n+3)*perTarget)
		s.elems[k] = cache
	}
	slot := int(target+3)*perTarget + int(res)
	if el := cache[slot]; el != nil {
		return el
	}
	to := s.addr(target, res)
	if k == kAvailable {
		to = ""
	}
	el := kinds[k].build(to, res)
	cache[slot] = el
	return el
}

// event returns the event of input k. Elements are shared between events:
// the session owns the element of an EvElement and never changes it.
func (s *sim) event(k kindID, target int32, res uint8) fsm.Event {
	if kinds[k].build == nil {
		return kinds[k].ev
	}
	return fsm.Event{Kind: fsm.EvElement, Elem: s.elem(k, target, res)}
}

func (s *sim) newConn(dev, key int32) int32 {
	c := int32(len(s.conns))
	s.conns = append(s.conns, connInfo{id: "c" + strconv.Itoa(int(c)), dev: dev, key: key})
	return c
}

// feed gives input k to connection c, runs the hub until it is idle, checks
// what the event touched and counts it. It reports whether every invariant
// still holds.
func (s *sim) feed(c int32, k kindID, target int32, res uint8) bool {
	pre := s.conns[c].phase
	s.touched = append(s.touched[:0], c)
	var t0, t1 time.Time
	if s.costs != nil {
		t0 = time.Now()
	}
	if k == kConnect {
		s.h.Connect(s.conns[c].id)
	} else {
		s.h.Send(s.conns[c].id, s.event(k, target, res))
	}
	if s.costs != nil {
		t1 = time.Now()
	}
	s.events++
	s.afterEvent()
	if s.costs != nil {
		s.costs[k].add(t1.Sub(t0), time.Since(t1))
	}
	post := s.conns[c].phase
	s.obs[(int(k)*fsm.NumPhases+int(pre))*fsm.NumPhases+int(post)]++
	if s.progress != nil && s.events&0xffff == 0 {
		s.progress(s.events)
	}
	return s.viol == nil
}

// do does one action and reports whether the state allowed it.
func (s *sim) do(a action) bool {
	switch a.op {
	case opLogin:
		dv := &s.devs[a.dev]
		if dv.conn != 0 {
			return false
		}
		acc := a.dev / 2
		key := acc*2 + int32(a.res)
		if s.owner[key] != 0 {
			s.replaced++
		}
		c := s.newConn(a.dev, key)
		dv.conn = c
		s.actor, s.target = acc, targetNone
		_ = s.feed(c, kConnect, acc, 0) && s.feed(c, kHeader, acc, 0) && s.feed(c, kAuth, acc, 0) &&
			s.feed(c, kHeader, acc, 0) && s.feed(c, kBind, targetNone, a.res)
		switch {
		case s.viol != nil:
		case s.conns[c].phase == fsm.Established:
			s.established++
		default:
			s.loginsFailed++
			s.feed(c, kLost, targetNone, 0)
		}
		return true
	case opSend:
		c := s.devs[a.dev].conn
		if c == 0 || s.conns[c].phase != fsm.Established {
			return false
		}
		s.actor, s.target = a.dev/2, a.target
		switch a.kind {
		case kSubscribe, kSubscribed, kUnsubscribe, kUnsubscribed, kRosterRemove, kProbe:
			s.pairs = true
		default:
			s.pairs = false
		}
		s.userRules(a)
		s.feed(c, a.kind, a.target, a.res)
		return true
	case opLate:
		c := s.devs[a.dev].last
		if c == 0 || s.conns[c].phase != fsm.Closed {
			return false
		}
		s.late++
		s.actor, s.target = targetNone, targetNone
		s.feed(c, a.kind, a.target, a.res)
		return true
	case opJunk:
		s.junk++
		c := s.newConn(-1, -1)
		s.actor, s.target = targetNone, targetNone
		for _, k := range junkVariants[a.kind] {
			if !s.feed(c, k, a.target, 0) {
				return true
			}
			if s.conns[c].phase == fsm.Closed {
				return true
			}
		}
		s.feed(c, kLost, targetNone, 0)
		return true
	}
	return false
}

// ---------------------------------------------------------------------------
// Checks.

// afterEvent checks what the event touched: every session written to (and
// the one that got the event), the users of the action, and the pair of
// them; and the whole hub every sweepEvery events.
func (s *sim) afterEvent() {
	for i := 0; i < len(s.touched) && s.viol == nil; i++ {
		s.checkConn(s.touched[i])
	}
	if s.actor >= 0 && s.viol == nil {
		s.checkAccount(s.actor)
		if t := s.target; t >= 0 && t != s.actor && s.viol == nil {
			s.checkAccount(t)
			if s.pairs {
				s.checkPair(s.actor, t)
			}
		}
	}
	if s.events >= s.nextSweep && s.viol == nil {
		s.nextSweep += sweepEvery
		s.sweep()
	}
	for _, c := range s.closed {
		s.h.Forget(s.conns[c].id)
	}
	s.closed = s.closed[:0]
}

// checkConn checks one session (Session.Check, SI-n) and that its full
// JID is bound to no other live session (WI-1), and updates what the
// simulation knows of it.
func (s *sim) checkConn(c int32) {
	ci := &s.conns[c]
	sess, ok := s.h.Session(ci.id)
	if !ok {
		s.violate("WI-1", "the hub lost session %s", ci.id)
		return
	}
	if err := sess.Check(); err != nil && s.violate(firstID(err.Error()), "session %s%s: %v", ci.id, s.who(c), oneLineErr(err)) {
		return
	}
	if ci.phase == fsm.Established && sess.Phase != fsm.Established {
		s.iHits[3]++ // I-3: its resource was released
	}
	ci.phase = sess.Phase
	if sess.Phase != fsm.Established {
		ci.avail, ci.prio = false, 0
		if ci.key >= 0 && s.owner[ci.key] == c {
			s.owner[ci.key] = 0
		}
		switch {
		case sess.Phase != fsm.Closed:
		case ci.dev < 0:
			s.closed = append(s.closed, c)
		default:
			if dv := &s.devs[ci.dev]; dv.conn == c {
				if dv.last != 0 {
					s.closed = append(s.closed, dv.last)
				}
				dv.conn, dv.last = 0, c
			}
		}
		return
	}
	ci.avail, ci.prio = sess.Presence != nil, sess.Priority
	if ci.key < 0 || sess.FullJID != s.acc[ci.key/2].full[ci.key%2] {
		s.violate("WI-1", "session %s%s is bound as %q", ci.id, s.who(c), sess.FullJID)
		return
	}
	if o := s.owner[ci.key]; o != 0 && o != c {
		if other, ok := s.h.Session(s.conns[o].id); ok && other.Phase == fsm.Established && other.FullJID == sess.FullJID &&
			s.violate("WI-1", "%s is bound by two live sessions, %s and %s", sess.FullJID, s.conns[o].id, ci.id) {
			return
		}
	}
	s.owner[ci.key] = c
}

func (s *sim) who(c int32) string {
	ci := s.conns[c]
	if ci.dev < 0 {
		return " (a connection that never binds)"
	}
	return fmt.Sprintf(" (u%d, device %d)", ci.dev/2, ci.dev%2+1)
}

// checkAccount checks a user machine: its resources are exactly the live
// sessions of the account, each as available as its session (WI-1); and,
// when its roster or pending requests changed, checkUser and that the
// roster version did not go back (UI-8).
func (s *sim) checkAccount(acc int32) {
	a := &s.acc[acc]
	u, ok := s.h.User(a.bare)
	live := 0
	for r := range int32(2) {
		if s.owner[acc*2+r] != 0 {
			live++
		}
	}
	if !ok {
		if live > 0 {
			s.violate("WI-1", "%s has live sessions but no user machine", a.bare)
		}
		return
	}
	for _, r := range u.Resources {
		key := int32(-1)
		switch r.FullJID {
		case a.full[0]:
			key = acc * 2
		case a.full[1]:
			key = acc*2 + 1
		}
		if key < 0 || s.owner[key] == 0 {
			s.violate("WI-1", "user %s holds resource %s, to which no live session is bound", a.bare, r.FullJID)
			return
		}
		if ci := s.conns[s.owner[key]]; r.Available() != ci.avail || r.Priority != ci.prio {
			s.violate("WI-1", "user %s sees %s available=%v priority %d, its session %s available=%v priority %d",
				a.bare, r.FullJID, r.Available(), r.Priority, ci.id, ci.avail, ci.prio)
			return
		}
	}
	if live != len(u.Resources) {
		s.violate("WI-1", "%s has %d live sessions but its user machine has %d resources", a.bare, live, len(u.Resources))
		return
	}
	if u.Roster.Version == a.ver && len(u.Pending) == a.npend {
		return
	}
	if u.Roster.Version < a.ver && s.violate("UI-8", "the roster version of %s went back from %d to %d", a.bare, a.ver, u.Roster.Version) {
		return
	}
	if err := checkUser(u); err != nil && s.violate(firstID(err.Error()), "user %s: %v", a.bare, oneLineErr(err)) {
		return
	}
	a.ver, a.npend = u.Roster.Version, len(u.Pending)
}

// view returns the roster and pending requests of bare JID j: the user
// machine's, or the store's if it is not loaded.
func view(h *hub.Hub, j string) (fsm.Roster, []fsm.PendingRequest) {
	if u, ok := h.User(j); ok {
		return u.Roster, u.Pending
	}
	return h.Store.Roster(j), h.Store.Pending(j)
}

func pendingFrom(ps []fsm.PendingRequest, j string) bool {
	for _, p := range ps {
		if p.From == j {
			return true
		}
	}
	return false
}

func subTo(s fsm.Subscription) bool   { return s == fsm.SubTo || s == fsm.SubBoth }
func subFrom(s fsm.Subscription) bool { return s == fsm.SubFrom || s == fsm.SubBoth }

// agree checks WI-4 for users a and b (bare JIDs) of a hub at rest: a is
// subscribed to b exactly when b's item for a is from or both, and a asks
// b exactly when b keeps a's request; and the same the other way.
func agree(h *hub.Hub, a, b string) error {
	ra, pa := view(h, a)
	rb, pb := view(h, b)
	ia, _ := ra.Item(b)
	ib, _ := rb.Item(a)
	for _, side := range [2]struct {
		x, y   string
		ix, iy fsm.RosterItem
		py     []fsm.PendingRequest
	}{{a, b, ia, ib, pb}, {b, a, ib, ia, pa}} {
		if subTo(side.ix.Sub) != subFrom(side.iy.Sub) {
			return fmt.Errorf("WI-4 %s's item for %s is %v but %s's item for %s is %v",
				side.x, side.y, side.ix.Sub, side.y, side.x, side.iy.Sub)
		}
		if side.ix.Ask != pendingFrom(side.py, side.x) {
			return fmt.Errorf("WI-4 %s's item for %s has ask=%v but %s keeps a request from %s: %v",
				side.x, side.y, side.ix.Ask, side.y, side.x, !side.ix.Ask)
		}
	}
	return nil
}

func (s *sim) checkPair(a, b int32) {
	if err := agree(s.h, s.acc[a].bare, s.acc[b].bare); err != nil {
		s.violate("WI-4", "%v", err)
	}
}

// writeInvariants prints the verdict on the invariants.
func (s *sim) writeInvariants(w io.Writer) {
	switch {
	case s.viol != nil:
		fmt.Fprintf(w, "  invariants  BROKEN after event %s:\n", commas(s.viol.Event))
	case len(s.tolerated) > 0:
		fmt.Fprintln(w, "  invariants  held after every event, but for those --tolerate names:")
	default:
		fmt.Fprintln(w, "  invariants  held after every event:")
	}
	for _, key := range sortedKeys(s.tolerated) {
		t := s.tolerated[key]
		fmt.Fprintf(w, "    %s broken %s times (tolerated); first after event %s (action %s): %s\n",
			key, commas(t.count), commas(t.first.Event), commas(t.first.Action+1), t.first.Text)
	}
}

// sweep checks the whole hub.
func (s *sim) sweep() {
	checkHub(s.h, func(key, text string) bool { return s.violate(key, "%s", text) })
}

// checkHub checks every invariant over a hub at rest: Session.Check for
// every session; each full JID bound by one live session at most, and the
// user machines' resources exactly the live sessions (WI-1); checkUser and
// (fsm.User).Check for every user machine; and both sides of every pair
// that either side's roster or requests name (WI-4).
func checkHub(h *hub.Hub, report func(key, text string) (stop bool)) {
	conns := h.Conns()
	sortConns(conns)
	bound := map[string]string{}
	for _, c := range conns {
		sess, _ := h.Session(c)
		if err := sess.Check(); err != nil && report(firstID(err.Error()), fmt.Sprintf("session %s: %v", c, oneLineErr(err))) {
			return
		}
		if sess.Phase != fsm.Established {
			continue
		}
		if other, ok := bound[sess.FullJID]; ok && report("WI-1", fmt.Sprintf("%s is bound by two live sessions, %s and %s", sess.FullJID, other, c)) {
			return
		}
		bound[sess.FullJID] = c
	}
	users := h.Users()
	sort.Strings(users)
	resources := map[string]string{}
	for _, j := range users {
		u, _ := h.User(j)
		for _, r := range u.Resources {
			resources[r.FullJID] = j
			c, ok := bound[r.FullJID]
			if !ok {
				if report("WI-1", fmt.Sprintf("user %s holds resource %s, to which no live session is bound", j, r.FullJID)) {
					return
				}
				continue
			}
			sess, _ := h.Session(c)
			if (r.Available() != sess.Available() || r.Priority != sess.Priority) &&
				report("WI-1", fmt.Sprintf("user %s sees %s available=%v priority %d, its session %s available=%v priority %d",
					j, r.FullJID, r.Available(), r.Priority, c, sess.Available(), sess.Priority)) {
				return
			}
		}
		for _, check := range []func(fsm.User) error{checkUser, fsm.User.Check} {
			if err := check(u); err != nil && report(firstID(err.Error()), fmt.Sprintf("user %s: %v", j, oneLineErr(err))) {
				return
			}
		}
	}
	for _, full := range sortedKeys(bound) {
		if _, ok := resources[full]; !ok &&
			report("WI-1", fmt.Sprintf("session %s is bound as %s, which its user machine does not hold", bound[full], full)) {
			return
		}
	}
	for _, j := range users {
		r, p := view(h, j)
		var others []string
		for _, it := range r.Items {
			others = append(others, it.JID)
		}
		for _, q := range p {
			others = append(others, q.From)
		}
		for _, o := range others {
			if !strings.HasSuffix(o, "@"+domain) || o == nobodyJID {
				continue
			}
			if err := agree(h, j, o); err != nil && report("WI-4", err.Error()) {
				return
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkUser checks what a user machine holds after any step, cheaply (no
// JID parsing): its resources are full JIDs of the user, each once (UI-2);
// its roster is sorted, each item once, never the user's own JID (UI-4);
// nobody both asked and subscribed to, and no pending request from a
// subscriber (UI-5); one pending request per contact at most, never from
// the user (UI-6). That the version grows is checked by its callers, which
// know the version before.
func checkUser(u fsm.User) error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	for i, r := range u.Resources {
		if len(r.FullJID) <= len(u.JID)+1 || r.FullJID[:len(u.JID)] != u.JID || r.FullJID[len(u.JID)] != '/' {
			bad("UI-2 resource %q is not a full JID of %s", r.FullJID, u.JID)
		}
		for _, o := range u.Resources[:i] {
			if o.FullJID == r.FullJID {
				bad("UI-2 resource %q twice", r.FullJID)
			}
		}
	}
	for i, it := range u.Roster.Items {
		if it.JID == u.JID {
			bad("UI-4 the roster holds the user's own JID")
		}
		if i > 0 && u.Roster.Items[i-1].JID >= it.JID {
			bad("UI-4 roster items %q and %q out of order or repeated", u.Roster.Items[i-1].JID, it.JID)
		}
		if it.Ask && subTo(it.Sub) {
			bad("UI-5 the user asks %s, to whom it is subscribed (%v)", it.JID, it.Sub)
		}
	}
	for i, p := range u.Pending {
		if p.From == u.JID {
			bad("UI-6 a pending request from the user itself")
		}
		for _, q := range u.Pending[:i] {
			if q.From == p.From {
				bad("UI-6 two pending requests from %s", p.From)
			}
		}
		if it, ok := u.Roster.Item(p.From); ok && subFrom(it.Sub) {
			bad("UI-5 a pending request from %s, a subscriber (%v)", p.From, it.Sub)
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// firstID returns the invariant id an error message starts with.
func firstID(msg string) string {
	id, _, _ := strings.Cut(msg, " ")
	if id == "" {
		return "?"
	}
	return id
}

func oneLineErr(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// ---------------------------------------------------------------------------
// Rules: which S-n and I-n an input exercised, derived outside fsm from
// the input, the phase before and after it, and the states it met.

// sessionRuleIDs and imRuleIDs are the rules of spec/session.md and
// spec/im.md (a test keeps them the same).
var (
	sessionRuleIDs = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 20, 21, 22, 23, 24, 25, 26, 27,
		30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59,
		60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 74, 75, 76, 80, 81, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 106}
	imRuleIDs = []int{1, 2, 3, 10, 11, 12, 13, 14, 15, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29,
		30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 51, 52, 50, 56}
)

// sessionRules returns the S-n rules an input exercised, given the phase
// before and after it.
func sessionRules(k kindID, pre, post fsm.Phase) []int {
	closed := post == fsm.Closed
	var r []int
	if closed && pre != fsm.Closed {
		r = append(r, 97)
	}
	switch {
	case pre == fsm.Closed:
		return []int{4}
	case pre == fsm.Unconnected:
		return []int{1}
	case k == kEnd:
		return append(r, 90)
	case k == kLost:
		return append(r, 91)
	case k == kXMLError:
		return append(r, 92)
	case k == kIdleTimeout:
		return append(r, 94)
	case k == kNegotiationTimeout:
		return append(r, 93)
	case pre == fsm.WaitForStream:
		switch k {
		case kHeader:
			if post == fsm.WaitForFeature {
				return append(r, 11, 12)
			}
			return append(r, 11, 14)
		case kHeaderBadHost:
			return append(r, 9, 16)
		case kHeaderBadNamespace:
			return append(r, 6, 16)
		case kHeaderNoVersion:
			return append(r, 7, 16)
		case kHeaderNoTo:
			return append(r, 8, 16)
		case kHeaderOtherHost:
			return append(r, 10)
		}
		return append(r, 5, 16)
	case kinds[k].col == colHeader:
		return append(r, 15)
	case k == kStreamError:
		return append(r, 62, 90)
	case k == kUnknown:
		return append(r, 61)
	case k == kStartTLS:
		if pre.Authenticated() {
			return append(r, 22)
		}
		return append(r, 21)
	}
	switch pre {
	case fsm.WaitForFeature, fsm.WaitForSASLResponse:
		switch k {
		case kAuth, kAuthAgain, kAuthBadPassword, kAuthUnknownMech, kAuthNoData, kAuthBadBase64:
			if pre == fsm.WaitForSASLResponse {
				return append(r, 41)
			}
		}
		switch k {
		case kAuth:
			return append(r, 30, 36)
		case kAuthBadPassword:
			if closed {
				return append(r, 30, 37, 38)
			}
			return append(r, 30, 37)
		case kAuthUnknownMech:
			return append(r, 31)
		case kAuthNoData:
			return append(r, 30, 34)
		case kAuthBadBase64:
			return append(r, 33)
		case kResponse:
			if pre == fsm.WaitForSASLResponse {
				return append(r, 35, 37)
			}
			return append(r, 40)
		case kAbort:
			if pre == fsm.WaitForSASLResponse {
				return append(r, 39)
			}
			return append(r, 40)
		}
		return append(r, 60)
	case fsm.WaitForBind:
		switch k {
		case kBind:
			return append(r, 50, 53, 55)
		case kBindBadResource:
			return append(r, 51)
		case kBindGet:
			return append(r, 52)
		case kAuth, kAuthAgain, kResponse, kAbort:
			return append(r, 43)
		}
		return append(r, 60)
	case fsm.Established:
		switch k {
		case kAuth, kAuthAgain, kResponse, kAbort:
			return append(r, 43)
		case kRosterGet:
			return append(r, 63, 67)
		case kRosterSet, kRosterRemove, kPingServer, kDiscoServer, kIQFull, kIQBare:
			return append(r, 63, 69)
		case kSubscribe, kSubscribed, kUnsubscribe, kUnsubscribed, kProbe:
			return append(r, 63, 75)
		case kAvailable:
			return append(r, 70)
		case kUnavailable:
			return append(r, 71)
		case kDirected, kDirectedUnavailable:
			return append(r, 63, 74)
		case kPresenceSelf:
			return append(r, 70, 76)
		case kChat, kNormal, kHeadline, kGroupchat:
			return append(r, 63, 68)
		case kSession:
			return append(r, 66)
		case kBadTo:
			return append(r, 64)
		case kBadIQ, kBadType:
			return append(r, 65)
		case kSubNoTo:
			return append(r, 72)
		case kBindAgain:
			return append(r, 57)
		}
	}
	return r
}

func (s *sim) hit(ids ...int) {
	for _, id := range ids {
		s.iHits[id]++
	}
}

// availableAt reports whether account t has an available resource, of
// non-negative priority when nonNegative.
func (s *sim) availableAt(t int32, nonNegative bool) bool {
	for r := range int32(2) {
		if c := s.owner[t*2+r]; c != 0 && s.conns[c].avail && (!nonNegative || s.conns[c].prio >= 0) {
			return true
		}
	}
	return false
}

// userRules counts the I-n rules a send from a connected resource
// exercises, from the states of the sender and the target before it.
func (s *sim) userRules(a action) {
	acc, t := a.dev/2, a.target
	switch a.kind {
	case kRosterGet:
		s.hit(40, 41)
		return
	case kRosterSet:
		if t == acc {
			s.hit(40, 42)
		} else {
			s.hit(40, 43)
		}
		return
	case kRosterRemove:
		s.hit(40, 44)
		return
	case kAvailable, kPresenceSelf:
		s.hit(10)
		if !s.conns[s.devs[a.dev].conn].avail {
			s.hit(11)
		}
		return
	case kUnavailable:
		s.hit(12)
		return
	case kPingServer, kDiscoServer:
		s.hit(50)
		return
	case kSubscribe, kSubscribed, kUnsubscribe, kUnsubscribed:
		s.subscriptionRules(acc, t, fsm.SubKind(a.kind-kSubscribe+1))
		return
	}
	switch a.kind {
	case kChat, kNormal, kHeadline, kGroupchat, kDirected, kDirectedUnavailable, kProbe, kIQFull, kIQBare:
	default:
		return
	}
	s.hit(20, 21)
	switch t {
	case targetNobody:
		s.hit(22)
		return
	case targetRemote:
		return
	}
	full := a.res == 1 || a.res == 2
	connected := full && s.owner[t*2+int32(a.res)-1] != 0
	switch a.kind {
	case kDirected, kDirectedUnavailable:
		s.hit(13)
		if connected || (!full && s.availableAt(t, false)) {
			s.hit(15)
		}
	case kProbe:
		s.hit(14)
	case kIQFull:
		if connected {
			s.hit(28)
		} else {
			s.hit(29)
		}
	case kIQBare:
		s.hit(29)
	default: // messages
		switch {
		case connected:
			s.hit(23)
		case full && a.kind != kChat:
			s.hit(24)
		case a.kind == kGroupchat:
			s.hit(25)
		default:
			if full {
				s.hit(24)
			}
			if a.kind == kHeadline || s.availableAt(t, true) {
				s.hit(26)
			} else {
				s.hit(27)
			}
		}
	}
}

// stateIndex returns the index of st in fsm.States, or -1.
func stateIndex(st fsm.SubState) int {
	for i, x := range fsm.States {
		if x == st {
			return i
		}
	}
	return -1
}

func subState(r fsm.Roster, p []fsm.PendingRequest, contact string) fsm.SubState {
	it, _ := r.Item(contact)
	return fsm.SubState{Sub: it.Sub, PendingOut: it.Ask, PendingIn: pendingFrom(p, contact)}
}

// subscriptionRules counts the Appendix A rows and the rules a
// subscription stanza from account acc to target exercises.
func (s *sim) subscriptionRules(acc, t int32, k fsm.SubKind) {
	switch {
	case t == acc:
		s.hit(30)
		return
	case t == targetRemote:
		s.hit(21)
		return
	case t == targetNobody:
		s.hit(22)
	}
	a, b := s.acc[acc].bare, s.addr(t, 0)
	ra, pa := view(s.h, a)
	st := subState(ra, pa, b)
	row, ok := fsm.OutboundRow(st, k)
	if i := stateIndex(st); ok && i >= 0 {
		s.rowOut[i][k]++
	}
	item, _ := ra.Item(b)
	switch {
	case row.PreApproval && s.h.Policy.PreApproval:
		s.hit(33)
		return
	case k == fsm.Unsubscribed && row.Act == fsm.Must && subFrom(st.Sub):
		s.hit(34)
	case k == fsm.Unsubscribed && item.Approved:
		s.hit(34)
	}
	s.hit(31)
	if row.Act != fsm.Must {
		return
	}
	if k == fsm.Subscribed {
		s.hit(32)
	}
	if t < 0 {
		return
	}
	rb, pb := view(s.h, b)
	stB := subState(rb, pb, a)
	in, ok := fsm.InboundRow(stB, k)
	if i := stateIndex(stB); ok && i >= 0 {
		s.rowIn[i][k]++
	}
	itB, _ := rb.Item(a)
	switch {
	case k == fsm.Subscribe && itB.Approved && s.h.Policy.PreApproval && !stB.PendingIn && (stB.Sub == fsm.SubNone || stB.Sub == fsm.SubTo):
		s.hit(36)
	case k == fsm.Subscribe && in.Act != fsm.Must && in.Note == 2:
		s.hit(37)
	case k == fsm.Subscribe:
		s.hit(35)
	case k == fsm.Unsubscribe && in.Act == fsm.Must:
		s.hit(38, 39)
	default:
		s.hit(38)
	}
}

// ---------------------------------------------------------------------------
// The report.

// commas renders n with thousands separators.
func commas(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// short renders a count in at most five characters.
func short(n uint64) string {
	switch {
	case n == 0:
		return "·"
	case n < 10_000:
		return strconv.FormatUint(n, 10)
	case n < 10_000_000:
		return strconv.FormatUint(n/1000, 10) + "k"
	}
	return strconv.FormatUint(n/1_000_000, 10) + "M"
}

// observable reports whether a client can meet phase ph between events on
// the in-process hub, which answers TLS, SASL mechanisms, the registry and
// the roster store at once; and col in it (before connect there is only
// connect).
func observable(ph fsm.Phase, col int) bool {
	switch ph {
	case fsm.WaitForTLS, fsm.WaitForSASLResult, fsm.WaitForResource, fsm.WaitForRoster:
		return false
	case fsm.Unconnected:
		return col == colConnect
	}
	// A connection is accepted once: connect comes only before it.
	return col != colConnect
}

// coverage is what the observations add up to.
type coverage struct {
	grid                    [fsm.NumPhases][numCols]uint64
	pairs, observablePairs  int
	seen, seenObservable    int
	transitions             int
	sessionHit, imHit       map[int]uint64
	rowsOut, rowsIn, rowAll int
}

func (s *sim) coverage() coverage {
	var cv coverage
	cv.sessionHit, cv.imHit = map[int]uint64{}, map[int]uint64{}
	for k := range kindID(numKinds) {
		for pre := range fsm.NumPhases {
			for post := range fsm.NumPhases {
				n := s.obs[(int(k)*fsm.NumPhases+pre)*fsm.NumPhases+post]
				if n == 0 {
					continue
				}
				cv.grid[pre][kinds[k].col] += n
				for _, id := range sessionRules(k, fsm.Phase(pre), fsm.Phase(post)) {
					cv.sessionHit[id] += n
				}
			}
		}
	}
	// transitions: distinct (phase, column, phase after).
	var trans [fsm.NumPhases][numCols][fsm.NumPhases]bool
	for k := range kindID(numKinds) {
		for pre := range fsm.NumPhases {
			for post := range fsm.NumPhases {
				if s.obs[(int(k)*fsm.NumPhases+pre)*fsm.NumPhases+post] > 0 && !trans[pre][kinds[k].col][post] {
					trans[pre][kinds[k].col][post] = true
					cv.transitions++
				}
			}
		}
	}
	if s.delivered > 0 {
		cv.sessionHit[80] += uint64(s.delivered)
	}
	if s.replaced > 0 {
		cv.sessionHit[54] += uint64(s.replaced)
		cv.sessionHit[95] += uint64(s.replaced)
	}
	if s.established > 0 {
		cv.imHit[1] += uint64(s.established)
	}
	for id, n := range s.iHits {
		if n > 0 {
			cv.imHit[id] += n
		}
	}
	for ph := range fsm.NumPhases {
		for col := range numCols {
			cv.pairs++
			obs := observable(fsm.Phase(ph), col)
			if obs {
				cv.observablePairs++
			}
			if cv.grid[ph][col] > 0 {
				cv.seen++
				if obs {
					cv.seenObservable++
				}
			}
		}
	}
	for i, st := range fsm.States {
		for k := fsm.Subscribe; k <= fsm.Unsubscribed; k++ {
			if _, ok := fsm.OutboundRow(st, k); ok {
				cv.rowAll++
			}
			if s.rowOut[i][k] > 0 {
				cv.rowsOut++
			}
			if s.rowIn[i][k] > 0 {
				cv.rowsIn++
			}
		}
	}
	return cv
}

func (s *sim) writeReport(w io.Writer, seed uint64, elapsed time.Duration) {
	rate := float64(s.events) / elapsed.Seconds()
	fmt.Fprintf(w, "simulate random: %s clients (accounts u0 … u%d on %s, two devices each), seed %d\n",
		commas(s.n), s.n-1, domain, seed)
	fmt.Fprintf(w, "  events      %s client events fed to the hub (connects, stream headers, elements, stream ends, bad XML, timers, lost connections)\n", commas(s.events))
	fmt.Fprintf(w, "  actions     %s (a login is 5 events; %s connections that never bind, %s inputs after a close)\n",
		commas(len(s.rec)), commas(s.junk), commas(s.late))
	fmt.Fprintf(w, "  elapsed     %v\n", elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "  events/s    %s (one goroutine, with every check)\n", commas(int(rate)))
	fmt.Fprintf(w, "  sessions    %s established (%s of them replaced a session bound to the same full JID), %s logins failed\n",
		commas(s.established), commas(s.replaced), commas(s.loginsFailed))
	fmt.Fprintf(w, "  delivered   %s stanzas routed to sessions, %s of them messages\n", commas(s.delivered), commas(s.messages))
	items, most := s.rosterSizes()
	fmt.Fprintf(w, "  rosters     %.1f items on average at the end, %d at most (a user with %d contacts removes one rather than add one; approving a request still adds)\n",
		items, most, steadyRoster)
	s.writeInvariants(w)
	fmt.Fprintln(w, "    after every event: Session.Check (SI-1…SI-14) of every session the event wrote to or fed;")
	fmt.Fprintln(w, "      WI-1 (each full JID bound by one live session at most; the user machine's resources are exactly")
	fmt.Fprintln(w, "      the account's live sessions, as available as they are) for the users the event involved;")
	fmt.Fprintln(w, "      UI-2, UI-4…UI-6 and the roster version never going back (UI-8) when their roster changed;")
	fmt.Fprintln(w, "      WI-4 (both sides agree with Appendix A) for the pair of users a subscription stanza, a roster removal or a probe went between")
	fmt.Fprintf(w, "    every %s events and at the end: all of these over the whole hub, and (fsm.User).Check (UI-1…UI-9)\n", commas(sweepEvery))

	if s.costs != nil {
		writeCosts(w, s.costs, elapsed)
	}

	cv := s.coverage()
	fmt.Fprintln(w, "\ncoverage: client events by the phase of their session before them and the input")
	width := len("wait-for-sasl-response")
	fmt.Fprintf(w, "  %-*s", width, "phase")
	for _, c := range colNames {
		fmt.Fprintf(w, " %*s", max(len(c), 5), c)
	}
	fmt.Fprintln(w)
	for ph := range fsm.NumPhases {
		fmt.Fprintf(w, "  %-*s", width, fsm.Phase(ph))
		for col, c := range colNames {
			cell := short(cv.grid[ph][col])
			if !observable(fsm.Phase(ph), col) {
				cell = "-"
			}
			fmt.Fprintf(w, " %*s", max(len(c), 5), cell)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  exercised %d of the %d phase × input pairs a client can meet (%d of %d in all;", cv.seenObservable, cv.observablePairs, cv.seen, cv.pairs)
	fmt.Fprintln(w, " \"-\": a connection is accepted once, so")
	fmt.Fprintln(w, "    connect comes only before it; and the in-process hub answers TLS, SASL mechanisms, the registry and the roster")
	fmt.Fprintln(w, "    store at once, so no client event finds a session waiting for them)")
	var never []string
	for ph := range fsm.NumPhases {
		var cols []string
		for col := range numCols {
			if observable(fsm.Phase(ph), col) && cv.grid[ph][col] == 0 {
				cols = append(cols, colNames[col])
			}
		}
		if len(cols) > 0 {
			never = append(never, fmt.Sprintf("%v × %s", fsm.Phase(ph), strings.Join(cols, ", ")))
		}
	}
	if len(never) == 0 {
		fmt.Fprintln(w, "  never exercised: none")
	} else {
		fmt.Fprintln(w, "  never exercised:")
		for _, n := range never {
			fmt.Fprintf(w, "    %s\n", n)
		}
	}
	fmt.Fprintf(w, "  transitions: %d distinct (phase, input, phase after)\n", cv.transitions)
	fmt.Fprintln(w, "  rules (derived from each input, the phases before and after it and the states it met, not read from fsm):")
	for _, rs := range []struct {
		name   string
		prefix string
		ids    []int
		hits   map[int]uint64
	}{{"session", "S-", sessionRuleIDs, cv.sessionHit}, {"IM", "I-", imRuleIDs, cv.imHit}} {
		var missing []string
		n := 0
		for _, id := range rs.ids {
			if rs.hits[id] > 0 {
				n++
			} else {
				missing = append(missing, rs.prefix+strconv.Itoa(id))
			}
		}
		line := fmt.Sprintf("    %s rules: %d of %d exercised", rs.name, n, len(rs.ids))
		if len(missing) > 0 {
			line += "; never: " + strings.Join(missing, " ")
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "  Appendix A rows exercised: outbound (A.2) %d of %d, inbound (A.3) %d of %d\n", cv.rowsOut, cv.rowAll, cv.rowsIn, cv.rowAll)
}

// ---------------------------------------------------------------------------
// Shrinking.

type shrunk struct {
	actions  []action
	replays  int
	complete bool
}

// reproduces replays actions on a fresh hub and reports whether the
// violation with signature sig (violation.sig) is the first to break, and
// the actions the replay did.
func reproduces(n int, tol map[string]bool, actions []action, sig string) (bool, []action) {
	s := newSim(n, tol)
	done := s.replay(actions)
	return s.viol != nil && s.viol.sig() == sig, done
}

// shrink reduces the actions of a run that broke v to a few that still
// break it, first: to the accounts of the breaking action alone, else by
// delta debugging over the accounts; then by delta debugging over the
// actions; then a second device's actions are moved to the first where
// that keeps the violation; then each input a scansion script cannot give
// is replaced by one it can (a lost connection by a close; bad XML, the
// idle timer and a header in an open stream by an unknown element) or
// dropped, where that keeps it. Every test is a replay on a fresh hub, and
// "keeps it" means the same violation (violation.sig) breaks first. It
// stops at the deadline.
func shrink(n int, tol map[string]bool, actions []action, v violation, deadline time.Time) shrunk {
	sh := shrunk{complete: true}
	expired := func() bool {
		if time.Now().After(deadline) {
			sh.complete = false
			return true
		}
		return false
	}
	test := func(as []action) bool {
		sh.replays++
		ok, _ := reproduces(n, tol, as, v.sig())
		return ok
	}
	onlyAccounts := func(keep []int32) []action {
		var out []action
		for _, a := range actions {
			if slices.Contains(keep, a.account()) {
				out = append(out, a)
			}
		}
		return out
	}
	last := actions[len(actions)-1]
	involved := []int32{last.account()}
	if last.target >= 0 && last.target != last.account() {
		involved = append(involved, last.target)
	}
	cur := actions
	if c := onlyAccounts(involved); len(c) < len(cur) && test(c) {
		cur = c
	} else {
		var accs []int32
		for _, a := range actions {
			if !slices.Contains(accs, a.account()) {
				accs = append(accs, a.account())
			}
		}
		accs = ddmin(accs, func(keep []int32) bool { return test(onlyAccounts(keep)) }, expired)
		cur = onlyAccounts(accs)
	}
	cur = ddmin(cur, test, expired)
	// One device where two will do: the second device's actions moved to
	// the first (a login of a device already connected is then skipped).
	for i := 0; i < len(cur) && !expired(); i++ {
		d := cur[i].dev
		if cur[i].op == opJunk || d%2 == 0 {
			continue
		}
		alt := slices.Clone(cur)
		for j := range alt {
			if alt[j].op != opJunk && alt[j].dev == d {
				alt[j].dev = d - 1
			}
		}
		sh.replays++
		if ok, done := reproduces(n, tol, alt, v.sig()); ok {
			cur = ddmin(done, test, expired)
			i = -1
		}
	}
	for i := 0; i < len(cur) && !expired(); i++ {
		a := cur[i]
		if a.expressible() {
			continue
		}
		var alt []action
		switch {
		case a.op == opSend && a.kind == kLost:
			b := a
			b.kind = kEnd
			alt = slices.Concat(cur[:i], []action{b}, cur[i+1:])
		case a.op == opSend && a.kind != kNegotiationTimeout:
			b := a
			b.kind = kUnknown
			alt = slices.Concat(cur[:i], []action{b}, cur[i+1:])
		default:
			alt = slices.Concat(cur[:i], cur[i+1:])
		}
		if test(alt) {
			cur = alt
			i--
		}
	}
	_, done := reproduces(n, tol, cur, v.sig())
	sh.replays++
	sh.actions = done
	return sh
}

// ddmin is Zeller's delta debugging: it returns a subsequence of items for
// which test holds and from which no single chunk of the last granularity
// can be removed (1-minimal when it runs to the end). test(items) holds.
func ddmin[T any](items []T, test func([]T) bool, expired func() bool) []T {
	n := 2
	for len(items) >= 2 && !expired() {
		chunk := (len(items) + n - 1) / n
		reduced := false
		for i := 0; i < len(items) && !reduced && !expired(); i += chunk {
			sub := items[i:min(i+chunk, len(items))]
			if len(sub) < len(items) && test(sub) {
				items, n, reduced = slices.Clone(sub), 2, true
			}
		}
		for i := 0; i < len(items) && !reduced && !expired(); i += chunk {
			comp := slices.Concat(items[:i], items[min(i+chunk, len(items)):])
			if test(comp) {
				items, n, reduced = comp, max(n-1, 2), true
			}
		}
		if !reduced {
			if n >= len(items) {
				break
			}
			n = min(2*n, len(items))
		}
	}
	return items
}

// ---------------------------------------------------------------------------
// The scansion script.

// scriptClient is one [Client] of the script: a device of an account
// bound to one resource.
type scriptClient struct {
	acc, dev int32
	res      uint8
}

func (c scriptClient) name() string {
	n := fmt.Sprintf("u%d/%s", c.acc, resNames[c.res])
	if c.dev%2 == 1 {
		n += "#2"
	}
	return n
}

// scriptResult is a written script and what running it showed.
type scriptResult struct {
	text        string
	reproduced  bool
	expressible bool
	key         string
	seen        string // the violation the check saw, if any
	failures    []string
}

func (r scriptResult) verdict() string {
	var b strings.Builder
	switch {
	case r.reproduced:
		fmt.Fprintf(&b, "the script reproduces it: run on a fresh in-process hub, it breaks %s", r.seen)
	case r.seen != "":
		fmt.Fprintf(&b, "the script does NOT reproduce it: run on a fresh in-process hub, it breaks %s instead", r.seen)
	default:
		b.WriteString("the script does NOT reproduce it: on a fresh in-process hub every invariant held")
	}
	if !r.expressible {
		b.WriteString("; it needs inputs scansion cannot give (marked # in the script)")
	}
	if len(r.failures) > 0 {
		fmt.Fprintf(&b, "; the runner reported: %s", strings.Join(r.failures, "; "))
	}
	if strings.HasPrefix(r.key, "SI-") {
		b.WriteString("\n(`simulate run FILE.scs` shows it in its step table")
		if randomFault != nil {
			b.WriteString(" only with the fault this run injected")
		}
		b.WriteString(")")
	} else {
		b.WriteString("\n(`simulate run` checks the session invariants; " + r.key + " is checked by this command's replay)")
	}
	return b.String()
}

// xmlText renders an element as a script body line.
func xmlText(el *etree.Element) string { return fsm.XML(el) }

// writeScript renders actions as a scansion script and runs it. Each
// device's login is a client that connects; its inputs are sends, its close
// a disconnect; what scansion cannot express is a comment (a lost
// connection becomes a disconnect). Every stream error the server sends is
// awaited with receives, after the stanzas queued before it, since the
// runner fails on a stream error nobody awaits: the script is replayed on
// an in-process target while it is written, to know what arrives.
func writeScript(n int, tol map[string]bool, actions []action, v violation, title string) scriptResult {
	res := scriptResult{key: v.Key, expressible: true}
	sim := newSim(n, tol) // for the targets' addresses and the elements
	// The clients, in order of first login.
	cur := map[int32]scriptClient{} // device → its client
	var clients []scriptClient
	var accounts []int32 // every account the actions name
	for _, a := range actions {
		if a.op == opLogin {
			c := scriptClient{acc: a.dev / 2, dev: a.dev, res: a.res}
			if !slices.Contains(clients, c) {
				clients = append(clients, c)
			}
		}
		for _, acc := range []int32{a.account(), a.target} {
			if acc >= 0 && !slices.Contains(accounts, acc) {
				accounts = append(accounts, acc)
			}
		}
	}
	decl := func(c scriptClient) conformance.Client {
		return conformance.Client{Name: c.name(), JID: sim.acc[c.acc].bare, Password: password, Resource: resNames[c.res]}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n", title)
	fmt.Fprintf(&b, "## generated by simulate random: %s\n\n", v.Text)
	sc := &conformance.Script{Name: "random"}
	for _, c := range clients {
		d := decl(c)
		sc.Clients = append(sc.Clients, d)
		fmt.Fprintf(&b, "[Client] %s\n\tjid: %s\n\tpassword: %s\n\tresource: %s\n\n", d.Name, d.JID, d.Password, d.Resource)
	}
	for _, acc := range accounts {
		if slices.ContainsFunc(clients, func(c scriptClient) bool { return c.acc == acc }) {
			continue
		}
		d := conformance.Client{Name: "u" + strconv.Itoa(int(acc)), JID: sim.acc[acc].bare, Password: password}
		sc.Clients = append(sc.Clients, d)
		fmt.Fprintf(&b, "# %s never connects: declared so that its account exists\n[Client] %s\n\tjid: %s\n\tpassword: %s\n\n", d.Name, d.Name, d.JID, d.Password)
	}
	b.WriteString("---------\n")

	// The mirror: the runner's view of the same script, to know what
	// each client has queued.
	ip, err := conformance.NewInProcess(sc, conformance.LoopbackPolicy())
	if err != nil {
		res.failures = append(res.failures, err.Error())
		return res
	}
	if randomFault != nil {
		randomFault(ip.Hub)
	}
	conns := map[string]conformance.Conn{}
	var order []string
	queued := map[string][]*etree.Element{}
	send := func(name string, el *etree.Element) {
		text := xmlText(el)
		fmt.Fprintf(&b, "\n%s sends:\n\t%s\n", name, text)
		parsed, err := conformance.ParseStanza(text)
		if c := conns[name]; c != nil && err == nil {
			if err := c.Send(parsed); err != nil {
				res.failures = append(res.failures, fmt.Sprintf("%s sends: %v", name, err))
			}
		}
	}
	disconnect := func(name string) {
		fmt.Fprintf(&b, "\n%s disconnects\n", name)
		if c := conns[name]; c != nil {
			c.Close()
			delete(conns, name)
			delete(queued, name)
		}
	}
	for _, a := range actions {
		switch a.op {
		case opLogin:
			c := scriptClient{acc: a.dev / 2, dev: a.dev, res: a.res}
			cur[a.dev] = c
			name := c.name()
			fmt.Fprintf(&b, "\n%s connects\n", name)
			conn, err := ip.Connect(decl(c))
			if err != nil {
				res.failures = append(res.failures, fmt.Sprintf("%s connects: %v", name, err))
				continue
			}
			conns[name] = conn
			if !slices.Contains(order, name) {
				order = append(order, name)
			}
		case opSend:
			name := cur[a.dev].name()
			k := a.kind
			switch {
			case k == kEnd:
				disconnect(name)
				continue
			case k == kLost:
				res.expressible = false
				fmt.Fprintf(&b, "\n# %s loses its connection: scansion cannot say so, a disconnect stands in\n", name)
				disconnect(name)
				continue
			case k == kNegotiationTimeout:
				// Ignored after bind (S-93): nothing stands in.
				res.expressible = false
				fmt.Fprintf(&b, "\n# %s: %s (scansion cannot give this input; it changes nothing)\n", name, kinds[k].name)
				continue
			case !scriptable(k):
				// Bad XML, the idle timer, a header in an open stream:
				// each ends the stream with an error, as an unknown
				// element does.
				res.expressible = false
				fmt.Fprintf(&b, "\n# %s: %s (scansion cannot give this input): an unknown element stands in\n", name, kinds[k].name)
				k = kUnknown
			}
			send(name, sim.elem(k, a.target, a.res))
		case opLate:
			res.expressible = false
			what := kinds[a.kind].name
			if kinds[a.kind].build != nil {
				what = xmlText(sim.elem(a.kind, a.target, a.res))
			}
			fmt.Fprintf(&b, "\n# %s's closed connection gets %s (scansion cannot send on a closed stream)\n", cur[a.dev].name(), what)
		case opJunk:
			res.expressible = false
			var steps []string
			for _, k := range junkVariants[a.kind] {
				steps = append(steps, kinds[k].name)
			}
			fmt.Fprintf(&b, "\n# a connection that never binds (u%d): %s (scansion cannot express it)\n", a.target, strings.Join(steps, ", "))
		}
		// What arrived; stream errors are awaited, with what came first.
		var window bool
		for _, name := range order {
			c := conns[name]
			if c == nil {
				continue
			}
			for c.Pending() > 0 {
				el, err := c.Receive()
				if err != nil {
					break
				}
				queued[name] = append(queued[name], el)
			}
			for i, el := range queued[name] {
				if el.Tag != "error" || el.Space != "stream" {
					continue
				}
				for _, r := range queued[name][:i+1] {
					fmt.Fprintf(&b, "\n%s receives:\n\t%s\n", name, xmlText(r))
				}
				window = true
				delete(conns, name)
				c.Close()
				break
			}
			if conns[name] == nil {
				continue
			}
			if _, err := c.Receive(); errors.Is(err, conformance.ErrClosed) {
				// The server closed the stream without a stream error
				// (the client sent one): the runner still counts the
				// client as connected until it disconnects.
				fmt.Fprintf(&b, "\n%s disconnects\n", name)
				delete(conns, name)
				delete(queued, name)
				c.Close()
			}
		}
		if window {
			clear(queued) // the runner drops what is left when the window ends
		}
	}
	res.text = b.String()

	// Run the script as written, checking after every step.
	parsed, err := conformance.Parse("random.scs", []byte(res.text))
	if err != nil {
		res.failures = append(res.failures, "the script does not parse: "+err.Error())
		return res
	}
	vv, failures := checkScript(parsed, v.sig())
	res.failures = append(res.failures, failures...)
	if vv != nil {
		res.seen = vv.Key + " (" + vv.Text + ")"
		res.reproduced = vv.sig() == v.sig()
	}
	return res
}

// checkScript runs a script on a fresh in-process target (with the test's
// fault, if any) and returns the first violation with signature want
// (violation.sig), else the first of any other: Session.Check after every
// machine step, checkHub after every action. It also returns the runner's
// failures.
func checkScript(s *conformance.Script, want string) (*violation, []string) {
	ip, err := conformance.NewInProcess(s, conformance.LoopbackPolicy())
	if err != nil {
		return nil, []string{err.Error()}
	}
	if randomFault != nil {
		randomFault(ip.Hub)
	}
	ct := &checkedTarget{ip: ip, want: want}
	trace := ip.Hub.Trace
	ip.Hub.Trace = func(machine, event string, effects []string) {
		if trace != nil {
			trace(machine, event, effects)
		}
		conns := ip.Hub.Conns()
		sortConns(conns)
		for _, c := range conns {
			if ct.found != nil {
				return
			}
			sess, _ := ip.Hub.Session(c)
			if err := sess.Check(); err != nil {
				ct.note(firstID(err.Error()), fmt.Sprintf("session %s after a step of %s: %v", c, machine, oneLineErr(err)))
			}
		}
	}
	r := conformance.Run(s, ct)
	var failures []string
	for _, f := range r.Failures {
		failures = append(failures, fmt.Sprintf("line %d: %s: %v", f.Line, f.Kind, f.Err))
	}
	if ct.found != nil {
		return ct.found, failures
	}
	return ct.other, failures
}

// checkedTarget is the in-process target, checked with checkHub after
// every action that makes the hub step.
type checkedTarget struct {
	ip           *conformance.InProcess
	want         string
	found, other *violation
}

// note records a violation and reports whether it is the one wanted.
func (t *checkedTarget) note(key, text string) bool {
	v := &violation{Key: key, Text: text}
	switch {
	case t.found == nil && v.sig() == t.want:
		t.found = v
	case t.other == nil:
		t.other = v
	}
	return t.found != nil
}

func (t *checkedTarget) check() {
	if t.found == nil {
		checkHub(t.ip.Hub, t.note)
	}
}

func (t *checkedTarget) Connect(c conformance.Client) (conformance.Conn, error) {
	conn, err := t.ip.Connect(c)
	t.check()
	if err != nil {
		return nil, err
	}
	return &checkedConn{Conn: conn, t: t}, nil
}

type checkedConn struct {
	conformance.Conn
	t *checkedTarget
}

func (c *checkedConn) Send(el *etree.Element) error {
	err := c.Conn.Send(el)
	c.t.check()
	return err
}

func (c *checkedConn) Close() error {
	err := c.Conn.Close()
	c.t.check()
	return err
}
