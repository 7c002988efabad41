package record

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
)

// The namespaces whose <password/> a log leaves out: XEP-0078 (legacy
// authentication) and XEP-0077 (in-band registration, password change).
const (
	nsIQAuth     = "jabber:iq:auth"
	nsIQRegister = "jabber:iq:register"
)

// Redacted text in a log.
const (
	redactedPrefix  = "redacted:"        // + the payload's length in bytes
	redactedInvalid = "redacted:invalid" // a payload that was not base64
	redactedText    = "redacted"         // other text: a password
)

// Redact returns el with every credential it could carry left out: el
// itself when there is none, else a redacted copy (el is never changed).
//
//   - A SASL <auth/>, <response/>, <challenge/> or <success/> keeps its
//     empty text or "=" (no data, empty data: RFC 6120 §6.4.2); base64
//     text becomes redacted:N, N the length of the data it encodes, and
//     anything else redacted:invalid. Any other text inside it becomes
//     "redacted". The session machine looks at nothing else in these
//     elements: whether there is data, whether it is base64 and its
//     child elements (fsm/sasl.go), so DecodeEvent can replace redacted:N
//     with the base64 of N '*' and redacted:invalid with text that is not
//     base64, and the machine takes the same decisions.
//   - The text of a <password/> in jabber:iq:auth or jabber:iq:register
//     becomes "redacted"; the machine never looks into these.
func Redact(el *etree.Element) *etree.Element {
	if el == nil || !needsRedaction(el) {
		return el
	}
	c := el.Copy()
	redactInPlace(c)
	return c
}

// isSASLData reports whether el is a SASL element that carries a payload.
func isSASLData(el *etree.Element) bool {
	switch el.Tag {
	case "auth", "response", "challenge", "success":
		return el.NamespaceURI() == fsm.NSSASL
	}
	return false
}

func isPassword(el *etree.Element) bool {
	if el.Tag != "password" {
		return false
	}
	ns := el.NamespaceURI()
	return ns == nsIQAuth || ns == nsIQRegister
}

// needsRedaction reports whether el holds text Redact changes.
func needsRedaction(el *etree.Element) bool {
	if isSASLData(el) {
		lead := true
		for _, t := range el.Child {
			switch t := t.(type) {
			case *etree.CharData:
				if lead {
					if s := strings.TrimSpace(t.Data); s != "" && s != "=" {
						return true
					}
				} else if t.Data != redactedText {
					return true
				}
			case *etree.Element:
				if hasText(t) {
					return true
				}
			}
			lead = false
		}
		return false
	}
	if isPassword(el) {
		for _, t := range el.Child {
			if cd, ok := t.(*etree.CharData); ok && cd.Data != redactedText {
				return true
			}
		}
	}
	for _, c := range el.ChildElements() {
		if needsRedaction(c) {
			return true
		}
	}
	return false
}

// hasText reports whether el or a descendant has text other than
// "redacted".
func hasText(el *etree.Element) bool {
	for _, t := range el.Child {
		switch t := t.(type) {
		case *etree.CharData:
			if t.Data != redactedText {
				return true
			}
		case *etree.Element:
			if hasText(t) {
				return true
			}
		}
	}
	return false
}

func redactInPlace(el *etree.Element) {
	switch {
	case isSASLData(el):
		lead := true
		for _, t := range el.Child {
			switch t := t.(type) {
			case *etree.CharData:
				if lead {
					t.Data = redactPayload(t.Data)
				} else {
					t.Data = redactedText
				}
			case *etree.Element:
				redactAllText(t)
			}
			lead = false
		}
	case isPassword(el):
		redactAllText(el)
	default:
		for _, c := range el.ChildElements() {
			redactInPlace(c)
		}
	}
}

func redactAllText(el *etree.Element) {
	for _, t := range el.Child {
		switch t := t.(type) {
		case *etree.CharData:
			t.Data = redactedText
		case *etree.Element:
			redactAllText(t)
		}
	}
}

// redactPayload redacts the text of a SASL element as fsm/sasl.go's
// saslDecode reads it.
func redactPayload(text string) string {
	s := strings.TrimSpace(text)
	switch {
	case s == "" || s == "=":
		return text
	}
	data, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return redactedInvalid
	}
	return redactedPrefix + strconv.Itoa(len(data))
}

// unredact replaces, in an element read from a log, the redacted payload
// of a SASL element with its stand-in.
func unredact(el *etree.Element) error {
	if !isSASLData(el) || len(el.Child) == 0 {
		return nil
	}
	cd, ok := el.Child[0].(*etree.CharData)
	if !ok {
		return nil
	}
	s := strings.TrimSpace(cd.Data)
	switch {
	case s == redactedInvalid:
		cd.Data = "*" // not base64: the machine answers incorrect-encoding
	case strings.HasPrefix(s, redactedPrefix):
		n, err := strconv.Atoi(s[len(redactedPrefix):])
		if err != nil || n <= 0 || n > maxStandIn {
			return fmt.Errorf("element: bad redacted payload %q", s)
		}
		cd.Data = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("*", n)))
	}
	return nil
}
