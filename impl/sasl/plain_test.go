package sasl

import (
	"strings"
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
)

func plainMsg(authz, authc, pw string) []byte { return []byte(authz + "\x00" + authc + "\x00" + pw) }

func TestPlain(t *testing.T) {
	a := newAccounts(t, "juliet", "r0m30myr0m30", "émile", "pässwörd", "ix", "I\u00ADX")
	s := newServer(t, a, Options{Domains: []string{"capulet.example"}})
	for _, c := range []struct {
		name, msg string
		cond      string // "" for success
		user      string
	}{
		{"success", "\x00juliet\x00r0m30myr0m30", "", "juliet"},
		{"authzid = authcid", "juliet\x00juliet\x00r0m30myr0m30", "", "juliet"},
		{"authzid bare JID", "juliet@capulet.example\x00juliet\x00r0m30myr0m30", "", "juliet"},
		{"wrong password", "\x00juliet\x00wrong", "not-authorized", ""},
		{"password case", "\x00juliet\x00R0M30MYR0M30", "not-authorized", ""},
		{"unknown user", "\x00romeo\x00r0m30myr0m30", "not-authorized", ""},
		{"other authzid", "romeo\x00juliet\x00r0m30myr0m30", "invalid-authzid", ""},
		{"other authzid, wrong password", "romeo\x00juliet\x00wrong", "invalid-authzid", ""},
		{"authzid other domain", "juliet@montague.example\x00juliet\x00r0m30myr0m30", "invalid-authzid", ""},
		{"authzid full JID", "juliet@capulet.example/balcony\x00juliet\x00r0m30myr0m30", "invalid-authzid", ""},
		{"no NUL", "julietr0m30myr0m30", "malformed-request", ""},
		{"one NUL", "juliet\x00r0m30myr0m30", "malformed-request", ""},
		{"three NULs", "\x00juliet\x00r0m30myr0m30\x00", "malformed-request", ""},
		{"empty authcid", "\x00\x00r0m30myr0m30", "malformed-request", ""},
		{"empty password", "\x00juliet\x00", "malformed-request", ""},
		{"empty", "", "malformed-request", ""},
		{"bad UTF-8", "\x00juliet\x00r0m30\xffmyr0m30", "malformed-request", ""},
		{"long password", "\x00juliet\x00" + strings.Repeat("x", maxPlainField+1), "malformed-request", ""},
		{"prohibited in password", "\x00juliet\x00r0m30\u0007", "not-authorized", ""},
		{"prohibited in authcid", "\x00jul\u0007iet\x00r0m30myr0m30", "not-authorized", ""},
		{"authcid mapped to nothing", "\x00\u00AD\x00r0m30myr0m30", "not-authorized", ""},
		// SASLprep: the soft hyphen maps to nothing, NFKC composes and
		// folds compatibility characters.
		{"SASLprep password I\\u00ADX = IX", "\x00ix\x00IX", "", "ix"},
		{"SASLprep password \\u2168 = IX", "\x00ix\x00\u2168", "", "ix"},
		{"SASLprep password stored as typed", "\x00ix\x00I\u00ADX", "", "ix"},
		{"SASLprep authcid", "\x00ju\u00ADliet\x00r0m30myr0m30", "", "juliet"},
		{"non-ASCII password, NFC", "\x00émile\x00pässwörd", "", "émile"},
		{"non-ASCII password, NFD", "\x00e\u0301mile\x00pa\u0308sswo\u0308rd", "", "émile"},
		{"non-ASCII password, wrong", "\x00émile\x00passwörd", "not-authorized", ""},
		{"non-ASCII space", "\x00juliet\x00r0m30myr0m30\u00a0", "not-authorized", ""},
	} {
		for _, initial := range []bool{true, false} {
			var x Exchange
			var ev fsm.Event
			if initial {
				x, ev = s.Start(Plain, []byte(c.msg), ChannelBinding{})
			} else {
				x, ev = s.Start(Plain, nil, ChannelBinding{})
				if ev.Kind != fsm.EvSASLChallenge || ev.Data == nil || len(ev.Data) != 0 {
					t.Fatalf("%s: %+v, want an empty challenge", c.name, ev)
				}
				ev = x.Step([]byte(c.msg))
			}
			if c.cond == "" {
				if ev.Kind != fsm.EvSASLSuccess || ev.Username != c.user || ev.Data != nil {
					t.Errorf("%s: %v %q %q, want success as %q", c.name, ev.Kind, ev.Condition, ev.Username, c.user)
				}
			} else if ev.Kind != fsm.EvSASLFailure || ev.Condition != c.cond {
				t.Errorf("%s: %v %q, want %q", c.name, ev.Kind, ev.Condition, c.cond)
			}
			wantFailure(t, x.Step(plainMsg("", "juliet", "r0m30myr0m30")), "malformed-request")
		}
	}
}

func TestPlainLookupError(t *testing.T) {
	a := newAccounts(t, "juliet", "pw")
	a.err = errStore
	s := newServer(t, a, Options{})
	_, ev := s.Start(Plain, plainMsg("", "juliet", "pw"), ChannelBinding{})
	wantFailure(t, ev, "temporary-auth-failure")
}

// An account with only a SHA-1 credential is checked against it; one with
// none is an unknown account.
func TestPlainPartialCredentials(t *testing.T) {
	a := newAccounts(t, "juliet", "pw", "romeo", "pw")
	c := a.creds["juliet"]
	c.SHA256 = HashCredentials{}
	a.creds["juliet"] = c
	a.creds["romeo"] = Credentials{}
	s := newServer(t, a, Options{})
	_, ev := s.Start(Plain, plainMsg("", "juliet", "pw"), ChannelBinding{})
	if ev.Kind != fsm.EvSASLSuccess {
		t.Errorf("SHA-1 only: %+v", ev)
	}
	_, ev = s.Start(Plain, plainMsg("", "romeo", "pw"), ChannelBinding{})
	wantFailure(t, ev, "not-authorized")
	// SCRAM-SHA-256 for an account without a SHA-256 credential runs
	// against a fake one.
	tr := run(t, s, ScramSHA256, client(t, ScramSHA256, "juliet", "pw", "", nil, false), ChannelBinding{}, false, nil)
	wantFailure(t, tr.last(), "not-authorized")
	if len(tr.events) != 2 {
		t.Errorf("SHA-256 without credential: %d events", len(tr.events))
	}
	wantSuccess(t, run(t, s, ScramSHA1, client(t, ScramSHA1, "juliet", "pw", "", nil, false), ChannelBinding{}, false, nil), "juliet")
}

// The lookup sees the prepared username, once per attempt, and PLAIN for
// an unknown user does PBKDF2 all the same (checked through the cost: the
// fake credential has the configured iteration count).
func TestPlainUnknownUserCost(t *testing.T) {
	a := newAccounts(t)
	s := newServer(t, a, Options{Iterations: 1})
	hc, known := s.credentials(hashSHA256, "romeo", Credentials{}, false)
	if known || hc.Iterations != 1 || len(hc.Salt) != SaltSize || len(hc.StoredKey) != 32 || len(hc.ServerKey) != 32 {
		t.Fatalf("fake credential: %v %v", hc, known)
	}
	_, ev := s.Start(Plain, plainMsg("", "ro\u00ADmeo", "x"), ChannelBinding{})
	wantFailure(t, ev, "not-authorized")
	if a.calls != 1 {
		t.Errorf("%d lookups", a.calls)
	}
}
