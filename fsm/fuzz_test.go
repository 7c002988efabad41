package fsm_test

import (
	"slices"
	"strconv"
	"testing"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/spec"
)

// The fuzz targets of the machines read the fuzzer's bytes as a sequence of
// events (fuzzDecoder) drawn from the vocabulary the rapid tests use: the
// model's alphabet (spec.Inputs) and the pools of rapid_test.go (userPool,
// resourcePool, jidPool, typePool, …) for the fields that vary. After every
// step the machine's invariants hold, and no step panics. The seed corpora
// are in testdata/fuzz/FuzzStep and testdata/fuzz/FuzzStepUser; a short run:
//
//	go test ./fsm -run '^$' -fuzz FuzzStep -fuzztime 60s

// fuzzDecoder hands out the fuzzer's bytes; once they run out it hands out
// zeros, so every input decodes to some finite sequence.
type fuzzDecoder struct{ data []byte }

func (d *fuzzDecoder) more() bool { return len(d.data) > 0 }

func (d *fuzzDecoder) byte() byte {
	if len(d.data) == 0 {
		return 0
	}
	b := d.data[0]
	d.data = d.data[1:]
	return b
}

func (d *fuzzDecoder) bool() bool { return d.byte()&1 == 1 }

// pick returns an element of pool, or (for one byte value in eight) a
// string of the fuzzer's own bytes, as rapid's str does.
func (d *fuzzDecoder) pick(pool []string) string {
	b := d.byte()
	if b%8 == 7 {
		return d.raw()
	}
	return pool[int(b)%len(pool)]
}

// raw returns up to 31 of the fuzzer's bytes as a string.
func (d *fuzzDecoder) raw() string {
	n := int(d.byte() % 32)
	n = min(n, len(d.data))
	s := string(d.data[:n])
	d.data = d.data[n:]
	return s
}

// policy picks one of spec.Policies(); the byte's high bit also sets the
// limits (MaxResources, MaxRosterItems, MaxDirected) low enough to reach.
func (d *fuzzDecoder) policy() *fsm.Policy {
	names := policyNames()
	b := d.byte()
	p := *spec.Policies()[names[int(b&0x7f)%len(names)]]
	if b&0x80 != 0 {
		p.MaxResources, p.MaxRosterItems, p.MaxDirected = 2, 2, 2
	}
	return &p
}

// Session events: a byte below len(spec.Inputs) is that input of the
// alphabet; the values above it vary one part of an input with the
// following bytes, as varyHappy and genEvent do.
const (
	sfSuccess = iota // EvSASLSuccess with a username of userPool
	sfBind           // a bind request for a resource of resourcePool
	sfGranted        // EvResourceGranted of a resource of resourcePool
	sfStanza         // a message, presence or iq with pooled attributes and children
	sfHeader         // a stream header with pooled parts
	sfRouted         // a routed stanza with pooled addresses
	sfElement        // an element of tagPool in a namespace of namespacePool
	sfAny            // an event of any kind, with pooled fields
	sfCount
)

// sessionEvent decodes one session event.
func (d *fuzzDecoder) sessionEvent() fsm.Event {
	b := int(d.byte())
	if b < len(spec.Inputs) {
		return spec.Inputs[b].Event()
	}
	switch (b - len(spec.Inputs)) % sfCount {
	case sfSuccess:
		return fsm.Event{Kind: fsm.EvSASLSuccess, Username: d.pick(userPool)}
	case sfBind:
		iq := etree.NewElement("iq")
		iq.CreateAttr("type", "set")
		iq.CreateAttr("id", "b1")
		bind := iq.CreateElement("bind")
		bind.CreateAttr("xmlns", fsm.NSBind)
		if d.bool() {
			bind.CreateElement("resource").SetText(d.pick(resourcePool))
		}
		return fsm.Event{Kind: fsm.EvElement, Elem: iq}
	case sfGranted:
		return fsm.Event{Kind: fsm.EvResourceGranted, Resource: d.pick(resourcePool), Resources: int(d.byte() % 4)}
	case sfStanza:
		return fsm.Event{Kind: fsm.EvElement, Elem: d.stanza([]string{"message", "presence", "iq"})}
	case sfHeader:
		return fsm.Event{Kind: fsm.EvStreamOpen, ID: "s2", Header: &fsm.StreamHeader{
			Space: d.pick(namespacePool), Local: d.pick(tagPool), Default: d.pick(namespacePool),
			To: d.pick(jidPool), From: d.pick(jidPool), Version: d.pick([]string{"1.0", "", "0.9", "2.0", "1.01", "a.b"}),
			Lang: d.pick([]string{"", "en", "x-☃"}),
		}}
	case sfRouted:
		return fsm.Event{
			Kind: fsm.EvRouted,
			Elem: d.stanza([]string{"message", "presence", "iq", "foo"}),
			From: d.pick([]string{spec.Contact + "/laptop", spec.Contact, spec.Host, "carol@example.com/x"}),
			To: d.pick([]string{
				spec.User + "@" + spec.Host + "/" + spec.Resource, spec.User + "@" + spec.Host, spec.User + "@" + spec.Host + "/other",
			}),
		}
	case sfElement:
		el := etree.NewElement(d.pick(tagPool))
		if ns := d.pick(namespacePool); ns != "" {
			el.CreateAttr("xmlns", ns)
		}
		d.attrs(el)
		d.children(el)
		return fsm.Event{Kind: fsm.EvElement, Elem: el}
	}
	ev := fsm.Event{
		Kind:      fsm.EventKind(d.byte()),
		ID:        d.pick([]string{"", "s2"}),
		Conn:      d.pick([]string{"", "c2"}),
		Secure:    d.bool(),
		Username:  d.pick(userPool),
		Resource:  d.pick(resourcePool),
		Condition: d.pick(condPool),
		Timer:     fsm.Timer(d.byte()),
	}
	if d.bool() {
		ev.Data = []byte(d.raw())
	}
	if d.bool() {
		ev.Elem = d.stanza(tagPool)
	}
	if ev.Kind == fsm.EvRouted {
		// The adapter contract: a routed stanza comes with its final
		// addresses, prepared.
		ev.From, ev.To = spec.Contact+"/laptop", spec.User+"@"+spec.Host+"/"+spec.Resource
	}
	return ev
}

// stanza decodes an element named from tags, in jabber:client as the
// framer delivers it, with pooled attributes and children.
func (d *fuzzDecoder) stanza(tags []string) *etree.Element {
	el := etree.NewElement(d.pick(tags))
	d.attrs(el)
	d.children(el)
	return el
}

// attrs adds the stanza attributes type, id, to and from, each present or
// not, from the rapid tests' pools.
func (d *fuzzDecoder) attrs(el *etree.Element) {
	present := d.byte()
	if present&1 != 0 {
		el.CreateAttr("type", d.pick(typePool))
	}
	if present&2 != 0 {
		el.CreateAttr("id", d.pick([]string{"", "b1", "r1", "x"}))
	}
	if present&4 != 0 {
		el.CreateAttr("to", d.pick(jidPool))
	}
	if present&8 != 0 {
		el.CreateAttr("from", d.pick(jidPool))
	}
	if present&16 != 0 && el.Tag == "auth" {
		el.CreateAttr("mechanism", d.pick(mechanismPool))
	}
}

// children adds up to three children the machines read (a priority, a
// bind request, a roster query with an item, a session request, a body, a
// ping), and maybe some text.
func (d *fuzzDecoder) children(el *etree.Element) {
	for range d.byte() % 4 {
		var c *etree.Element
		switch d.byte() % 6 {
		case 0:
			c = etree.NewElement("priority")
			c.SetText(d.pick([]string{"0", "5", "-1", "127", "128", "-129", "+7", "x", ""}))
		case 1:
			c = etree.NewElement("bind")
			c.CreateAttr("xmlns", fsm.NSBind)
			if d.bool() {
				c.CreateElement("resource").SetText(d.pick(resourcePool))
			}
		case 2:
			c = etree.NewElement("query")
			c.CreateAttr("xmlns", fsm.NSRoster)
			if d.bool() {
				it := c.CreateElement("item")
				it.CreateAttr("jid", d.pick(jidPool))
				if d.bool() {
					it.CreateAttr("subscription", d.pick([]string{"remove", "both", "none", "to", "from", "bogus"}))
				}
				if d.bool() {
					it.CreateElement("group").SetText(d.pick([]string{"", "friends", "g"}))
				}
			}
		case 3:
			c = etree.NewElement("session")
			c.CreateAttr("xmlns", fsm.NSSession)
		case 4:
			c = etree.NewElement("ping")
			c.CreateAttr("xmlns", "urn:xmpp:ping")
		default:
			c = etree.NewElement("body")
			c.SetText(d.raw())
		}
		el.AddChild(c)
	}
	if d.bool() {
		el.CreateText(d.pick([]string{"", "=", "AGFsaWNlAHNlY3JldA==", "cj1yZXNwb25zZQ==", "not base64!", "YQ"}))
	}
}

// FuzzStep steps a session through a decoded event sequence under a
// decoded policy: Step never panics, and Session.Check holds after every
// step.
func FuzzStep(f *testing.F) {
	// The happy path of each policy, and a few detours.
	happy := []spec.Input{spec.Connect, spec.Header, spec.AuthSCRAM, spec.Success, spec.Header,
		spec.Bind, spec.Granted, spec.RosterLoaded, spec.RosterGet, spec.Available, spec.Message,
		spec.Directed, spec.Routed, spec.DirectedOff, spec.Unavailable, spec.StreamEnd}
	for p := range 3 {
		f.Add(append([]byte{byte(p)}, inputBytes(happy)...))
	}
	f.Add(append([]byte{0}, inputBytes([]spec.Input{spec.Connect, spec.Header, spec.StartTLS, spec.TLSDone,
		spec.Header, spec.AuthPlain, spec.Failure, spec.AuthUnknown, spec.AuthBadBase64, spec.Abort})...))
	f.Add([]byte{1, byte(spec.Connect), byte(spec.Header), byte(len(spec.Inputs) + sfStanza), 7, 5, 0, 0, 3, 1, 1})
	// The happy path under the limits (the high bit of the first byte).
	f.Add(append([]byte{0x80}, inputBytes(slices.Concat(happy[:len(happy)-5], []spec.Input{spec.Directed, spec.Directed, spec.Message}))...))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := &fuzzDecoder{data: data}
		p := d.policy()
		s := fsm.New(p)
		for i := 0; d.more(); i++ {
			ev := d.sessionEvent()
			var effects []fsm.Effect
			s, effects = fsm.Step(s, ev)
			if err := s.Check(); err != nil {
				t.Fatalf("step %d, %v: invariants broken: %v\n  effects:%s", i, ev, err, effectLines(effects))
			}
		}
	})
}

func inputBytes(ins []spec.Input) []byte {
	b := make([]byte, len(ins))
	for i, in := range ins {
		b[i] = byte(in)
	}
	return b
}

// The user machine's world in FuzzStepUser: the user alice@localhost with
// resources r1 and r2, contacts bob@localhost and carol@example.com (the
// inputs of simulate explore --machine user, seen from one user, plus
// inbound stanzas, roster sets and the store's answers).
var (
	ufUser      = spec.User + "@" + spec.Host
	ufResources = []string{ufUser + "/r1", ufUser + "/r2", ufUser + "/r3"}
	ufContacts  = []string{spec.Contact, "carol@example.com", spec.Contact + "/laptop", "carol@example.com/x", spec.Host}
	ufSubTypes  = []string{"subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe", "", "unavailable", "error"}
)

// The kinds of user event.
const (
	ufBound = iota
	ufUnbound
	ufAvailable
	ufUnavailable
	ufRosterGet
	ufRosterSet
	ufOutPresence
	ufOutMessage
	ufInPresence
	ufInMessage
	ufInIQ
	ufOfflineLoaded
	ufOfflineRefused
	ufAny
	ufCount
)

// userEvent decodes one user event for u, as a hub would give it (an
// unbound resource's implicit unavailable presence only when it was
// available, Initial on its first available presence), except for ufAny,
// which may be anything.
func (d *fuzzDecoder) userEvent(u fsm.User) fsm.UserEvent {
	kind := int(d.byte()) % ufCount
	res := ufResources[int(d.byte())%len(ufResources)]
	available := false
	for _, r := range u.Resources {
		if r.FullJID == res {
			available = r.Available()
		}
	}
	contact := ufContacts[int(d.byte())%len(ufContacts)]
	presence := func(typ string) *etree.Element {
		p := etree.NewElement("presence")
		if typ != "" {
			p.CreateAttr("type", typ)
		}
		return p
	}
	switch kind {
	case ufBound:
		return fsm.UserEvent{Kind: fsm.UEvBound, From: res}
	case ufUnbound:
		ev := fsm.UserEvent{Kind: fsm.UEvUnbound, From: res}
		if available {
			ev.Elem = presence("unavailable")
		}
		return ev
	case ufAvailable:
		p := presence("")
		if d.bool() {
			p.CreateElement("priority").SetText(d.pick([]string{"0", "5", "-1", "127", "-128"}))
		}
		return fsm.UserEvent{Kind: fsm.UEvBroadcast, From: res, Elem: p, Initial: !available}
	case ufUnavailable:
		return fsm.UserEvent{Kind: fsm.UEvBroadcast, From: res, Elem: presence("unavailable")}
	case ufRosterGet, ufRosterSet:
		iq := etree.NewElement("iq")
		iq.CreateAttr("id", "r1")
		q := iq.CreateElement("query")
		q.CreateAttr("xmlns", fsm.NSRoster)
		iq.CreateAttr("type", "get")
		if kind == ufRosterSet {
			iq.SelectAttr("type").Value = "set"
			for range 1 + d.byte()%2 {
				it := q.CreateElement("item")
				it.CreateAttr("jid", d.pick(append(ufContacts, jidPool...)))
				if d.bool() {
					it.CreateAttr("subscription", d.pick([]string{"remove", "both", "none"}))
				}
				if d.bool() {
					it.CreateAttr("name", d.pick([]string{"", "Bob"}))
				}
				for range d.byte() % 3 {
					it.CreateElement("group").SetText(d.pick([]string{"", "friends", "g"}))
				}
			}
		}
		return fsm.UserEvent{Kind: fsm.UEvOutbound, From: res, To: ufUser, Elem: iq}
	case ufOutPresence:
		p := presence(d.pick(ufSubTypes))
		p.CreateAttr("to", contact)
		return fsm.UserEvent{Kind: fsm.UEvOutbound, From: res, To: contact, Elem: p}
	case ufOutMessage:
		return fsm.UserEvent{Kind: fsm.UEvOutbound, From: res, To: contact, Elem: d.message(contact)}
	case ufInPresence:
		p := presence(d.pick(ufSubTypes))
		to := d.pick(append([]string{ufUser}, ufResources...))
		ev := fsm.UserEvent{Kind: fsm.UEvInbound, From: contact, To: to, Elem: p}
		if d.bool() {
			ev.Directed = []string{res}
		}
		return ev
	case ufInMessage:
		to := d.pick(append([]string{ufUser}, ufResources...))
		return fsm.UserEvent{Kind: fsm.UEvInbound, From: contact, To: to, Elem: d.message(to)}
	case ufInIQ:
		iq := d.stanza([]string{"iq"})
		to := d.pick(append([]string{ufUser}, ufResources...))
		return fsm.UserEvent{Kind: fsm.UEvInbound, From: contact, To: to, Elem: iq}
	case ufOfflineLoaded:
		ev := fsm.UserEvent{Kind: fsm.UEvOfflineLoaded, To: res}
		for i := range d.byte() % 3 {
			m := d.message(ufUser)
			m.CreateAttr("from", contact)
			ev.Offline = append(ev.Offline, fsm.StoredMessage{Elem: m, Stamp: "2026-01-01T00:00:0" + strconv.Itoa(int(i)) + "Z"})
		}
		return ev
	case ufOfflineRefused:
		return fsm.UserEvent{Kind: fsm.UEvOfflineRefused, From: contact, To: ufUser, Elem: d.message(ufUser)}
	}
	ev := fsm.UserEvent{
		Kind:    fsm.UserEventKind(d.byte()),
		From:    d.pick(append(ufResources, jidPool...)),
		To:      d.pick(append(ufResources, jidPool...)),
		Initial: d.bool(),
	}
	if d.bool() {
		ev.Elem = d.stanza(tagPool)
	}
	if d.bool() {
		ev.Directed = []string{d.pick(jidPool)}
	}
	return ev
}

// message decodes a message to to, of a pooled type, with a body.
func (d *fuzzDecoder) message(to string) *etree.Element {
	m := etree.NewElement("message")
	m.CreateAttr("to", to)
	if typ := d.pick([]string{"chat", "", "normal", "headline", "groupchat", "error"}); typ != "" {
		m.CreateAttr("type", typ)
	}
	m.CreateElement("body").SetText("hi")
	return m
}

// FuzzStepUser steps alice's user machine (existing or not, with an empty
// roster or one contact) through a decoded event sequence: StepUser never
// panics, and User.Check holds after every step.
func FuzzStepUser(f *testing.F) {
	f.Add([]byte{0, 0, ufBound, 0, 0, ufAvailable, 0, 0, 0, ufRosterGet, 0, 0, ufOutPresence, 0, 0, 0,
		ufInPresence, 0, 0, 1, 0, 0, ufInMessage, 0, 0, 0, 0, ufOutMessage, 0, 0, 0, ufUnbound, 0, 0})
	f.Add([]byte{2, 1, ufRosterSet, 1, 0, 1, 0, 1, 0, 1, 1, ufBound, 1, 0, ufAvailable, 1, 0, 1, 1,
		ufOfflineLoaded, 1, 0, 2, 0, 0, 0, 0, ufOfflineRefused, 0, 1, 0, ufInIQ, 0, 1, 0, 3, 0, 0})
	f.Add([]byte{4, 2, ufAny, 0, 0, 3, 0, 0, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		d := &fuzzDecoder{data: data}
		start := d.byte()
		p := d.policy()
		exists := start&4 == 0
		var roster fsm.Roster
		if exists && start&2 != 0 {
			roster = fsm.Roster{Version: 1, Items: []fsm.RosterItem{{JID: spec.Contact, Sub: fsm.SubBoth}}}
		}
		u := fsm.NewUser(p, ufUser, exists, roster, nil)
		if err := u.Check(); err != nil {
			t.Fatalf("the initial user breaks the invariants: %v", err)
		}
		for i := 0; d.more(); i++ {
			ev := d.userEvent(u)
			u, _ = fsm.StepUser(u, ev)
			if err := u.Check(); err != nil {
				t.Fatalf("step %d, %v from %s to %s: invariants broken: %v", i, ev.Kind, ev.From, ev.To, err)
			}
		}
	})
}
