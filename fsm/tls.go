package fsm

// This file negotiates STARTTLS (RFC 6120 §5).

// startTLS answers <starttls/>.
func (m *machine) startTLS() {
	s := &m.s
	switch {
	case s.Secure || s.Authenticated():
		m.fail("unsupported-stanza-type", "") // S-22
	case s.Phase == WaitForFeature && s.Offered.Has(FeatureStartTLS):
		m.emit(Effect{Kind: EffSend, Elem: nsElement("proceed", NSTLS)}) // S-20
		m.emit(Effect{Kind: EffStartTLS})
		s.Phase = WaitForTLS
		s.Offered = 0
	default:
		m.emit(Effect{Kind: EffSend, Elem: nsElement("failure", NSTLS)}) // S-21
		m.emit(Effect{Kind: EffClose})
		m.destroy("Disconnected: TLS refused")
	}
}

// tlsResult answers the adapter's handshake result.
func (m *machine) tlsResult(ok bool) {
	s := &m.s
	switch {
	case s.Phase != WaitForTLS:
		m.fail("internal-server-error", "") // S-27: no handshake was asked for
	case ok:
		s.Secure = true // S-23
		s.Phase = WaitForStream
		s.NotOpen = true
		m.emit(Effect{Kind: EffResetStream})
	default:
		m.abort("Disconnected: TLS failed") // S-24: nothing can be written
	}
}
