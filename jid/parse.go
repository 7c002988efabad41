package jid

import (
	"strconv"
	"strings"
)

// Parse parses s as a JID and returns it in canonical form.
//
// Parse splits s as RFC 7622 §3.1 says: the resourcepart is everything
// after the first '/', and the localpart is everything before the first '@'
// that precedes that '/'. It then prepares each part as PrepLocal,
// PrepDomain and PrepResource do. A '@' with an empty localpart, a '/' with
// an empty resourcepart, and a missing domainpart are errors.
//
// If s is already canonical and plain ASCII, Parse does not allocate, and the
// JID it returns shares its memory with s. The error, if any, is an *Error.
func Parse(s string) (JID, error) {
	if j, ok := parseCanonical(s); ok {
		return j, nil
	}
	return parse(s, PrepLocal, PrepDomain, PrepResource)
}

// MustParse is like Parse but panics if s cannot be parsed. It is meant for
// tests, examples and addresses fixed at compile time.
func MustParse(s string) JID {
	j, err := Parse(s)
	if err != nil {
		panic("jid: MustParse(" + strconv.Quote(s) + "): " + err.Error())
	}
	return j
}

// New returns the JID with the given parts, each prepared as PrepLocal,
// PrepDomain and PrepResource do. An empty local or resource means that the
// JID has no such part; domain must not be empty. The error, if any, is an
// *Error.
func New(local, domain, resource string) (JID, error) {
	l, d, r, err := prepParts(local, domain, resource, PrepLocal, PrepDomain, PrepResource)
	if err != nil {
		return JID{}, err
	}
	return join(l, d, r), nil
}

// parseCanonical is the fast path of Parse: it returns the JID for s and
// true if s splits into parts that are each canonical and plain ASCII.
func parseCanonical(s string) (JID, bool) {
	rest, resource, hasResource := strings.Cut(s, "/")
	if hasResource && !isCanonicalResource(resource) {
		return JID{}, false
	}
	at := strings.IndexByte(rest, '@')
	if at >= 0 && !isCanonicalLocal(rest[:at]) {
		return JID{}, false
	}
	domain := rest[at+1:]
	if !isCanonicalDomain(domain) {
		return JID{}, false
	}
	return makeJID(s, max(at, 0), len(domain)), true
}

// parse splits s and prepares its parts with the given functions. Parse
// passes the exported Prep functions; tests pass the ones without fast
// paths.
func parse(s string, prepL, prepD, prepR func(string) (string, error)) (JID, error) {
	local, domain, resource, err := split(s)
	if err != nil {
		return JID{}, err
	}
	l, d, r, err := prepParts(local, domain, resource, prepL, prepD, prepR)
	if err != nil {
		return JID{}, err
	}
	if l == local && d == domain && r == resource {
		// s is canonical already: keep it rather than build a copy.
		return makeJID(s, len(l), len(d)), nil
	}
	return join(l, d, r), nil
}

// split splits s into its parts per RFC 7622 §3.1. It rejects a separator
// followed or preceded by an empty part, and an empty domainpart.
func split(s string) (local, domain, resource string, err error) {
	rest, resource, hasResource := strings.Cut(s, "/")
	local, domain, hasLocal := strings.Cut(rest, "@")
	if !hasLocal {
		local, domain = "", rest
	}
	switch {
	case hasLocal && local == "":
		return "", "", "", &Error{Part: Localpart, Err: ErrEmpty}
	case domain == "":
		return "", "", "", &Error{Part: Domainpart, Err: ErrEmpty}
	case hasResource && resource == "":
		return "", "", "", &Error{Part: Resourcepart, Err: ErrEmpty}
	}
	return local, domain, resource, nil
}

// prepParts prepares the parts of a JID, in order, with the given functions.
// An empty local or resource is absent and left alone.
func prepParts(local, domain, resource string, prepL, prepD, prepR func(string) (string, error)) (l, d, r string, err error) {
	if local != "" {
		if l, err = prepL(local); err != nil {
			return "", "", "", err
		}
	}
	if d, err = prepD(domain); err != nil {
		return "", "", "", err
	}
	if resource != "" {
		if r, err = prepR(resource); err != nil {
			return "", "", "", err
		}
	}
	return l, d, r, nil
}

// join returns the JID with the given prepared parts.
func join(local, domain, resource string) JID {
	s := domain
	switch {
	case local != "" && resource != "":
		s = local + "@" + domain + "/" + resource
	case local != "":
		s = local + "@" + domain
	case resource != "":
		s = domain + "/" + resource
	}
	return makeJID(s, len(local), len(domain))
}
