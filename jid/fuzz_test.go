package jid

import (
	"errors"
	"testing"
)

// parseSlow is Parse without any fast path: every part goes through the full
// PRECIS or IDNA preparation.
func parseSlow(s string) (JID, error) {
	return parse(s, prepLocal, prepDomain, prepResource)
}

// sameError reports whether a and b are both nil, or both *Error values with
// the same part and sentinel.
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var ea, eb *Error
	return errors.As(a, &ea) && errors.As(b, &eb) && ea.Part == eb.Part && ea.Err == eb.Err
}

// FuzzParse checks that the fast paths agree with the full preparation, that
// Parse never panics, and that a parsed JID round-trips through its text and
// is a fixed point of preparation. Its seed corpus is in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		j, err := Parse(s)
		slow, slowErr := parseSlow(s)

		// The fast path, when it applies, agrees with the full preparation.
		if fast, ok := parseCanonical(s); ok {
			if slowErr != nil || fast != slow {
				t.Fatalf("parseCanonical(%q) = %#v; full preparation = %#v, %v", s, fast, slow, slowErr)
			}
			if fast.String() != s {
				t.Fatalf("parseCanonical(%q).String() = %q", s, fast.String())
			}
		}
		// So does Parse as a whole, errors included.
		if j != slow || !sameError(err, slowErr) {
			t.Fatalf("Parse(%q) = %#v, %v; full preparation = %#v, %v", s, j, err, slow, slowErr)
		}
		if err != nil {
			if !j.IsZero() {
				t.Fatalf("Parse(%q) returned %#v with error %v", s, j, err)
			}
			var e *Error
			if !errors.As(err, &e) || !(e.Err == ErrEmpty || e.Err == ErrTooLong || e.Err == ErrInvalid) {
				t.Fatalf("Parse(%q) error %v is not a well-formed *Error", s, err)
			}
		}

		// The per-part fast paths agree with the full preparations.
		for _, p := range []struct {
			name       string
			fast, full func(string) (string, error)
		}{
			{"PrepLocal", PrepLocal, prepLocal},
			{"PrepDomain", PrepDomain, prepDomain},
			{"PrepResource", PrepResource, prepResource},
		} {
			got, err := p.fast(s)
			want, wantErr := p.full(s)
			if got != want || !sameError(err, wantErr) {
				t.Fatalf("%s(%q) = %q, %v; full preparation = %q, %v", p.name, s, got, err, want, wantErr)
			}
		}

		if err != nil {
			return
		}

		// The text round-trips, and a canonical JID parses to itself.
		str := j.String()
		j2, err := Parse(str)
		if err != nil || j2 != j || j2.String() != str {
			t.Fatalf("Parse(%q) = %q, but Parse(%q) = %q, %v", s, str, str, j2, err)
		}
		// The parts are consistent with the text and each is a fixed
		// point of its preparation.
		if j.Domain() == "" || !j.Bare().IsBare() || j.Bare().String() != str[:len(j.Bare().String())] {
			t.Fatalf("Parse(%q) = %#v: inconsistent parts", s, j)
		}
		if l := j.Local(); l != "" {
			if p, err := prepLocal(l); err != nil || p != l {
				t.Fatalf("Parse(%q): localpart %q prepares to %q, %v", s, l, p, err)
			}
		}
		if d := j.Domain(); d != "" {
			if p, err := prepDomain(d); err != nil || p != d {
				t.Fatalf("Parse(%q): domainpart %q prepares to %q, %v", s, d, p, err)
			}
		}
		if r := j.Resource(); r != "" {
			if p, err := prepResource(r); err != nil || p != r {
				t.Fatalf("Parse(%q): resourcepart %q prepares to %q, %v", s, r, p, err)
			}
		}
		if j3, err := New(j.Local(), j.Domain(), j.Resource()); err != nil || j3 != j {
			t.Fatalf("New(%q, %q, %q) = %#v, %v; want %#v", j.Local(), j.Domain(), j.Resource(), j3, err, j)
		}
	})
}
