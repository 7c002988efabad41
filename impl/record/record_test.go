package record

import (
	"reflect"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/google/go-cmp/cmp"
	"github.com/xmppfsm/xmppfsm/fsm"
)

func mustElem(t *testing.T, s string) *etree.Element {
	t.Helper()
	el, err := decodeElem(s)
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return el
}

// fillAll sets every field of the struct v points to to a non-zero value,
// so that a field the codec forgets shows up as a zero after a round trip.
func fillAll(t *testing.T, v reflect.Value) {
	t.Helper()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("x" + v.Type().Field(i).Name)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			f.SetInt(3)
		case reflect.Uint8:
			f.SetUint(1) // a kind (the second), a timer (negotiation)
		case reflect.Uint64:
			f.SetUint(7)
		case reflect.Struct:
			fillAll(t, f)
		case reflect.Slice:
			switch f.Type().Elem().Kind() {
			case reflect.Uint8:
				f.SetBytes([]byte("secret"))
			case reflect.String:
				f.Set(reflect.ValueOf([]string{"a@b"}))
			case reflect.Struct:
				one := reflect.MakeSlice(f.Type(), 1, 1)
				fillAll(t, one.Index(0))
				f.Set(one)
			default:
				t.Fatalf("field %s: no filler for %s", v.Type().Field(i).Name, f.Type())
			}
		case reflect.Pointer:
			if f.Type() == reflect.TypeFor[*etree.Element]() {
				f.Set(reflect.ValueOf(etree.NewElement("message")))
				continue
			}
			p := reflect.New(f.Type().Elem())
			fillAll(t, p.Elem())
			f.Set(p)
		default:
			t.Fatalf("field %s: no filler for %s", v.Type().Field(i).Name, f.Type())
		}
	}
}

// TestEveryEventFieldIsRecorded fails when fsm.Event gains a field the log
// does not carry: Replay would then feed the machine other events than the
// server did.
func TestEveryEventFieldIsRecorded(t *testing.T) {
	var ev fsm.Event
	fillAll(t, reflect.ValueOf(&ev).Elem())
	got, err := DecodeEvent(EncodeEvent(ev))
	if err != nil {
		t.Fatal(err)
	}
	want := ev
	want.Data = []byte("******") // the stand-in: the payload's length only
	if diff := cmp.Diff(fsm.XML(want.Elem), fsm.XML(got.Elem)); diff != "" {
		t.Errorf("element (-want +got):\n%s", diff)
	}
	want.Elem, got.Elem = nil, nil
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("event round trip (-want +got):\n%s", diff)
	}
}

// TestEveryEffectFieldIsRecorded is TestEveryEventFieldIsRecorded for
// effects: a field the log leaves out could hide a divergence.
func TestEveryEffectFieldIsRecorded(t *testing.T) {
	var e fsm.Effect
	fillAll(t, reflect.ValueOf(&e).Elem())
	enc := EncodeEffects([]fsm.Effect{e})[0]
	v := reflect.ValueOf(enc)
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).IsZero() {
			t.Errorf("Effect.%s is not recorded", v.Type().Field(i).Name)
		}
	}
	if got, want := v.NumField(), reflect.TypeFor[fsm.Effect]().NumField(); got != want {
		t.Errorf("record.Effect has %d fields, fsm.Effect %d", got, want)
	}
	if *enc.DataBytes != len("secret") {
		t.Errorf("data_bytes = %d", *enc.DataBytes)
	}
}

// TestElementRoundTrip: what a parser would normalise (carriage returns,
// tabs and line breaks in attributes) and namespaces survive the log.
func TestElementRoundTrip(t *testing.T) {
	el := etree.NewElement("message")
	el.CreateAttr("xmlns", "jabber:client")
	el.CreateAttr("to", "a@b\tc\nd\re")
	body := el.CreateElement("body")
	body.SetText("one\r\ntwo & <three> ' \"")
	x := el.CreateElement("foo:x")
	x.CreateAttr("xmlns:foo", "urn:foo")
	enc := encodeElem(el)
	got := mustElem(t, enc)
	if fsm.XML(got) != fsm.XML(el) {
		t.Errorf("round trip:\n got %s\nwant %s", fsm.XML(got), fsm.XML(el))
	}
	if got.SelectAttrValue("to", "") != "a@b\tc\nd\re" || got.FindElement("body").Text() != "one\r\ntwo & <three> ' \"" {
		t.Errorf("text or attribute changed: %q", enc)
	}
	if ns := got.FindElement("x").NamespaceURI(); ns != "urn:foo" {
		t.Errorf("namespace %q", ns)
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"plain auth", `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHdvbmRlcmxhbmQ=</auth>`,
			`<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">redacted:17</auth>`},
		{"no data", `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'/>`,
			`<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN"/>`},
		{"empty data", `<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>=</response>`,
			`<response xmlns="urn:ietf:params:xml:ns:xmpp-sasl">=</response>`},
		{"not base64", `<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>hunter2!</response>`,
			`<response xmlns="urn:ietf:params:xml:ns:xmpp-sasl">redacted:invalid</response>`},
		{"text after a child", `<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>AAAA<x>pw</x>tail</response>`,
			`<response xmlns="urn:ietf:params:xml:ns:xmpp-sasl">redacted:3<x>redacted</x>redacted</response>`},
		{"challenge", `<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>cj1hYmM=</challenge>`,
			`<challenge xmlns="urn:ietf:params:xml:ns:xmpp-sasl">redacted:5</challenge>`},
		{"success", `<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>dj1hYmM=</success>`,
			`<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl">redacted:5</success>`},
		{"other namespace", `<auth xmlns='urn:other'>AAAA</auth>`, `<auth xmlns="urn:other">AAAA</auth>`},
		{"iq:register", `<iq type='set' id='r'><query xmlns='jabber:iq:register'><username>bill</username><password>Calliope</password></query></iq>`,
			`<iq type="set" id="r"><query xmlns="jabber:iq:register"><username>bill</username><password>redacted</password></query></iq>`},
		{"iq:auth", `<iq type='set' id='a'><query xmlns='jabber:iq:auth'><password>Calliope</password></query></iq>`,
			`<iq type="set" id="a"><query xmlns="jabber:iq:auth"><password>redacted</password></query></iq>`},
		{"message", `<message><body>my password is Calliope</body></message>`, `<message><body>my password is Calliope</body></message>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := mustElem(t, tc.in)
			before := fsm.XML(in)
			var b strings.Builder
			Redact(in).WriteTo(&b, &etree.WriteSettings{})
			if b.String() != tc.want {
				t.Errorf("Redact:\n got %s\nwant %s", b.String(), tc.want)
			}
			if fsm.XML(in) != before {
				t.Errorf("Redact changed its argument: %s", fsm.XML(in))
			}
		})
	}
}

// TestRedactedEventsDecideAlike: the stand-ins DecodeEvent puts in place
// of redacted payloads make the machine take the decision the real payload
// made: the same effects, once redacted.
func TestRedactedEventsDecideAlike(t *testing.T) {
	p := fsm.DefaultPolicy
	p.Hosts = []string{"localhost"}
	p.Mechanisms = []fsm.Mechanism{{Name: "PLAIN"}, {Name: "SCRAM-SHA-256"}}
	open := []fsm.Event{
		{Kind: fsm.EvConnect, Conn: "c1", ID: "s1"},
		{Kind: fsm.EvStreamOpen, ID: "s2", Header: &fsm.StreamHeader{Space: fsm.NSStreams, Local: "stream", Default: fsm.NSClient, To: "localhost", Version: "1.0"}},
	}
	for _, auth := range []string{
		`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHdvbmRlcmxhbmQ=</auth>`,
		`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>=</auth>`,
		`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'/>`,
		`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>not base64!</auth>`,
		`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AAAA<x/></auth>`,
	} {
		events := append(append([]fsm.Event{}, open...), fsm.Event{Kind: fsm.EvElement, Elem: mustElem(t, auth)})
		real, replayed := fsm.New(&p), fsm.New(&p)
		for i, ev := range events {
			var want, got []fsm.Effect
			real, want = fsm.Step(real, ev)
			dec, err := DecodeEvent(EncodeEvent(ev))
			if err != nil {
				t.Fatal(err)
			}
			replayed, got = fsm.Step(replayed, dec)
			if diff := cmp.Diff(EncodeEffects(want), EncodeEffects(got)); diff != "" {
				t.Errorf("%s, step %d (-real +stand-in):\n%s", auth, i+1, diff)
			}
		}
	}
}

// TestString: a log's events and effects render as fsm renders them, with
// the redacted text as the log holds it and a payload as its length.
func TestString(t *testing.T) {
	auth := mustElem(t, `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHdvbmRlcmxhbmQ=</auth>`)
	ev := EncodeEvent(fsm.Event{Kind: fsm.EvElement, Elem: auth})
	if got, want := ev.String(), `element <auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>redacted:17</auth>`; got != want {
		t.Errorf("event:\n got %s\nwant %s", got, want)
	}
	effs := EncodeEffects([]fsm.Effect{
		{Kind: fsm.EffSASLStart, Mechanism: "PLAIN", Data: []byte("\x00alice\x00wonderland")},
		{Kind: fsm.EffStopTimer, Timer: fsm.TimerNegotiation},
		{Kind: fsm.EffSendHeader, Header: &fsm.OutHeader{ID: "s1", From: "localhost", Version: "1.0"}},
	})
	for i, want := range []string{
		"sasl-start mechanism=PLAIN data=<17 bytes, redacted>",
		"stop-timer timer=negotiation",
		"send-header id=s1 from=localhost version=1.0",
	} {
		if got := effs[i].String(); got != want {
			t.Errorf("effect %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// TestEveryUserFieldIsRecorded: the user machines' events, effects and
// loaded state survive the log (the elements compared as XML).
func TestEveryUserFieldIsRecorded(t *testing.T) {
	var ev fsm.UserEvent
	fillAll(t, reflect.ValueOf(&ev).Elem())
	ev.Kind = fsm.UEvStoreFailed // the kind that has a cause
	got, err := DecodeUserEvent(EncodeUserEvent(ev))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ev, got, cmp.Comparer(func(a, b *etree.Element) bool { return fsm.XML(a) == fsm.XML(b) })); diff != "" {
		t.Errorf("user event round trip (-want +got):\n%s", diff)
	}

	var e fsm.UserEffect
	fillAll(t, reflect.ValueOf(&e).Elem())
	enc := EncodeUserEffects([]fsm.UserEffect{e})[0]
	v := reflect.ValueOf(enc)
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).IsZero() {
			t.Errorf("UserEffect.%s is not recorded", v.Type().Field(i).Name)
		}
	}
	if got, want := v.NumField(), reflect.TypeFor[fsm.UserEffect]().NumField(); got != want {
		t.Errorf("record.UserEffect has %d fields, fsm.UserEffect %d", got, want)
	}
	if enc.Item.decode().JID != e.Item.JID || !cmp.Equal(enc.Item.decode(), e.Item) {
		t.Errorf("roster item %+v, want %+v", enc.Item.decode(), e.Item)
	}

	var u fsm.User
	fillAll(t, reflect.ValueOf(&u).Elem())
	p := fsm.DefaultPolicy
	back, err := DecodeUserState(&p, u.JID, EncodeUserState(u))
	if err != nil {
		t.Fatal(err)
	}
	want := fsm.NewUser(&p, u.JID, u.Exists, u.Roster, u.Pending) // what a load holds: no resources
	if diff := cmp.Diff(want, back, cmp.Comparer(func(a, b *etree.Element) bool { return fsm.XML(a) == fsm.XML(b) })); diff != "" {
		t.Errorf("loaded state round trip (-want +got):\n%s", diff)
	}
}
