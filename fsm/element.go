package fsm

import "github.com/beevik/etree"

// Class is what a top-level element is to the session machine.
type Class uint8

// The classes of top-level elements.
const (
	ClassUnknown     Class = iota // anything else: unsupported-stanza-type
	ClassMessage                  // <message/> in jabber:client
	ClassPresence                 // <presence/> in jabber:client
	ClassIQ                       // <iq/> in jabber:client
	ClassStartTLS                 // <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>
	ClassAuth                     // <auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>
	ClassResponse                 // <response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>
	ClassAbort                    // <abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>
	ClassStreamError              // <stream:error/>

	numClasses
)

var classNames = [numClasses]string{
	"unknown", "message", "presence", "iq", "starttls", "auth", "response", "abort", "stream-error",
}

// String returns the class's name.
func (c Class) String() string {
	if c < numClasses {
		return classNames[c]
	}
	return "class(?)"
}

// Classify says what a top-level element is.
func Classify(el *etree.Element) Class {
	switch namespace(el) {
	case NSClient:
		switch el.Tag {
		case "message":
			return ClassMessage
		case "presence":
			return ClassPresence
		case "iq":
			return ClassIQ
		}
	case NSTLS:
		if el.Tag == "starttls" {
			return ClassStartTLS
		}
	case NSSASL:
		switch el.Tag {
		case "auth":
			return ClassAuth
		case "response":
			return ClassResponse
		case "abort":
			return ClassAbort
		}
	case NSStreams:
		if el.Tag == "error" {
			return ClassStreamError
		}
	}
	return ClassUnknown
}

// element answers a top-level element. This switch and the handlers it
// calls are the whole answer to "what does the server do when element X
// arrives in phase Y".
func (m *machine) element(el *etree.Element) {
	switch m.s.Phase {
	case WaitForStream:
		m.fail("invalid-namespace", "") // S-5: an element where a header belongs
		return
	case WaitForTLS:
		m.abort("Disconnected") // S-25: after <proceed/> only TLS may follow
		return
	}
	switch c := Classify(el); c {
	case ClassStreamError:
		m.clientClosed() // S-62
	case ClassStartTLS:
		m.startTLS()
	case ClassAuth:
		m.auth(el)
	case ClassResponse:
		m.response(el)
	case ClassAbort:
		m.saslAbort()
	case ClassMessage, ClassPresence, ClassIQ:
		if m.s.Phase == Established {
			m.stanza(c, el)
		} else {
			m.unboundStanza(c, el)
		}
	default:
		m.fail("unsupported-stanza-type", "") // S-61
	}
}
