package fsm

import (
	"encoding/base64"
	"strings"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/jid"
)

// This file negotiates SASL (RFC 6120 §6). The mechanisms themselves run in
// the adapter: the session hands each step over as an effect and gets the
// answer back as an event.

// auth answers <auth mechanism=…>.
func (m *machine) auth(el *etree.Element) {
	s := &m.s
	p := s.policy()
	switch {
	case s.Authenticated():
		m.fail("unsupported-stanza-type", "") // S-43
		return
	case s.Phase.inSASL():
		m.saslFail("malformed-request", "", false) // S-41
		return
	}
	name := attr(el, "mechanism")
	mech, known := p.mechanism(name)
	switch {
	case p.TLS && p.RequireTLS && !s.Secure:
		m.saslFail("encryption-required", "", false) // S-26
		return
	case name == "" || !known:
		m.saslFail("invalid-mechanism", "", false) // S-31
		return
	case mech.NeedsTLS && !s.Secure:
		m.saslFail("encryption-required", "", false) // S-32
		return
	}
	if n, _ := childElements(el); n > 0 {
		m.saslFail("malformed-request", "", false) // S-33
		return
	}
	data, ok := saslDecode(el)
	if !ok {
		m.saslFail("incorrect-encoding", "", false) // S-33
		return
	}
	s.Mechanism = mech.Name // S-30
	s.Phase = WaitForSASLResult
	s.Offered = 0
	m.emit(Effect{Kind: EffSASLStart, Mechanism: mech.Name, Data: data})
}

// response answers <response/>.
func (m *machine) response(el *etree.Element) {
	s := &m.s
	switch {
	case s.Authenticated():
		m.fail("unsupported-stanza-type", "") // S-43
		return
	case s.Phase != WaitForSASLResponse:
		m.saslFail("malformed-request", "", false) // S-40
		return
	}
	data, ok := saslDecode(el)
	if !ok {
		m.saslFail("incorrect-encoding", "", true) // S-35
		return
	}
	if data == nil {
		data = []byte{}
	}
	s.Phase = WaitForSASLResult // S-35
	m.emit(Effect{Kind: EffSASLStep, Data: data})
}

// saslAbort answers <abort/>.
func (m *machine) saslAbort() {
	s := &m.s
	switch {
	case s.Authenticated():
		m.fail("unsupported-stanza-type", "") // S-43
	case s.Phase.inSASL():
		m.saslFail("aborted", "", false) // S-39
	default:
		m.saslFail("malformed-request", "", false) // S-40
	}
}

// saslResult answers the mechanism's result.
func (m *machine) saslResult(ev Event) {
	s := &m.s
	if s.Phase != WaitForSASLResult {
		return // S-42: a result nobody waits for (the exchange was aborted)
	}
	switch ev.Kind {
	case EvSASLChallenge:
		m.emit(Effect{Kind: EffSend, Elem: saslData("challenge", saslEncode(ev.Data))}) // S-34
		s.Phase = WaitForSASLResponse
	case EvSASLSuccess:
		user, err := jid.PrepLocal(ev.Username)
		if err != nil {
			m.saslFail("not-authorized", "", true) // S-44
			return
		}
		m.emit(Effect{Kind: EffSend, Elem: saslData("success", saslEncode(ev.Data))}) // S-36
		m.emit(Effect{Kind: EffResetStream})
		s.Username = user
		s.Type = TypeUnbound
		s.Mechanism = ""
		s.Phase = WaitForStream
		s.NotOpen = true
	case EvSASLFailure:
		cond := ev.Condition
		if !saslConditions[cond] {
			cond = "not-authorized" // S-45
		}
		m.saslFail(cond, ev.Text, true) // S-37
	}
}

// saslConditions are the failure conditions of RFC 6120 §6.5.
var saslConditions = map[string]bool{
	"aborted": true, "account-disabled": true, "credentials-expired": true,
	"encryption-required": true, "incorrect-encoding": true, "invalid-authzid": true,
	"invalid-mechanism": true, "malformed-request": true, "mechanism-too-weak": true,
	"not-authorized": true, "temporary-auth-failure": true,
}

// saslFail sends <failure/>, ends the exchange in progress and, for a
// failed attempt (counted), closes the stream once the attempts reach the
// limit (S-38).
func (m *machine) saslFail(cond, text string, counted bool) {
	s := &m.s
	m.emit(Effect{Kind: EffSend, Elem: saslFailure(cond, text)})
	s.Mechanism = ""
	s.Phase = WaitForFeature
	if !counted {
		return
	}
	s.SASLFailures++
	if s.SASLFailures >= s.policy().maxFailures() {
		m.fail("policy-violation", "Too many failed authentication attempts") // S-38
	}
}

// saslDecode decodes the base64 text of el (RFC 6120 §6.4.2): no text is no
// data (nil), "=" is empty data.
func saslDecode(el *etree.Element) ([]byte, bool) {
	text := strings.TrimSpace(el.Text())
	switch text {
	case "":
		return nil, true
	case "=":
		return []byte{}, true
	}
	data, err := base64.StdEncoding.Strict().DecodeString(text)
	if err != nil {
		return nil, false
	}
	return data, true
}

// saslEncode encodes data for a challenge or success: "=" for empty data.
func saslEncode(data []byte) string {
	if data == nil {
		return ""
	}
	if len(data) == 0 {
		return "="
	}
	return base64.StdEncoding.EncodeToString(data)
}
