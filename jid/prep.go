package jid

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/secure/precis"
)

const (
	// maxPart is the longest a part may be after preparation, in octets
	// (RFC 7622 §3.2, §3.3 and §3.4).
	maxPart = 1023
	// maxLabel is the longest a domain label may be in its ASCII form, in
	// octets (RFC 1035 §2.3.4).
	maxLabel = 63
	// localForbidden holds the characters that RFC 7622 §3.3.1 disallows
	// in a localpart in addition to the UsernameCaseMapped profile.
	localForbidden = "\"&'/:<>@"
)

var errBadUTF8 = errors.New("invalid UTF-8")

// PrepLocal prepares and enforces s as a localpart per RFC 7622 §3.3: it
// applies the PRECIS UsernameCaseMapped profile (RFC 8265 §3.3), which maps
// full-width characters and case and normalises to NFC, and it rejects the
// characters " & ' / : < > @ and results that are empty or longer than 1023
// octets. The error, if any, is an *Error.
func PrepLocal(s string) (string, error) {
	if isCanonicalLocal(s) {
		return s, nil
	}
	return prepLocal(s)
}

// PrepDomain prepares and enforces s as a domainpart per RFC 7622 §3.2.
//
// An IPv4 address in dotted-decimal form and an IPv6 address in brackets are
// accepted as they are, the IPv6 address rewritten in its RFC 5952 form. Any
// other s must be a domain name: PrepDomain maps it as for lookup (UTS #46,
// which covers case and width), converts A-labels to U-labels, strips one
// trailing dot, and rejects empty labels, labels longer than 63 octets in
// their ASCII form, characters not allowed in a host name, and results longer
// than 1023 octets. The error, if any, is an *Error.
func PrepDomain(s string) (string, error) {
	if isCanonicalDomain(s) {
		return s, nil
	}
	return prepDomain(s)
}

// PrepResource prepares and enforces s as a resourcepart per RFC 7622 §3.4:
// it applies the PRECIS OpaqueString profile (RFC 8265 §4.2), which maps
// non-ASCII spaces to U+0020 and normalises to NFC, and it rejects results
// that are empty or longer than 1023 octets. The error, if any, is an *Error.
func PrepResource(s string) (string, error) {
	if isCanonicalResource(s) {
		return s, nil
	}
	return prepResource(s)
}

// prepLocal is PrepLocal without the fast path.
func prepLocal(s string) (string, error) {
	if s == "" {
		return "", &Error{Part: Localpart, Err: ErrEmpty}
	}
	if !utf8.ValidString(s) {
		return "", &Error{Part: Localpart, Err: ErrInvalid, cause: errBadUTF8}
	}
	p, err := precis.UsernameCaseMapped.String(s)
	if err != nil {
		return "", &Error{Part: Localpart, Err: ErrInvalid, cause: err}
	}
	if i := strings.IndexAny(p, localForbidden); i >= 0 {
		return "", &Error{Part: Localpart, Err: ErrInvalid,
			cause: fmt.Errorf("character %q not allowed", p[i])}
	}
	return checkLen(Localpart, p)
}

// prepResource is PrepResource without the fast path.
func prepResource(s string) (string, error) {
	if s == "" {
		return "", &Error{Part: Resourcepart, Err: ErrEmpty}
	}
	if !utf8.ValidString(s) {
		return "", &Error{Part: Resourcepart, Err: ErrInvalid, cause: errBadUTF8}
	}
	p, err := precis.OpaqueString.String(s)
	if err != nil {
		return "", &Error{Part: Resourcepart, Err: ErrInvalid, cause: err}
	}
	return checkLen(Resourcepart, p)
}

// prepDomain is PrepDomain without the fast path.
func prepDomain(s string) (string, error) {
	if s == "" {
		return "", &Error{Part: Domainpart, Err: ErrEmpty}
	}
	if !utf8.ValidString(s) {
		return "", &Error{Part: Domainpart, Err: ErrInvalid, cause: errBadUTF8}
	}
	if s[0] == '[' {
		return prepIPv6(s)
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
		// ParseAddr takes only the canonical dotted-decimal form.
		return s, nil
	}
	u, err := idna.Lookup.ToUnicode(s)
	if err == nil && !isASCII(u) {
		// Validate the mapped name again: x/net/idna decides whether to
		// apply the Bidi Rule before mapping, so "aℵ" would map to "aא",
		// which fails it, and the JID would not parse from its own text.
		if v, err2 := idna.Lookup.ToUnicode(u); err2 != nil {
			err = err2
		} else if v != u {
			err = errors.New("mapping is not stable")
		}
	}
	if err != nil {
		return "", &Error{Part: Domainpart, Err: ErrInvalid, cause: err}
	}
	// Strip the label separator that makes the name absolute (RFC 7622
	// §3.2). Separators other than '.' have been mapped to '.' by now.
	u = strings.TrimSuffix(u, ".")
	if u == "" {
		return "", &Error{Part: Domainpart, Err: ErrEmpty}
	}
	for label := range strings.SplitSeq(u, ".") {
		if label == "" {
			return "", &Error{Part: Domainpart, Err: ErrInvalid, cause: errors.New("empty label")}
		}
		n := len(label)
		if !isASCII(label) {
			a, err := idna.Punycode.ToASCII(label)
			if err != nil {
				return "", &Error{Part: Domainpart, Err: ErrInvalid, cause: err}
			}
			n = len(a)
		}
		if n > maxLabel {
			return "", &Error{Part: Domainpart, Err: ErrTooLong, cause: errors.New("label longer than 63 octets")}
		}
	}
	return checkLen(Domainpart, u)
}

// prepIPv6 prepares s, which starts with '[', as an IP-literal (RFC 3986
// §3.2.2) holding an IPv6 address.
func prepIPv6(s string) (string, error) {
	inner, ok := strings.CutSuffix(s[1:], "]")
	a, err := netip.ParseAddr(inner)
	if !ok || err != nil || !a.Is6() || a.Zone() != "" {
		return "", &Error{Part: Domainpart, Err: ErrInvalid, cause: errors.New("bad IPv6 literal")}
	}
	if c := a.String(); c != inner {
		return "[" + c + "]", nil
	}
	return s, nil
}

// checkLen returns p, or an error if p is not 1 to maxPart octets long.
func checkLen(part Part, p string) (string, error) {
	switch {
	case p == "":
		return "", &Error{Part: part, Err: ErrEmpty}
	case len(p) > maxPart:
		return "", &Error{Part: part, Err: ErrTooLong}
	}
	return p, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// The fast path. Each isCanonical function reports whether s is a part that
// the corresponding prep function returns unchanged, for a subset of such
// strings that is quick to recognise: plain ASCII. When one reports true the
// full preparation would return s; FuzzParse checks that.

// asciiSet is a set of ASCII characters.
type asciiSet [2]uint64

func makeASCIISet(in func(c byte) bool) asciiSet {
	var set asciiSet
	for c := byte(0); c < 0x80; c++ {
		if in(c) {
			set[c>>6] |= 1 << (c & 63)
		}
	}
	return set
}

func (set *asciiSet) contains(c byte) bool {
	return c < 0x80 && set[c>>6]&(1<<(c&63)) != 0
}

// allIn reports whether s is 1 to maxPart octets of characters from set.
func (set *asciiSet) allIn(s string) bool {
	if len(s) == 0 || len(s) > maxPart {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !set.contains(s[i]) {
			return false
		}
	}
	return true
}

var (
	// localChars are the ASCII characters that UsernameCaseMapped leaves
	// unchanged (the printable ones except capital letters; RFC 8264
	// §9.11) and that RFC 7622 §3.3.1 does not forbid.
	localChars = makeASCIISet(func(c byte) bool {
		return '!' <= c && c <= '~' && !('A' <= c && c <= 'Z') &&
			strings.IndexByte(localForbidden, c) < 0
	})
	// resourceChars are the ASCII characters that OpaqueString leaves
	// unchanged: the printable ones and space.
	resourceChars = makeASCIISet(func(c byte) bool {
		return ' ' <= c && c <= '~'
	})
	// ldhChars are the characters of a lowercase LDH label.
	ldhChars = makeASCIISet(func(c byte) bool {
		return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-'
	})
)

func isCanonicalLocal(s string) bool {
	return localChars.allIn(s)
}

func isCanonicalResource(s string) bool {
	return resourceChars.allIn(s)
}

// isCanonicalDomain reports whether s is a domain name of lowercase LDH
// labels that pass the UTS #46 CheckHyphens rule and hold no A-label.
func isCanonicalDomain(s string) bool {
	if len(s) == 0 || len(s) > maxPart {
		return false
	}
	for {
		label, rest, more := strings.Cut(s, ".")
		n := len(label)
		if n == 0 || n > maxLabel || !ldhChars.allIn(label) ||
			label[0] == '-' || label[n-1] == '-' ||
			n >= 4 && label[2] == '-' && label[3] == '-' {
			return false
		}
		if !more {
			return true
		}
		s = rest
	}
}
