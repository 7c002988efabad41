// Package jid implements XMPP addresses (JIDs) as defined in RFC 7622.
//
// A JID has the form
//
//	[ localpart "@" ] domainpart [ "/" resourcepart ]
//
// Parse and New prepare and enforce each part: the localpart with the PRECIS
// UsernameCaseMapped profile (RFC 8265), the domainpart with IDNA2008 and
// UTS #46 lookup mappings, and the resourcepart with the PRECIS OpaqueString
// profile. A JID value therefore always holds the canonical form of the
// address, and two JIDs denote the same address exactly when they are equal
// under ==.
//
// Parse has an allocation-free fast path for addresses that are already
// canonical and plain ASCII, such as "alice@example.com/phone-1", so it is
// cheap enough to call for every stanza a server routes.
package jid

import (
	"errors"
)

// A JID is an XMPP address. It is a small value that can be copied freely,
// compared with == and used as a map key; equal JIDs denote the same address.
//
// The zero JID is not a valid address; it reports true from IsZero and is
// what Parse and New return alongside an error.
type JID struct {
	// s is the canonical text of the address. The parts are substrings of
	// it, so the address is stored once and String and Bare never allocate.
	s string
	// dom is the offset of the domainpart in s: 0 without a localpart,
	// len(localpart)+1 otherwise.
	dom uint16
	// end is the offset just past the domainpart in s; it equals len(s)
	// when there is no resourcepart.
	end uint16
}

// makeJID returns the JID whose canonical text is s, with a localpart of
// localLen octets (0 when absent) and a domainpart of domainLen octets.
func makeJID(s string, localLen, domainLen int) JID {
	dom := 0
	if localLen > 0 {
		dom = localLen + 1
	}
	return JID{s: s, dom: uint16(dom), end: uint16(dom + domainLen)}
}

// Local returns the localpart of j, or "" if j has none.
func (j JID) Local() string {
	if j.dom == 0 {
		return ""
	}
	return j.s[:j.dom-1]
}

// Domain returns the domainpart of j.
func (j JID) Domain() string {
	return j.s[j.dom:j.end]
}

// Resource returns the resourcepart of j, or "" if j has none.
func (j JID) Resource() string {
	if int(j.end) == len(j.s) {
		return ""
	}
	return j.s[j.end+1:]
}

// Bare returns j without its resourcepart. It does not allocate.
func (j JID) Bare() JID {
	return JID{s: j.s[:j.end], dom: j.dom, end: j.end}
}

// IsBare reports whether j has no resourcepart.
func (j JID) IsBare() bool {
	return int(j.end) == len(j.s)
}

// IsZero reports whether j is the zero JID.
func (j JID) IsZero() bool {
	return j.s == ""
}

// String returns the canonical text of j, or "" for the zero JID. It does
// not allocate. Parse(j.String()) returns j for every non-zero j.
func (j JID) String() string {
	return j.s
}

// Equal reports whether j and k denote the same address. It is the same as
// j == k.
func (j JID) Equal(k JID) bool {
	return j == k
}

// A Part names one of the three parts of a JID.
type Part uint8

// The parts of a JID, in the order in which they appear.
const (
	Localpart Part = iota + 1
	Domainpart
	Resourcepart
)

// String returns the RFC 7622 name of p, such as "localpart".
func (p Part) String() string {
	switch p {
	case Localpart:
		return "localpart"
	case Domainpart:
		return "domainpart"
	case Resourcepart:
		return "resourcepart"
	}
	return "unknown part"
}

// Errors reported by this package. Each error that Parse, New and the Prep
// functions return is an *Error that wraps exactly one of these, so callers
// test for them with errors.Is.
var (
	// ErrEmpty means that a part is zero octets long, or missing where it
	// is required: a domainpart, or a part whose separator ('@' or '/') is
	// present.
	ErrEmpty = errors.New("jid: empty part")

	// ErrTooLong means that a part is longer than 1023 octets after
	// preparation, or that a domain label is longer than 63 octets.
	ErrTooLong = errors.New("jid: part too long")

	// ErrInvalid means that a part contains characters that its profile
	// disallows, or otherwise fails preparation.
	ErrInvalid = errors.New("jid: invalid part")
)

// An Error describes why a part of a JID was rejected.
type Error struct {
	// Part is the part that was rejected.
	Part Part
	// Err is ErrEmpty, ErrTooLong or ErrInvalid.
	Err error

	// cause is the underlying error, from PRECIS or IDNA for example, or
	// nil.
	cause error
}

// Error returns a message such as "jid: invalid localpart: ...".
func (e *Error) Error() string {
	var msg string
	switch e.Err {
	case ErrEmpty:
		msg = "jid: empty " + e.Part.String()
	case ErrTooLong:
		msg = "jid: " + e.Part.String() + " too long"
	default:
		msg = "jid: invalid " + e.Part.String()
	}
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

// Unwrap returns e.Err and, if there is one, the underlying error.
func (e *Error) Unwrap() []error {
	if e.cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.cause}
}
