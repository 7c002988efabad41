package fsm_test

import (
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/spec"
)

// header steps a connected session's stream header with version v.
func header(p *fsm.Policy, mod func(*fsm.StreamHeader)) (fsm.Session, []fsm.Effect) {
	s := fsm.New(p)
	s, _ = fsm.Step(s, spec.Connect.Event())
	ev := spec.Header.Event()
	mod(ev.Header)
	return fsm.Step(s, ev)
}

// TestStreamVersion lists the versions S-7 accepts and refuses.
func TestStreamVersion(t *testing.T) {
	p := spec.Policies()["rfc"]
	for v, ok := range map[string]bool{
		"1.0": true, "1.1": true, "01.0": true, "1.00": true, "2.0": true, "10.3": true,
		"": false, "0.9": false, "00.9": false, "1": false, "1.": false, ".0": false,
		"1.x": false, "x.0": false, "1.0.0": false, "1./": false, "1.:": false, "/.0": false,
		":.0": false, " 1.0": false, "-1.0": false, "1.0 ": false,
	} {
		s, _ := header(p, func(h *fsm.StreamHeader) { h.Version = v })
		if got := s.Phase == fsm.WaitForFeature; got != ok {
			t.Errorf("version %q: accepted %v, want %v (phase %v)", v, got, ok, s.Phase)
		}
	}
}

// TestHeaderWithoutHosts checks that a server serving no host answers any
// header with host-unknown, and a header from nobody in particular (S-16).
func TestHeaderWithoutHosts(t *testing.T) {
	p := fsm.DefaultPolicy
	p.Hosts = nil
	s, effects := header(&p, func(*fsm.StreamHeader) {})
	if s.Phase != fsm.Closed || len(effects) < 2 || effects[0].Kind != fsm.EffSendHeader || effects[0].Header.From != "" {
		t.Fatalf("phase %v, effects %v", s.Phase, effects)
	}
}

// TestOfferedFeatures checks the features each kind of stream records as
// offered (S-12, S-14), and that a mechanism that needs TLS does not hide
// the ones after it.
func TestOfferedFeatures(t *testing.T) {
	tls := *spec.Policies()["rfc"]
	tls.Mechanisms = []fsm.Mechanism{{Name: "PLAIN", NeedsTLS: true}, {Name: "SCRAM-SHA-256"}}
	s, effects := header(&tls, func(*fsm.StreamHeader) {})
	if want := fsm.FeatureStartTLS | fsm.FeatureMechanisms; s.Offered != want {
		t.Errorf("before TLS: offered %v, want %v", s.Offered, want)
	}
	if got := fsm.XML(effects[1].Elem); got != "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-256</mechanism></mechanisms></stream:features>" {
		t.Errorf("before TLS: %s", got)
	}
	required := tls
	required.RequireTLS = true
	if s, _ := header(&required, func(*fsm.StreamHeader) {}); s.Offered != fsm.FeatureStartTLS|fsm.FeatureStartTLSRequired {
		t.Errorf("required TLS: offered %v", s.Offered)
	}
	s = reach(t, &tls, spec.Connect, spec.Header, spec.AuthSCRAM, spec.Success, spec.Header)
	if want := fsm.FeatureBind | fsm.FeatureSession | fsm.FeatureRosterVer | fsm.FeaturePreApproval; s.Offered != want {
		t.Errorf("after auth: offered %v, want %v", s.Offered, want)
	}
	bare := tls
	bare.LegacySession, bare.RosterVersioning, bare.PreApproval = false, false, false
	s = reach(t, &bare, spec.Connect, spec.Header, spec.AuthSCRAM, spec.Success, spec.Header)
	if s.Offered != fsm.FeatureBind {
		t.Errorf("after auth, no extras: offered %v", s.Offered)
	}
}

// TestNamesOutOfRange checks the names of values outside each enumeration.
func TestNamesOutOfRange(t *testing.T) {
	for got, want := range map[string]string{
		fsm.Type(4).String():                             "type(?)",
		fsm.Phase(fsm.NumPhases).String():                "phase(?)",
		fsm.EventKind(fsm.EvOutputOverflow + 1).String(): "event(?)",
		(fsm.EffStopTimer + 1).String():                  "effect(?)",
		fsm.Class(fsm.ClassStreamError + 1).String():     "class(?)",
		fsm.Timer(3).String():                            "timer(?)",
		fsm.Type(3).String():                             "c2s_destroyed",
		fsm.EffStopTimer.String():                        "stop-timer",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

// TestPhaseAuthenticated lists which phases come after SASL success.
func TestPhaseAuthenticated(t *testing.T) {
	want := map[fsm.Phase]bool{fsm.WaitForBind: true, fsm.WaitForResource: true,
		fsm.WaitForRoster: true, fsm.Established: true}
	for p := fsm.Phase(0); int(p) < fsm.NumPhases; p++ {
		if p.Authenticated() != want[p] {
			t.Errorf("%v.Authenticated() = %v", p, p.Authenticated())
		}
	}
}
