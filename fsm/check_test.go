package fsm_test

import (
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/spec"
)

// reach steps the alphabet's inputs from a new session.
func reach(t *testing.T, p *fsm.Policy, path ...spec.Input) fsm.Session {
	t.Helper()
	s := fsm.New(p)
	for _, in := range path {
		s, _ = fsm.Step(s, in.Event())
	}
	return s
}

// TestCheckCatchesEachInvariant breaks each invariant in an otherwise valid
// session and checks that Check names it; the valid sessions themselves
// pass. A Check that missed a broken session would make every property
// test that relies on it vacuous.
func TestCheckCatchesEachInvariant(t *testing.T) {
	p := spec.Policies()["rfc"]
	login := []spec.Input{spec.Connect, spec.Header, spec.AuthSCRAM, spec.Success, spec.Header}
	unbound := reach(t, p, login...)
	established := reach(t, p, append(login, spec.Bind, spec.Granted, spec.RosterLoaded)...)
	available := reach(t, p, append(login, spec.Bind, spec.Granted, spec.RosterLoaded, spec.Available)...)
	feature := reach(t, p, spec.Connect, spec.Header)
	sasl := reach(t, p, spec.Connect, spec.Header, spec.AuthSCRAM)
	fresh := reach(t, p, spec.Connect)
	binding := reach(t, p, append(login, spec.Bind)...)
	closed := reach(t, p, spec.Connect, spec.StreamEnd)
	for name, s := range map[string]fsm.Session{"unbound": unbound, "established": established,
		"available": available, "feature": feature, "sasl": sasl, "fresh": fresh, "binding": binding, "closed": closed} {
		if err := s.Check(); err != nil {
			t.Fatalf("the %s session is not valid: %v", name, err)
		}
	}
	typed := etree.NewElement("presence")
	typed.CreateAttr("type", "unavailable")
	addressed := etree.NewElement("presence")
	addressed.CreateAttr("to", "bob@localhost")
	cases := []struct {
		name   string
		base   fsm.Session
		mutate func(*fsm.Session)
		want   string
	}{
		{"available, not connected", unbound, func(s *fsm.Session) { s.Presence = etree.NewElement("presence") }, "SI-1"},
		{"interested, not connected", unbound, func(s *fsm.Session) { s.Interested = true }, "SI-2"},
		{"connected without roster", established, func(s *fsm.Session) { s.Roster = false }, "SI-3"},
		{"connected without resource", established, func(s *fsm.Session) { s.Resource = "" }, "SI-3"},
		{"roster without full JID", unbound, func(s *fsm.Session) { s.Roster = true }, "SI-3"},
		{"full JID of another", established, func(s *fsm.Session) { s.FullJID = "eve@localhost/phone" }, "SI-4"},
		{"unauthed with a username", feature, func(s *fsm.Session) { s.Username = "alice" }, "SI-5"},
		{"unauthed in an authenticated phase", feature, func(s *fsm.Session) { s.Phase = fsm.WaitForBind }, "SI-5"},
		{"unbound without a username", unbound, func(s *fsm.Session) { s.Username = "" }, "SI-5"},
		{"unbound but connected", established, func(s *fsm.Session) { s.Type = fsm.TypeUnbound }, "SI-5"},
		{"c2s not established", established, func(s *fsm.Session) { s.Phase = fsm.WaitForRoster }, "SI-5"},
		{"c2s not connected", unbound, func(s *fsm.Session) { s.Type = fsm.TypeC2S }, "SI-5"},
		{"destroyed but open", established, func(s *fsm.Session) { s.Type = fsm.TypeDestroyed }, "SI-5"},
		{"established, not connected", unbound, func(s *fsm.Session) { s.Phase = fsm.Established }, "SI-5"},
		{"notopen with features", feature, func(s *fsm.Session) { s.NotOpen = true }, "SI-6"},
		{"notopen with a bind", binding, func(s *fsm.Session) { s.NotOpen = true; s.Phase = fsm.WaitForStream }, "SI-6"},
		{"notopen in SASL", sasl, func(s *fsm.Session) { s.NotOpen = true }, "SI-6"},
		{"waiting for a header on an open stream", fresh, func(s *fsm.Session) { s.NotOpen = false }, "SI-6"},
		{"stored presence with a type", available, func(s *fsm.Session) { s.Presence = typed }, "SI-7"},
		{"stored presence with a to", available, func(s *fsm.Session) { s.Presence = addressed }, "SI-7"},
		{"priority while unavailable", established, func(s *fsm.Session) { s.Priority = 1 }, "SI-8"},
		{"negative priority while unavailable", established, func(s *fsm.Session) { s.Priority = -1 }, "SI-8"},
		{"mechanism outside SASL", feature, func(s *fsm.Session) { s.Mechanism = "PLAIN" }, "SI-9"},
		{"SASL without a mechanism", sasl, func(s *fsm.Session) { s.Mechanism = "" }, "SI-9"},
		{"failures at the limit", feature, func(s *fsm.Session) { s.SASLFailures = 3 }, "SI-9"},
		{"bind id outside binding", established, func(s *fsm.Session) { s.BindID = "b1" }, "SI-10"},
		{"binding without a bind id", binding, func(s *fsm.Session) { s.BindID = "" }, "SI-10"},
		{"reserved outside binding", unbound, func(s *fsm.Session) { s.Reserved = "phone" }, "SI-10"},
		{"directed, not connected", unbound, func(s *fsm.Session) { s.Directed = []string{"bob@localhost"} }, "SI-11"},
		{"directed twice", established, func(s *fsm.Session) { s.Directed = []string{"bob@localhost", "bob@localhost"} }, "SI-11"},
		{"host not served", feature, func(s *fsm.Session) { s.Host = "elsewhere.example" }, "SI-12"},
		{"closed with a username", closed, func(s *fsm.Session) { s.Username = "alice" }, "SI-13"},
		{"closed with a stream id", closed, func(s *fsm.Session) { s.StreamID = "s1" }, "SI-13"},
		{"closed and secure", closed, func(s *fsm.Session) { s.Secure = true }, "SI-13"},
		{"closed with failures", closed, func(s *fsm.Session) { s.SASLFailures = 1 }, "SI-13"},
		{"closed with features", closed, func(s *fsm.Session) { s.Offered = fsm.FeatureBind }, "SI-13"},
		{"closed with a language", closed, func(s *fsm.Session) { s.Lang = "en" }, "SI-13"},
		{"closed with directed", closed, func(s *fsm.Session) { s.Directed = []string{} }, "SI-13"},
		{"bind before auth", feature, func(s *fsm.Session) { s.Offered |= fsm.FeatureBind }, "SI-14"},
		{"session before auth", feature, func(s *fsm.Session) { s.Offered |= fsm.FeatureSession }, "SI-14"},
		{"STARTTLS after auth", unbound, func(s *fsm.Session) { s.Offered |= fsm.FeatureStartTLS }, "SI-14"},
		{"SASL after auth", unbound, func(s *fsm.Session) { s.Offered |= fsm.FeatureMechanisms }, "SI-14"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.base
			c.mutate(&s)
			err := s.Check()
			if err == nil {
				t.Fatalf("Check passed a session that breaks %s: %+v", c.want, s)
			}
			if !strings.Contains(err.Error()+"\n", c.want+" ") {
				t.Errorf("Check did not name %s:\n%v", c.want, err)
			}
		})
	}
}
