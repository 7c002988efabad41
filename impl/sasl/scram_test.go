package sasl

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/xdg-go/scram"
	"github.com/xmppfsm/xmppfsm/fsm"
)

var allSCRAM = []string{ScramSHA256Plus, ScramSHA1Plus, ScramSHA256, ScramSHA1}

func isPlus(mech string) bool { return strings.HasSuffix(mech, "-PLUS") }

// clientFor returns the channel binding a client of mech uses: fakeCB for
// -PLUS, none otherwise.
func clientFor(_ testing.TB, mech, _, _ string) (cbp *ChannelBinding) {
	if isPlus(mech) {
		cb := fakeCB
		return &cb
	}
	return nil
}

func TestSCRAMSuccess(t *testing.T) {
	a := newAccounts(t, "juliet", "r0m30myr0m30")
	s := newServer(t, a, Options{TLS: true})
	for _, mech := range allSCRAM {
		for _, noInitial := range []bool{false, true} {
			cc := client(t, mech, "juliet", "r0m30myr0m30", "", clientFor(t, mech, "", ""), false)
			tr := run(t, s, mech, cc, fakeCB, noInitial, nil)
			wantSuccess(t, tr, "juliet")
			if !tr.clientOK {
				t.Errorf("%s: the client did not accept the server-final-message %q", mech, tr.last().Data)
			}
			if !strings.HasPrefix(string(tr.last().Data), "v=") {
				t.Errorf("%s: success data %q, want v=…", mech, tr.last().Data)
			}
			if isPlus(mech) && !strings.HasPrefix(tr.first, "p=tls-exporter,") {
				t.Errorf("%s: client-first %q is not bound", mech, tr.first)
			}
		}
	}
}

// Without TLS (no channel binding on the connection) the plain variants
// work, with gs2 flag n or y.
func TestSCRAMWithoutTLS(t *testing.T) {
	a := newAccounts(t, "juliet", "pw")
	for _, opts := range []Options{{}, {TLS: true}} {
		s := newServer(t, a, opts)
		for _, mech := range []string{ScramSHA256, ScramSHA1} {
			for _, y := range []bool{false, true} {
				tr := run(t, s, mech, client(t, mech, "juliet", "pw", "", nil, y), ChannelBinding{}, false, nil)
				wantSuccess(t, tr, "juliet")
			}
		}
	}
}

func TestSCRAMWrongPassword(t *testing.T) {
	a := newAccounts(t, "juliet", "r0m30myr0m30")
	s := newServer(t, a, Options{TLS: true})
	for _, mech := range allSCRAM {
		tr := run(t, s, mech, client(t, mech, "juliet", "wrong", "", clientFor(t, mech, "", ""), false), fakeCB, false, nil)
		if len(tr.events) != 2 || tr.events[0].Kind != fsm.EvSASLChallenge {
			t.Fatalf("%s: events %v, want challenge then failure", mech, tr.events)
		}
		wantFailure(t, tr.last(), "not-authorized")
	}
}

// An unknown user gets the same exchange as a wrong password: a challenge
// of the same shape (salt length, iteration count), then not-authorized;
// its salt is stable across attempts.
func TestSCRAMUnknownUser(t *testing.T) {
	a := newAccounts(t, "juliet", "r0m30myr0m30")
	s := newServer(t, a, Options{TLS: true})
	for _, mech := range allSCRAM {
		cb := clientFor(t, mech, "", "")
		known := run(t, s, mech, client(t, mech, "juliet", "wrong", "", cb, false), fakeCB, false, nil)
		unknown := run(t, s, mech, client(t, mech, "romeo", "wrong", "", cb, false), fakeCB, false, nil)
		again := run(t, s, mech, client(t, mech, "romeo", "other", "", cb, false), fakeCB, false, nil)
		other := run(t, s, mech, client(t, mech, "benvolio", "wrong", "", cb, false), fakeCB, false, nil)
		if len(known.events) != len(unknown.events) {
			t.Fatalf("%s: %d events for a known user, %d for an unknown one", mech, len(known.events), len(unknown.events))
		}
		wantFailure(t, unknown.last(), "not-authorized")
		if unknown.last().Text != known.last().Text {
			t.Errorf("%s: texts differ: %q vs %q", mech, unknown.last().Text, known.last().Text)
		}
		ks, ki := saltIters(t, known.events[0].Data)
		us, ui := saltIters(t, unknown.events[0].Data)
		as, _ := saltIters(t, again.events[0].Data)
		os, _ := saltIters(t, other.events[0].Data)
		if len(ks) != len(us) || ki != ui {
			t.Errorf("%s: challenge shape differs: salt %d/%d octets, %s/%s iterations", mech, len(ks), len(us), ki, ui)
		}
		if us != as {
			t.Errorf("%s: an unknown user's salt changed between attempts", mech)
		}
		if us == os {
			t.Errorf("%s: two unknown users share a salt", mech)
		}
	}
	// A server with the same secret gives the same fake salt.
	secret := []byte("0123456789abcdef0123456789abcdef")
	s1 := newServer(t, a, Options{Secret: secret})
	s2 := newServer(t, a, Options{Secret: secret})
	t1 := run(t, s1, ScramSHA256, client(t, ScramSHA256, "romeo", "x", "", nil, false), ChannelBinding{}, false, nil)
	t2 := run(t, s2, ScramSHA256, client(t, ScramSHA256, "romeo", "x", "", nil, false), ChannelBinding{}, false, nil)
	if a, b := string(t1.events[0].Data), string(t2.events[0].Data); a[strings.Index(a, ",s="):] != b[strings.Index(b, ",s="):] {
		t.Errorf("fake salts differ under one secret: %q %q", a, b)
	}
}

// saltIters returns the salt and iteration count of a server-first-message.
func saltIters(t testing.TB, s1 []byte) (string, string) {
	t.Helper()
	f := strings.Split(string(s1), ",")
	if len(f) != 3 || !strings.HasPrefix(f[1], "s=") || !strings.HasPrefix(f[2], "i=") {
		t.Fatalf("bad server-first-message %q", s1)
	}
	salt, err := base64.StdEncoding.DecodeString(f[1][2:])
	if err != nil {
		t.Fatal(err)
	}
	return string(salt), f[2][2:]
}

func TestSCRAMChannelBinding(t *testing.T) {
	a := newAccounts(t, "juliet", "pw")
	s := newServer(t, a, Options{TLS: true})
	for _, mech := range []string{ScramSHA256Plus, ScramSHA1Plus} {
		// The client is bound to another channel (a man in the middle).
		other := ChannelBinding{Type: ChannelBindingTLSExporter, Data: []byte(strings.Repeat("x", 32))}
		tr := run(t, s, mech, client(t, mech, "juliet", "pw", "", &other, false), fakeCB, false, nil)
		wantFailure(t, tr.last(), "not-authorized")
		if len(tr.events) != 2 {
			t.Errorf("%s: wrong binding failed after %d events, want 2", mech, len(tr.events))
		}

		// tls-unique is refused (undefined under TLS 1.3).
		unique := ChannelBinding{Type: "tls-unique", Data: fakeCB.Data}
		tr = run(t, s, mech, client(t, mech, "juliet", "pw", "", &unique, false), fakeCB, false, nil)
		wantFailure(t, tr.last(), "malformed-request")
		if len(tr.events) != 1 {
			t.Errorf("%s: tls-unique failed after %d events, want 1", mech, len(tr.events))
		}
		// A -PLUS mechanism without channel binding on the connection.
		_, ev := s.Start(mech, nil, ChannelBinding{})
		wantFailure(t, ev, "invalid-mechanism")
		_, ev = s.Start(mech, nil, ChannelBinding{Type: "tls-unique", Data: fakeCB.Data})
		wantFailure(t, ev, "invalid-mechanism")
		_, ev = newServer(t, a, Options{}).Start(mech, nil, fakeCB)
		wantFailure(t, ev, "invalid-mechanism")
		// -PLUS with gs2 flag n or y.
		for _, y := range []bool{false, true} {
			tr = run(t, s, mech, client(t, mech, "juliet", "pw", "", nil, y), fakeCB, false, nil)
			wantFailure(t, tr.last(), "malformed-request")
		}
	}
	// p with a mechanism that is not -PLUS.
	for _, mech := range []string{ScramSHA256, ScramSHA1} {
		cb := fakeCB
		tr := run(t, s, mech, client(t, mech, "juliet", "pw", "", &cb, false), fakeCB, false, nil)
		wantFailure(t, tr.last(), "malformed-request")
	}
}

// RFC 5802 §6: a client that supports channel binding but saw no -PLUS
// mechanism says "y"; if the server did offer one, a man in the middle
// removed it, and the server must fail.
func TestSCRAMDowngrade(t *testing.T) {
	a := newAccounts(t, "juliet", "pw")
	s := newServer(t, a, Options{TLS: true})
	for _, mech := range []string{ScramSHA256, ScramSHA1} {
		tr := run(t, s, mech, client(t, mech, "juliet", "pw", "", nil, true), fakeCB, false, nil)
		wantFailure(t, tr.last(), "not-authorized")
		if len(tr.events) != 1 {
			t.Errorf("%s: downgrade failed after %d events, want 1", mech, len(tr.events))
		}
		// "n" (the client can't bind) is fine.
		wantSuccess(t, run(t, s, mech, client(t, mech, "juliet", "pw", "", nil, false), fakeCB, false, nil), "juliet")
		// Rewriting "y" into "n" is caught by the c= check in the final message.
		tr = run(t, s, mech, client(t, mech, "juliet", "pw", "", nil, true), fakeCB, false, func(i int, m string) string {
			if i == 0 {
				return "n" + m[1:]
			}
			return m
		})
		wantFailure(t, tr.last(), "not-authorized")
	}
	// Without -PLUS on offer (no TLS configured, or channel binding
	// turned off on a connection that has it) "y" is accepted.
	for _, opts := range []Options{{}, {TLS: true, NoChannelBinding: true}} {
		s = newServer(t, a, opts)
		for _, mech := range []string{ScramSHA256, ScramSHA1} {
			wantSuccess(t, run(t, s, mech, client(t, mech, "juliet", "pw", "", nil, true), fakeCB, false, nil), "juliet")
		}
	}
}

// With NoChannelBinding a -PLUS mechanism is not offered, so a client
// that starts one anyway gets invalid-mechanism, even on a connection
// that could bind.
func TestSCRAMNoChannelBinding(t *testing.T) {
	a := newAccounts(t, "juliet", "pw")
	s := newServer(t, a, Options{TLS: true, NoChannelBinding: true})
	for _, mech := range []string{ScramSHA256Plus, ScramSHA1Plus} {
		cb := fakeCB
		c1, err := client(t, mech, "juliet", "pw", "", &cb, false).Step("")
		if err != nil {
			t.Fatal(err)
		}
		x, ev := s.Start(mech, []byte(c1), fakeCB)
		wantFailure(t, ev, "invalid-mechanism")
		if ev.Text != "channel binding is off" {
			t.Errorf("%s: failure text %q, want the reason", mech, ev.Text)
		}
		wantFailure(t, x.Step([]byte(c1)), "malformed-request") // the exchange is over
	}
}

func TestSCRAMTampered(t *testing.T) {
	a := newAccounts(t, "juliet", "pw")
	s := newServer(t, a, Options{TLS: true})
	cases := map[string]func(string) string{
		"proof": func(m string) string {
			i := strings.LastIndex(m, ",p=")
			p, _ := base64.StdEncoding.DecodeString(m[i+3:])
			p[0] ^= 1
			return m[:i+3] + base64.StdEncoding.EncodeToString(p)
		},
		"nonce": func(m string) string {
			i := strings.Index(m, ",r=") + 3
			c := "X"
			if m[i] == 'X' {
				c = "Y"
			}
			return m[:i] + c + m[i+1:]
		},
		"gs2 header": func(m string) string {
			i := strings.Index(m, ",")
			return "c=" + base64.StdEncoding.EncodeToString([]byte("n,a=juliet,")) + m[i:]
		},
		"extension added": func(m string) string {
			i := strings.LastIndex(m, ",p=")
			return m[:i] + ",x=1" + m[i:]
		},
	}
	for name, f := range cases {
		for _, mech := range allSCRAM {
			tr := run(t, s, mech, client(t, mech, "juliet", "pw", "", clientFor(t, mech, "", ""), false), fakeCB, false, func(i int, m string) string {
				if i == 1 {
					return f(m)
				}
				return m
			})
			if len(tr.events) != 2 {
				t.Fatalf("%s %s: %d events", name, mech, len(tr.events))
			}
			wantFailure(t, tr.last(), "not-authorized")
		}
	}
}

// A client-final-message of an earlier exchange, replayed in a new one
// with the same client-first-message, carries the old server nonce.
func TestSCRAMReplay(t *testing.T) {
	a := newAccounts(t, "juliet", "pw")
	s := newServer(t, a, Options{TLS: true})
	for _, mech := range allSCRAM {
		tr := run(t, s, mech, client(t, mech, "juliet", "pw", "", clientFor(t, mech, "", ""), false), fakeCB, false, nil)
		wantSuccess(t, tr, "juliet")
		x, ev := s.Start(mech, []byte(tr.first), fakeCB)
		if ev.Kind != fsm.EvSASLChallenge {
			t.Fatalf("%s: %+v", mech, ev)
		}
		if string(ev.Data) == string(tr.events[0].Data) {
			t.Fatalf("%s: the server repeated its nonce", mech)
		}
		wantFailure(t, x.Step([]byte(tr.final)), "not-authorized")
		// The same message twice in one exchange: the exchange is over.
		x, _ = s.Start(mech, []byte(tr.first), fakeCB)
		x.Step([]byte(tr.final))
		wantFailure(t, x.Step([]byte(tr.final)), "malformed-request")
	}
}

func TestSCRAMMalformed(t *testing.T) {
	a := newAccounts(t, "juliet", "pw")
	s := newServer(t, a, Options{TLS: true})
	firsts := []string{
		"",
		"n,,",
		"n,,n=juliet",
		"n,,r=abc",
		"n,,n=juliet,",
		"n,,n=juliet,r=",
		"n,,n=,r=abc",
		"n,,n=jul=iet,r=abc",
		"n,,n=jul=2Xiet,r=abc",
		"x,,n=juliet,r=abc",
		"p,,n=juliet,r=abc",
		"p=,,n=juliet,r=abc",
		"p=tls exporter,,n=juliet,r=abc",
		"n,juliet,n=juliet,r=abc",
		"n,a=,n=juliet,r=abc",
		"n,a=jul=iet,n=juliet,r=abc",
		"n,,m=ext,n=juliet,r=abc",
		"n,,n=juliet,r=ab c",
		"n,,n=juliet,r=abc,1=2",
		"n,,n=juliet,r=abc,xx=2",
		"n,,n=juliet,r=abc,x=",
		"n,,n=ju\x00liet,r=abc",
		"n,,n=ju\xffliet,r=abc",
		"y,,N=juliet,r=abc",
		"n,,n=juliet,r=abc" + strings.Repeat("a", maxSCRAMMessage),
	}
	for _, mech := range []string{ScramSHA256, ScramSHA1} {
		for _, c1 := range firsts {
			x, ev := s.Start(mech, []byte(c1), ChannelBinding{})
			wantFailure(t, ev, "malformed-request")
			wantFailure(t, x.Step([]byte("n,,n=juliet,r=abc")), "malformed-request")
		}
	}
	// Accepted extensions after the nonce.
	_, ev := s.Start(ScramSHA256, []byte("n,,n=juliet,r=abc,x=1,y=2"), ChannelBinding{})
	if ev.Kind != fsm.EvSASLChallenge {
		t.Fatalf("extensions: %+v", ev)
	}

	finals := func(gs2, nonce, proof string) []string {
		c := "c=" + base64.StdEncoding.EncodeToString([]byte(gs2))
		return []string{
			"",
			c,
			c + ",r=" + nonce,
			c + ",p=" + proof,
			"r=" + nonce + "," + c + ",p=" + proof,
			"c=bi,,,r=" + nonce + ",p=" + proof,
			"c=" + ",r=" + nonce + ",p=" + proof,
			"c=biws\n,r=" + nonce + ",p=" + proof,
			c + ",r=,p=" + proof,
			c + ",r=" + nonce + ",p=",
			c + ",r=" + nonce + ",p=" + proof[:len(proof)-4],
			c + ",r=" + nonce + ",p=" + strings.TrimRight(proof, "="),
			c + ",r=" + nonce + ",p=" + proof + "AAAA",
			c + ",r=" + nonce + ",p=" + "!" + proof[1:],
			c + ",r=" + nonce + ",1=x,p=" + proof,
			c + ",r=" + nonce + ",p=" + proof + ",x=1",
			c + ",r=" + nonce + ",P=" + proof,
			c + ",r=" + nonce + ",p=" + proof + "\x00",
		}
	}
	for _, mech := range []string{ScramSHA256, ScramSHA1} {
		size := 32
		if mech == ScramSHA1 {
			size = 20
		}
		proof := base64.StdEncoding.EncodeToString(make([]byte, size))
		for i := range finals("n,,", "x", proof) {
			x, ev := s.Start(mech, []byte("n,,n=juliet,r=abc"), ChannelBinding{})
			if ev.Kind != fsm.EvSASLChallenge {
				t.Fatal(ev)
			}
			nonce := strings.TrimPrefix(strings.Split(string(ev.Data), ",")[0], "r=")
			c2 := finals("n,,", nonce, proof)[i]
			wantFailure(t, x.Step([]byte(c2)), "malformed-request")
		}
	}
}

func TestSCRAMAuthzid(t *testing.T) {
	a := newAccounts(t, "juliet", "pw")
	s := newServer(t, a, Options{TLS: true, Domains: []string{"Capulet.example"}})
	for _, mech := range allSCRAM {
		cb := clientFor(t, mech, "", "")
		for _, authz := range []string{"juliet", "juliet@capulet.example", "Juliet@CAPULET.example"} {
			wantSuccess(t, run(t, s, mech, client(t, mech, "juliet", "pw", authz, cb, false), fakeCB, false, nil), "juliet")
		}
		for _, authz := range []string{"romeo", "romeo@capulet.example", "juliet@montague.example", "juliet@capulet.example/balcony", "capulet.example"} {
			tr := run(t, s, mech, client(t, mech, "juliet", "pw", authz, cb, false), fakeCB, false, nil)
			wantFailure(t, tr.last(), "invalid-authzid")
			if len(tr.events) != 1 {
				t.Errorf("%s: authzid %q failed after %d events", mech, authz, len(tr.events))
			}
		}
	}
	// Without Domains a JID authzid is refused.
	s = newServer(t, a, Options{})
	tr := run(t, s, ScramSHA256, client(t, ScramSHA256, "juliet", "pw", "juliet@capulet.example", nil, false), ChannelBinding{}, false, nil)
	wantFailure(t, tr.last(), "invalid-authzid")
}

func TestSCRAMLookupError(t *testing.T) {
	a := newAccounts(t, "juliet", "pw")
	a.err = errStore
	s := newServer(t, a, Options{TLS: true})
	for _, mech := range allSCRAM {
		tr := run(t, s, mech, client(t, mech, "juliet", "pw", "", clientFor(t, mech, "", ""), false), fakeCB, false, nil)
		wantFailure(t, tr.last(), "temporary-auth-failure")
	}
}

// Usernames with "," and "=" travel as =2C and =3D; SASLprep applies to
// usernames and passwords on both sides.
func TestSCRAMPreparation(t *testing.T) {
	a := newAccounts(t, "a,b=c", "pw", "juliet", "IX", "émile", "pässwörd")
	s := newServer(t, a, Options{})
	wantSuccess(t, run(t, s, ScramSHA256, client(t, ScramSHA256, "a,b=c", "pw", "", nil, false), ChannelBinding{}, false, nil), "a,b=c")
	for _, pw := range []string{"IX", "I\u00ADX", "\u2168"} { // soft hyphen mapped to nothing; Roman numeral nine NFKC-normalised
		wantSuccess(t, run(t, s, ScramSHA1, client(t, ScramSHA1, "juliet", pw, "", nil, false), ChannelBinding{}, false, nil), "juliet")
	}
	// "ju\u00ADliet" is "juliet"; "e\u0301mile" is NFKC "émile".
	wantSuccess(t, run(t, s, ScramSHA256, client(t, ScramSHA256, "e\u0301mile", "pa\u0308sswo\u0308rd", "", nil, false), ChannelBinding{}, false, nil), "émile")
	wantSuccess(t, run(t, s, ScramSHA256, client(t, ScramSHA256, "ju\u00ADliet", "IX", "", nil, false), ChannelBinding{}, false, nil), "juliet")
	// A username SASLprep prohibits (sent unprepared by the client).
	tr := run(t, s, ScramSHA256, unprepped(t, ScramSHA256, "ju\u0007liet", "IX"), ChannelBinding{}, false, nil)
	wantFailure(t, tr.last(), "not-authorized")
}

func TestStartUnknownMechanism(t *testing.T) {
	s := newServer(t, newAccounts(t), Options{})
	for _, mech := range []string{"", "DIGEST-MD5", "SCRAM-SHA-512", "scram-sha-256"} {
		x, ev := s.Start(mech, []byte("x"), ChannelBinding{})
		wantFailure(t, ev, "invalid-mechanism")
		wantFailure(t, x.Step(nil), "malformed-request")
	}
}

func TestMechanisms(t *testing.T) {
	names := func(ms []fsm.Mechanism) string {
		var b strings.Builder
		for _, m := range ms {
			b.WriteString(m.Name)
			if m.NeedsTLS {
				b.WriteString("(tls)")
			}
			b.WriteString(" ")
		}
		return b.String()
	}
	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{}, "SCRAM-SHA-256 SCRAM-SHA-1 PLAIN(tls) "},
		{Options{InsecurePlain: true}, "SCRAM-SHA-256 SCRAM-SHA-1 PLAIN "},
		{Options{TLS: true}, "SCRAM-SHA-256-PLUS(tls) SCRAM-SHA-1-PLUS(tls) SCRAM-SHA-256 SCRAM-SHA-1 PLAIN(tls) "},
		{Options{TLS: true, InsecurePlain: true}, "SCRAM-SHA-256-PLUS(tls) SCRAM-SHA-1-PLUS(tls) SCRAM-SHA-256 SCRAM-SHA-1 PLAIN "},
		{Options{TLS: true, NoChannelBinding: true}, "SCRAM-SHA-256 SCRAM-SHA-1 PLAIN(tls) "},
	} {
		if got := names(Mechanisms(c.opts)); got != c.want {
			t.Errorf("Mechanisms(%+v) = %q, want %q", c.opts, got, c.want)
		}
	}
}

// unprepped is a client that sends its username and password as they are.
func unprepped(t testing.TB, mech, user, password string) *scram.ClientConversation {
	t.Helper()
	c, err := hashOf(mech).NewClientUnprepped(user, password, "")
	if err != nil {
		t.Fatal(err)
	}
	return c.NewConversation()
}

// One Server runs many exchanges at once (run with -race).
func TestServerConcurrent(t *testing.T) {
	a := newAccounts(t, "juliet", "pw")
	s := newServer(t, a, Options{TLS: true})
	errs := make(chan string, 8)
	for i := range 8 {
		go func() {
			mech := allSCRAM[i%len(allSCRAM)]
			pw := "pw"
			if i%2 == 1 {
				pw = "wrong"
			}
			tr := run(t, s, mech, client(t, mech, "juliet", pw, "", clientFor(t, mech, "", ""), false), fakeCB, false, nil)
			ok := tr.last().Kind == fsm.EvSASLSuccess
			if ok != (pw == "pw") {
				errs <- mech + " " + pw
				return
			}
			errs <- ""
		}()
	}
	for range 8 {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
}
