package jid_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/xmppfsm/xmppfsm/jid"
)

var (
	long1023 = strings.Repeat("a", 1023)
	long1024 = strings.Repeat("a", 1024)
	label63  = strings.Repeat("b", 63)
	label64  = strings.Repeat("b", 64)
	// domain1023 is 16 labels of 63 octets, 1023 octets in all.
	domain1023 = strings.Repeat(label63+".", 15) + label63
	domain1025 = strings.Repeat(label63+".", 16) + "d"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		in                      string
		local, domain, resource string
	}{
		// RFC 7622 §3.5, Table 1.
		{"juliet@example.com", "juliet", "example.com", ""},
		{"juliet@example.com/foo", "juliet", "example.com", "foo"},
		{"juliet@example.com/foo bar", "juliet", "example.com", "foo bar"},
		{"juliet@example.com/foo@bar", "juliet", "example.com", "foo@bar"},
		{`foo\20bar@example.com`, `foo\20bar`, "example.com", ""},
		{"fussball@example.com", "fussball", "example.com", ""},
		{"fußball@example.com", "fußball", "example.com", ""},
		{"π@example.com", "π", "example.com", ""},
		{"Σ@example.com/foo", "σ", "example.com", "foo"},
		{"σ@example.com/foo", "σ", "example.com", "foo"},
		{"ς@example.com/foo", "ς", "example.com", "foo"},
		{"king@example.com/♚", "king", "example.com", "♚"},
		{"example.com", "", "example.com", ""},
		{"example.com/foobar", "", "example.com", "foobar"},
		{"a.example.com/b@example.net", "", "a.example.com", "b@example.net"},
		// RFC 7622 Table 2 lists a leading space in the resourcepart as
		// invalid, but OpaqueString allows it (erratum 4560).
		{"juliet@example.com/ foo", "juliet", "example.com", " foo"},

		// Splitting: the first '/' ends the domainpart, and only an '@'
		// before it separates a localpart.
		{"a@b/c/d@e", "a", "b", "c/d@e"},
		{"a/b@c", "", "a", "b@c"},

		// Mapping of case, width and spaces; normalisation.
		{"Juliet@Example.COM/Balcony", "juliet", "example.com", "Balcony"},
		{"ＪＵＬＩＥＴ@ｅｘａｍｐｌｅ.com", "juliet", "example.com", ""},
		{"x@example.com/a\u00a0b\u3000c", "x", "example.com", "a b c"},
		{"e\u0301@example.com/e\u0301", "\u00e9", "example.com", "\u00e9"},

		// Domainparts.
		{"example.com.", "", "example.com", ""},
		{"juliet@example.com./r", "juliet", "example.com", "r"},
		{"x@例え。テスト", "x", "例え.テスト", ""},
		{"x@Müller.example", "x", "müller.example", ""},
		{"x@xn--mller-kva.example", "x", "müller.example", ""},
		{"x@a\u00adb.example", "x", "ab.example", ""}, // soft hyphen is ignored
		{"localhost", "", "localhost", ""},
		{"192.0.2.1/r", "", "192.0.2.1", "r"},
		{"x@[2001:db8::1]", "x", "[2001:db8::1]", ""},
		{"x@[2001:DB8:0:0::1]/r", "x", "[2001:db8::1]", "r"},
		{"[::ffff:192.0.2.1]", "", "[::ffff:192.0.2.1]", ""},
		{"a-b.c-d.example", "", "a-b.c-d.example", ""},

		// Lengths.
		{long1023 + "@example.com", long1023, "example.com", ""},
		{"example.com/" + long1023, "", "example.com", long1023},
		{label63 + ".example", "", label63 + ".example", ""},
		{domain1023, "", domain1023, ""},
	}
	for _, tt := range tests {
		j, err := jid.Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if j.Local() != tt.local || j.Domain() != tt.domain || j.Resource() != tt.resource {
			t.Errorf("Parse(%q) = %q, %q, %q; want %q, %q, %q", tt.in,
				j.Local(), j.Domain(), j.Resource(), tt.local, tt.domain, tt.resource)
		}
		want, err := jid.New(tt.local, tt.domain, tt.resource)
		if err != nil || !j.Equal(want) {
			t.Errorf("Parse(%q) = %q; New of its parts = %q, %v", tt.in, j, want, err)
		}
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		in   string
		part jid.Part
		err  error
	}{
		// RFC 7622 §3.5, Table 2.
		{`"juliet"@example.com`, jid.Localpart, jid.ErrInvalid},
		{"foo bar@example.com", jid.Localpart, jid.ErrInvalid},
		{"@example.com/", jid.Localpart, jid.ErrEmpty},
		{"henry\u2163@example.com", jid.Localpart, jid.ErrInvalid}, // ROMAN NUMERAL FOUR has a compatibility decomposition
		{"♚@example.com", jid.Localpart, jid.ErrInvalid},
		{"juliet@", jid.Domainpart, jid.ErrEmpty},
		{"/foobar", jid.Domainpart, jid.ErrEmpty},

		// Empty parts.
		{"", jid.Domainpart, jid.ErrEmpty},
		{"@example.com", jid.Localpart, jid.ErrEmpty},
		{"node@/server", jid.Domainpart, jid.ErrEmpty},
		{"example.com/", jid.Resourcepart, jid.ErrEmpty},
		{"juliet@example.com/", jid.Resourcepart, jid.ErrEmpty},
		{".", jid.Domainpart, jid.ErrEmpty},
		{"juliet@./r", jid.Domainpart, jid.ErrEmpty},

		// Localpart characters (RFC 7622 §3.3.1, RFC 8265).
		{"juliet&romeo@example.com", jid.Localpart, jid.ErrInvalid},
		{"juliet'@example.com", jid.Localpart, jid.ErrInvalid},
		{"a:b@example.com", jid.Localpart, jid.ErrInvalid},
		{"<a>@example.com", jid.Localpart, jid.ErrInvalid},
		{"a＠b@example.com", jid.Localpart, jid.ErrInvalid}, // full-width '@' maps to '@'
		{"a\tb@example.com", jid.Localpart, jid.ErrInvalid},
		{"\xff@example.com", jid.Localpart, jid.ErrInvalid},

		// Domainparts.
		{"a..b", jid.Domainpart, jid.ErrInvalid},
		{".example.com", jid.Domainpart, jid.ErrInvalid},
		{"example.com..", jid.Domainpart, jid.ErrInvalid},
		{"exa mple.com", jid.Domainpart, jid.ErrInvalid},
		{"juliet@exa mple.com/r", jid.Domainpart, jid.ErrInvalid},
		{"ex_ample.com", jid.Domainpart, jid.ErrInvalid},
		{"-example.com", jid.Domainpart, jid.ErrInvalid},
		{"example-.com", jid.Domainpart, jid.ErrInvalid},
		{"ab--c.example", jid.Domainpart, jid.ErrInvalid},
		{"xn--a.example", jid.Domainpart, jid.ErrInvalid},
		{"a@b@example.com", jid.Domainpart, jid.ErrInvalid},
		{"x@a\u2135", jid.Domainpart, jid.ErrInvalid}, // maps to Hebrew alef, failing the Bidi Rule
		{"[::1", jid.Domainpart, jid.ErrInvalid},
		{"[::1%eth0]", jid.Domainpart, jid.ErrInvalid},
		{"[192.0.2.1]", jid.Domainpart, jid.ErrInvalid},
		{"[::1].", jid.Domainpart, jid.ErrInvalid},

		// Resourceparts.
		{"example.com/a\x00b", jid.Resourcepart, jid.ErrInvalid},
		{"example.com/a\u200bb", jid.Resourcepart, jid.ErrInvalid},
		{"example.com/\xff", jid.Resourcepart, jid.ErrInvalid},

		// Lengths.
		{long1024 + "@example.com", jid.Localpart, jid.ErrTooLong},
		{"example.com/" + long1024, jid.Resourcepart, jid.ErrTooLong},
		{label64 + ".example", jid.Domainpart, jid.ErrTooLong},
		{domain1025, jid.Domainpart, jid.ErrTooLong},
		{strings.Repeat("日本語ドメイン名例え", 3) + ".example", jid.Domainpart, jid.ErrTooLong}, // 64 octets as an A-label
	}
	for _, tt := range tests {
		j, err := jid.Parse(tt.in)
		var e *jid.Error
		if !errors.As(err, &e) || e.Part != tt.part || !errors.Is(err, tt.err) {
			t.Errorf("Parse(%q) = %q, %v; want %v in the %v", tt.in, j, err, tt.err, tt.part)
			continue
		}
		if !j.IsZero() {
			t.Errorf("Parse(%q) = %q with an error; want the zero JID", tt.in, j)
		}
	}
}

func TestNew(t *testing.T) {
	j, err := jid.New("Juliet", "Example.COM.", "Balcony")
	if err != nil || j.String() != "juliet@example.com/Balcony" {
		t.Errorf(`New("Juliet", "Example.COM.", "Balcony") = %q, %v`, j, err)
	}
	j, err = jid.New("", "example.com", "")
	if err != nil || j.String() != "example.com" || j.Local() != "" || !j.IsBare() {
		t.Errorf(`New("", "example.com", "") = %q, %v`, j, err)
	}
	for _, parts := range [][3]string{
		{"a@b", "example.com", ""},
		{"a/b", "example.com", ""},
		{"a", "", "r"},
		{"a", "example.com/r", ""},
		{"a", "b@example.com", ""},
		{"a", "example.com", "\x00"},
	} {
		if j, err := jid.New(parts[0], parts[1], parts[2]); err == nil {
			t.Errorf("New(%q, %q, %q) = %q; want an error", parts[0], parts[1], parts[2], j)
		}
	}
}

func TestPrep(t *testing.T) {
	tests := []struct {
		name      string
		prep      func(string) (string, error)
		in, want  string
		wantError error
	}{
		{"PrepLocal", jid.PrepLocal, "juliet", "juliet", nil},
		{"PrepLocal", jid.PrepLocal, "JULIET", "juliet", nil},
		{"PrepLocal", jid.PrepLocal, "", "", jid.ErrEmpty},
		{"PrepLocal", jid.PrepLocal, "a@b", "", jid.ErrInvalid},
		{"PrepDomain", jid.PrepDomain, "EXAMPLE.com.", "example.com", nil},
		{"PrepDomain", jid.PrepDomain, "", "", jid.ErrEmpty},
		{"PrepDomain", jid.PrepDomain, "[::1]", "[::1]", nil},
		{"PrepResource", jid.PrepResource, "Foo Bar", "Foo Bar", nil},
		{"PrepResource", jid.PrepResource, "", "", jid.ErrEmpty},
		{"PrepResource", jid.PrepResource, long1024, "", jid.ErrTooLong},
	}
	for _, tt := range tests {
		got, err := tt.prep(tt.in)
		if got != tt.want || !errors.Is(err, tt.wantError) || (err == nil) != (tt.wantError == nil) {
			t.Errorf("%s(%q) = %q, %v; want %q, %v", tt.name, tt.in, got, err, tt.want, tt.wantError)
		}
	}
}

func TestMethods(t *testing.T) {
	full := jid.MustParse("juliet@example.com/balcony")
	bare := full.Bare()
	if bare.String() != "juliet@example.com" || !bare.IsBare() || full.IsBare() {
		t.Errorf("Bare of %q = %q (IsBare %v)", full, bare, bare.IsBare())
	}
	if bare.Local() != "juliet" || bare.Domain() != "example.com" || bare.Resource() != "" {
		t.Errorf("parts of %q = %q, %q, %q", bare, bare.Local(), bare.Domain(), bare.Resource())
	}
	if !bare.Equal(jid.MustParse("Juliet@EXAMPLE.com")) || bare.Equal(full) {
		t.Error("Equal does not compare canonical forms")
	}
	if full.IsZero() || !(jid.JID{}).IsZero() || (jid.JID{}).String() != "" {
		t.Error("IsZero or String of the zero JID is wrong")
	}
	var zero jid.JID
	if zero.Bare() != zero || zero.Local() != "" || zero.Domain() != "" || zero.Resource() != "" {
		t.Error("the zero JID has parts")
	}
	domain := jid.MustParse("example.com/r")
	if domain.Local() != "" || domain.Domain() != "example.com" || domain.Resource() != "r" ||
		domain.Bare() != jid.MustParse("example.com") {
		t.Errorf("parts of %q = %q, %q, %q", domain, domain.Local(), domain.Domain(), domain.Resource())
	}
	// JIDs work as map keys, whatever text they were parsed from.
	m := map[jid.JID]int{jid.MustParse("Juliet@Example.com"): 1}
	if m[jid.MustParse("juliet@example.com")] != 1 {
		t.Error("equal JIDs are different map keys")
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParse did not panic")
		}
	}()
	jid.MustParse("@example.com")
}

func TestErrorMessage(t *testing.T) {
	_, err := jid.Parse(`"juliet"@example.com`)
	if msg := err.Error(); !strings.HasPrefix(msg, "jid: invalid localpart") {
		t.Errorf("error message = %q", msg)
	}
	_, err = jid.Parse("example.com/")
	if msg := err.Error(); msg != "jid: empty resourcepart" {
		t.Errorf("error message = %q", msg)
	}
}

func TestAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	// Canonical ASCII JIDs take the fast path.
	for _, s := range []string{
		"alice@example.com/phone-1",
		"alice.o-neil+tag@chat.example-1.org/Phone 1 (work)",
		"example.com",
		"conference.example.com/room@host",
		"192.0.2.1",
	} {
		var j jid.JID
		var bare, full string
		n := testing.AllocsPerRun(100, func() {
			j, _ = jid.Parse(s)
			bare = j.Bare().String()
			full = j.String()
		})
		if n != 0 || full != s || !strings.HasPrefix(s, bare) || bare == "" {
			t.Errorf("Parse(%q): %v allocs per run, String %q, Bare %q; want 0 and the input", s, n, full, bare)
		}
	}
	// A canonical non-ASCII JID takes the slow path, which allocates, but
	// String and Bare never do.
	j := jid.MustParse("fußball@müller.example/♚")
	if n := testing.AllocsPerRun(100, func() { _ = j.Bare().String(); _ = j.String() }); n != 0 {
		t.Errorf("Bare().String() and String(): %v allocs per run; want 0", n)
	}
}

// TestRoundTripRunes checks every code point, alone and in short strings, in
// each part: whatever Parse accepts must parse from its own text to itself.
func TestRoundTripRunes(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	for r := rune(0); r <= 0x10ffff; r++ {
		if 0xd800 <= r && r <= 0xdfff {
			continue
		}
		for _, s := range []string{string(r), "a" + string(r), string(r) + "b"} {
			for _, in := range []string{s + "@example.com/" + s, s + ".example", "a@x" + s} {
				j, err := jid.Parse(in)
				if err != nil {
					continue
				}
				if j2, err := jid.Parse(j.String()); err != nil || j2 != j {
					t.Errorf("%U: Parse(%q) = %q, which parses to %q, %v", r, in, j, j2, err)
				}
			}
		}
	}
}

func BenchmarkParse(b *testing.B) {
	for _, bm := range []struct{ name, in string }{
		{"fast", "alice@example.com/phone-1"},
		{"fast/bare", "alice@example.com"},
		{"slow/ascii", "Alice@Example.COM/phone-1"},
		{"slow/unicode", "fußball@müller.example/♚"},
		{"slow/width", "ａｌｉｃｅ@ｅｘａｍｐｌｅ.com/ｐｈｏｎｅ"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := jid.Parse(bm.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
