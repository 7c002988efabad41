package fsm

import (
	"strings"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/jid"
)

// This file opens streams: the connection, the client's stream header, the
// server's header and its features.

// connect starts a session on a new connection (S-1).
func (m *machine) connect(ev Event) {
	m.s = Session{
		Policy:   m.s.Policy,
		Conn:     ev.Conn,
		Phase:    WaitForStream,
		Type:     TypeUnauthed,
		NotOpen:  true,
		StreamID: ev.ID,
		Secure:   ev.Secure,
	}
	m.emit(Effect{Kind: EffStartTimer, Timer: TimerNegotiation})
}

// streamOpen answers the first element of a stream.
func (m *machine) streamOpen(ev Event) {
	s := &m.s
	if s.Phase != WaitForStream || ev.Header == nil {
		// S-15: the framer reports a header only at the start of a stream.
		m.fail("internal-server-error", "")
		return
	}
	h := ev.Header
	s.StreamID = ev.ID
	s.Lang = h.Lang
	switch {
	case h.Space != NSStreams:
		m.fail("invalid-namespace", "") // S-5
		return
	case h.Local != "stream":
		m.fail("bad-format", "") // S-5
		return
	case h.Default != NSClient:
		m.fail("invalid-namespace", "") // S-6
		return
	}
	if !streamVersion(h.Version) {
		m.fail("unsupported-version", "") // S-7
		return
	}
	if h.To == "" {
		m.fail("improper-addressing", "A 'to' attribute is required on stream headers") // S-8
		return
	}
	host, err := jid.PrepDomain(h.To)
	if err != nil {
		m.fail("improper-addressing", "") // S-8
		return
	}
	switch {
	case s.Host == "" && !s.policy().serves(host):
		m.fail("host-unknown", "") // S-9
		return
	case s.Host != "" && host != s.Host:
		m.fail("not-authorized", "") // S-10
		return
	}
	s.Host = host
	to := ""
	if from, err := jid.Parse(h.From); err == nil && h.From != "" {
		to = from.Bare().String()
	}
	m.sendHeader(to) // S-11
	m.features()
}

// streamVersion reports whether a client's stream version is one this
// server speaks (RFC 6120 §4.7.5): major and minor are integers compared
// apart, leading zeros ignored; the server answers with the lower of the two
// versions, 1.0, so any major version from 1 up is accepted (a client that
// cannot use 1.0 closes the stream itself). A missing version means 0.9
// (pre-XMPP 1.0 protocols this server does not speak), as does a major
// version 0; text that is not two integers is not a version.
func streamVersion(v string) bool {
	dot := strings.IndexByte(v, '.')
	if dot < 0 || !digits(v[:dot]) || !digits(v[dot+1:]) {
		return false
	}
	return strings.TrimLeft(v[:dot], "0") != ""
}

// digits reports whether s is one or more ASCII digits.
func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// sendHeader writes the server's stream header for the current stream.
func (m *machine) sendHeader(to string) {
	s := &m.s
	from := s.Host
	if from == "" && len(s.policy().Hosts) > 0 {
		from = s.policy().Hosts[0]
	}
	lang := s.Lang
	if lang == "" {
		lang = "en"
	}
	m.emit(Effect{Kind: EffSendHeader, Header: &OutHeader{
		ID: s.StreamID, From: from, To: to, Version: "1.0", Lang: lang,
	}})
	s.NotOpen = false
}

// features offers what the session can negotiate next (S-12, S-13, S-14)
// and moves to the phase that waits for it.
func (m *machine) features() {
	s := &m.s
	p := s.policy()
	el := etree.NewElement("stream:features")
	var offered Features
	if s.Authenticated() {
		el.AddChild(nsElement("bind", NSBind))
		offered |= FeatureBind
		if p.LegacySession {
			sess := nsElement("session", NSSession)
			sess.CreateElement("optional")
			el.AddChild(sess)
			offered |= FeatureSession
		}
		if p.RosterVersioning {
			el.AddChild(nsElement("ver", NSRosterVer))
			offered |= FeatureRosterVer
		}
		if p.PreApproval {
			el.AddChild(nsElement("sub", NSPreApprove))
			offered |= FeaturePreApproval
		}
		s.Phase = WaitForBind
	} else {
		if p.TLS && !s.Secure {
			tls := nsElement("starttls", NSTLS)
			offered |= FeatureStartTLS
			if p.RequireTLS {
				tls.CreateElement("required")
				offered |= FeatureStartTLSRequired
			}
			el.AddChild(tls)
		}
		if !offered.Has(FeatureStartTLSRequired) {
			mechs := nsElement("mechanisms", NSSASL)
			for _, mech := range p.Mechanisms {
				if mech.NeedsTLS && !s.Secure {
					continue
				}
				mechs.CreateElement("mechanism").SetText(mech.Name)
				offered |= FeatureMechanisms
			}
			if offered.Has(FeatureMechanisms) {
				el.AddChild(mechs)
			}
		}
		if offered == 0 {
			m.fail("undefined-condition", "No stream features to proceed with") // S-13
			return
		}
		s.Phase = WaitForFeature
	}
	s.Offered = offered
	m.emit(Effect{Kind: EffSend, Elem: el})
}
