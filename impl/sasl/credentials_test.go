package sasl

import (
	"bytes"
	"encoding/base64"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/xdg-go/scram"
)

// countingReader yields 0, 1, 2, … so salts are predictable.
type countingReader struct{ n byte }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

func TestNewCredentials(t *testing.T) {
	c, err := NewCredentials("pencil", 4096, &countingReader{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c.SHA1.Salt, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}) || c.SHA256.Salt[0] != 16 {
		t.Errorf("salts %x %x", c.SHA1.Salt, c.SHA256.Salt)
	}
	// The keys are the ones xdg-go/scram's client derives.
	for _, h := range []struct {
		name string
		hc   HashCredentials
		gen  scram.HashGeneratorFcn
	}{{"SHA-1", c.SHA1, scram.SHA1}, {"SHA-256", c.SHA256, scram.SHA256}} {
		cl, _ := h.gen.NewClient("user", "pencil", "")
		want, err := cl.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(h.hc.Salt), Iters: 4096})
		if err != nil {
			t.Fatal(err)
		}
		if h.hc.Iterations != 4096 || !bytes.Equal(h.hc.StoredKey, want.StoredKey) || !bytes.Equal(h.hc.ServerKey, want.ServerKey) {
			t.Errorf("%s: keys differ from xdg-go/scram's", h.name)
		}
	}
	// RFC 7677 §3's test vector: SCRAM-SHA-256 of "pencil", salt
	// W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations.
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	hc, err := derive(hashSHA256, "pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	// ServerSignature of the RFC's exchange is checked end to end by the
	// library; here the ServerKey must be the one the RFC's values imply.
	cl, _ := scram.SHA256.NewClient("user", "pencil", "")
	want, _ := cl.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: 4096})
	if !bytes.Equal(hc.ServerKey, want.ServerKey) || !bytes.Equal(hc.StoredKey, want.StoredKey) {
		t.Error("RFC 7677 vector: keys differ")
	}

	for _, bad := range []struct {
		pw    string
		iters int
	}{{"", 4096}, {"\u00AD", 4096}, {"a\u0007b", 4096}, {"pw", 0}, {"pw", -1}, {"pw", maxIterations + 1}} {
		if _, err := NewCredentials(bad.pw, bad.iters, nil); err == nil {
			t.Errorf("NewCredentials(%q, %d) succeeded", bad.pw, bad.iters)
		}
	}
	if _, err := NewCredentials("pw", 1, bytes.NewReader(make([]byte, 20))); err == nil {
		t.Error("short random source accepted")
	}
	// nil reader: crypto/rand, distinct salts.
	c1, _ := NewCredentials("pw", 1, nil)
	c2, _ := NewCredentials("pw", 1, nil)
	if bytes.Equal(c1.SHA256.Salt, c2.SHA256.Salt) || bytes.Equal(c1.SHA1.Salt, c1.SHA256.Salt) {
		t.Error("salts repeat")
	}
}

func TestVerify(t *testing.T) {
	c, err := NewCredentials("I\u00ADX", 4096, nil)
	if err != nil {
		t.Fatal(err)
	}
	for pw, want := range map[string]bool{
		"IX": true, "I\u00ADX": true, "\u2168": true, "ix": false, "I X": false, "": false, "\u00AD": false, "I\u0007X": false,
	} {
		if got := c.Verify(pw); got != want {
			t.Errorf("Verify(%q) = %v, want %v", pw, got, want)
		}
	}
	c2, _ := NewCredentials("pässwörd", 4096, nil)
	if !c2.Verify("pa\u0308sswo\u0308rd") || c2.Verify("passwörd") {
		t.Error("non-ASCII password")
	}
	// Only SHA-1, or none.
	c2.SHA256 = HashCredentials{}
	if !c2.Verify("pässwörd") {
		t.Error("SHA-1 only")
	}
	if (Credentials{}).Verify("pässwörd") {
		t.Error("zero credentials verified")
	}
}

func TestCredentialsEncoding(t *testing.T) {
	c, err := NewCredentials("pw", 10000, nil)
	if err != nil {
		t.Fatal(err)
	}
	partial := c
	partial.SHA1 = HashCredentials{}
	for _, in := range []Credentials{c, partial, {}} {
		data, err := in.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var out Credentials
		if err := out.UnmarshalBinary(data); err != nil {
			t.Fatal(err)
		}
		if !equalCreds(in, out) {
			t.Errorf("round trip changed the credentials")
		}
		// gob uses the binary encoding.
		var buf bytes.Buffer
		var out2 Credentials
		if err := gob.NewEncoder(&buf).Encode(in); err != nil {
			t.Fatal(err)
		}
		if err := gob.NewDecoder(&buf).Decode(&out2); err != nil || !equalCreds(in, out2) {
			t.Errorf("gob round trip: %v", err)
		}
	}
	// The layout is stable: version 1, SHA-1 record then SHA-256 record.
	fixed := Credentials{
		SHA1:   HashCredentials{Salt: []byte{1, 2}, Iterations: 4096, StoredKey: bytes.Repeat([]byte{0xa}, 20), ServerKey: bytes.Repeat([]byte{0xb}, 20)},
		SHA256: HashCredentials{Salt: []byte{3}, Iterations: 1, StoredKey: bytes.Repeat([]byte{0xc}, 32), ServerKey: bytes.Repeat([]byte{0xd}, 32)},
	}
	data, _ := fixed.MarshalBinary()
	want := "0102" + "01" + "00001000" + "0002" + "0102" + strings.Repeat("0a", 20) + strings.Repeat("0b", 20) +
		"02" + "00000001" + "0001" + "03" + strings.Repeat("0c", 32) + strings.Repeat("0d", 32)
	if hex.EncodeToString(data) != want {
		t.Errorf("encoding\n%x\nwant\n%s", data, want)
	}
	// The encoding keeps no reference to the caller's slices.
	var dec Credentials
	_ = dec.UnmarshalBinary(data)
	data[10] ^= 0xff
	if dec.SHA1.Salt[1] != 2 {
		t.Error("decoded credentials alias the input")
	}

	good, _ := fixed.MarshalBinary()
	for name, bad := range map[string][]byte{
		"empty":          {},
		"version":        append([]byte{2}, good[1:]...),
		"count":          append([]byte{1, 3}, good[2:]...),
		"truncated":      good[:len(good)-1],
		"trailing":       append(append([]byte{}, good...), 0),
		"repeated hash":  append([]byte{1, 2}, append(good[2:2+1+4+2+2+40], good[2:2+1+4+2+2+40]...)...),
		"unknown hash":   append([]byte{1, 1, 3}, good[3:2+1+4+2+2+40]...),
		"zero iters":     append([]byte{1, 1, 1, 0, 0, 0, 0}, good[7:2+1+4+2+2+40]...),
		"empty salt":     append([]byte{1, 1, 1, 0, 0, 0x10, 0, 0, 0}, bytes.Repeat([]byte{1}, 40)...),
		"count too low":  append([]byte{1, 1}, good[2:]...),
		"count too high": append([]byte{1, 2}, good[2:2+1+4+2+2+40]...),
	} {
		var out Credentials
		if err := out.UnmarshalBinary(bad); !errors.Is(err, ErrEncoding) {
			t.Errorf("%s: err %v, want ErrEncoding", name, err)
		}
	}
	incomplete := c
	incomplete.SHA256.ServerKey = nil
	if _, err := incomplete.MarshalBinary(); err == nil {
		t.Error("incomplete credentials encoded")
	}
}

func equalCreds(a, b Credentials) bool {
	eq := func(x, y HashCredentials) bool {
		return x.Iterations == y.Iterations && bytes.Equal(x.Salt, y.Salt) &&
			bytes.Equal(x.StoredKey, y.StoredKey) && bytes.Equal(x.ServerKey, y.ServerKey)
	}
	return eq(a.SHA1, b.SHA1) && eq(a.SHA256, b.SHA256)
}

// No way of printing or logging credentials shows a salt or a key.
func TestCredentialsRedacted(t *testing.T) {
	c, err := NewCredentials("pw", 4096, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	fmt.Fprintf(&out, "%v %+v %#v %s %x %X %q %d", c, c, c, c, c, c, c, c)
	fmt.Fprintf(&out, "%v %+v %#v %s %x %q", &c, &c, &c, &c, &c, &c)
	fmt.Fprintf(&out, "%v %+v %#v %s %x %q", c.SHA256, c.SHA1, c.SHA256, c.SHA1, c.SHA256, c.SHA1)
	fmt.Fprintf(&out, "%v %+v %#v", &c.SHA256, []Credentials{c}, map[string]Credentials{"juliet": c})
	fmt.Fprintf(&out, "%v %+v %#v", struct{ C Credentials }{c}, struct{ C *Credentials }{&c}, struct{ H HashCredentials }{c.SHA1})
	fmt.Fprint(&out, c, c.SHA1)
	fmt.Fprintln(&out, c, &c)
	out.WriteString(c.String() + c.GoString() + c.SHA1.String() + c.SHA256.GoString())
	js, _ := json.Marshal(map[string]any{"c": c, "p": &c, "h": c.SHA256})
	out.Write(js)
	for _, h := range []slog.Handler{slog.NewTextHandler(&out, nil), slog.NewJSONHandler(&out, nil)} {
		l := slog.New(h)
		l.Info("creds", "c", c, "p", &c, "h", c.SHA1, slog.Any("any", c))
	}
	got := out.String()
	for _, secret := range [][]byte{c.SHA1.Salt, c.SHA1.StoredKey, c.SHA1.ServerKey, c.SHA256.Salt, c.SHA256.StoredKey, c.SHA256.ServerKey} {
		for _, form := range []string{
			hex.EncodeToString(secret), strings.ToUpper(hex.EncodeToString(secret)),
			base64.StdEncoding.EncodeToString(secret), base64.RawStdEncoding.EncodeToString(secret),
			base64.URLEncoding.EncodeToString(secret), base64.RawURLEncoding.EncodeToString(secret),
			fmt.Sprint(secret), fmt.Sprintf("%q", secret), fmt.Sprintf("%#v", secret), string(secret),
		} {
			if strings.Contains(got, form) {
				t.Fatalf("output contains key material %q:\n%s", form, got)
			}
		}
		// No run of 8 hex digits of the secret either.
		h := hex.EncodeToString(secret)
		for i := 0; i+8 <= len(h); i += 2 {
			if strings.Contains(got, h[i:i+8]) {
				t.Fatalf("output contains %q of a key:\n%s", h[i:i+8], got)
			}
		}
	}
	if !strings.Contains(got, "4096 iterations") || !strings.Contains(got, "redacted") {
		t.Errorf("output says nothing useful:\n%s", got)
	}
	t.Logf("%v | %#v", c, c)

	cb := fakeCB
	s := fmt.Sprintf("%v %+v %#v %x %s", cb, &cb, cb, cb, cb)
	if strings.Contains(s, "cbcb") || strings.Contains(s, "203") || !strings.Contains(s, "tls-exporter") {
		t.Errorf("channel binding printed as %q", s)
	}
}

func TestLookupBytes(t *testing.T) {
	c, _ := NewCredentials("pw", 4096, nil)
	enc, _ := c.MarshalBinary()
	store := map[string][]byte{"juliet": enc, "broken": {9}}
	var asked []string
	lookup := LookupBytes(func(local string) ([]byte, bool, error) {
		asked = append(asked, local)
		if local == "down" {
			return nil, false, errStore
		}
		d, ok := store[local]
		return d, ok, nil
	})
	if got, ok, err := lookup("Juliet"); err != nil || !ok || !equalCreds(got, c) {
		t.Errorf("Juliet: %v %v", ok, err)
	}
	if _, ok, err := lookup("romeo"); ok || err != nil {
		t.Errorf("romeo: %v %v", ok, err)
	}
	if _, ok, err := lookup("a@b"); ok || err != nil {
		t.Errorf("a@b: %v %v", ok, err)
	}
	if _, _, err := lookup("down"); !errors.Is(err, errStore) {
		t.Errorf("down: %v", err)
	}
	if _, _, err := lookup("broken"); !errors.Is(err, ErrEncoding) {
		t.Errorf("broken: %v", err)
	}
	if strings.Join(asked, " ") != "juliet romeo down broken" {
		t.Errorf("asked %q", asked)
	}
	// End to end: SCRAM and PLAIN through a byte store.
	s, err := NewServer(lookup, Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantSuccess(t, run(t, s, ScramSHA256, client(t, ScramSHA256, "Juliet", "pw", "", nil, false), ChannelBinding{}, false, nil), "Juliet")
	_, ev := s.Start(Plain, plainMsg("", "juliet", "pw"), ChannelBinding{})
	if ev.Username != "juliet" {
		t.Errorf("PLAIN: %+v", ev)
	}
	_, ev = s.Start(Plain, plainMsg("", "broken", "pw"), ChannelBinding{})
	wantFailure(t, ev, "temporary-auth-failure")
}

func TestNewServerOptions(t *testing.T) {
	if _, err := NewServer(nil, Options{}); err == nil {
		t.Error("nil lookup accepted")
	}
	a := newAccounts(t)
	for _, o := range []Options{{Iterations: -1}, {Iterations: maxIterations + 1}, {Domains: []string{"a b"}}} {
		if _, err := NewServer(a.lookup, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	secret := []byte("s")
	s, _ := NewServer(a.lookup, Options{Secret: secret})
	secret[0] = 't'
	if s.secret[0] != 's' || s.opts.Secret != nil {
		t.Error("secret not copied")
	}
}
