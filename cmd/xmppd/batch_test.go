package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xmppfsm/xmppfsm/impl/sasl"
)

func TestUserAddBatch(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	e, out := testEnv(context.Background(), "# accounts\nalice@localhost s1\n\nbob s2 with spaces\ncarol@localhost c\n")
	if err := runWith(e, []string{"user", "add", "--batch", "--data", data}); err != nil {
		t.Fatalf("user add --batch: %v", err)
	}
	if out.String() != "added 3 users\n" {
		t.Errorf("output %q", out)
	}
	e, out = testEnv(context.Background(), "")
	if err := runWith(e, []string{"user", "list", "--data", data}); err != nil || out.String() != "alice\nbob\ncarol\n" {
		t.Fatalf("user list: %q %v", out, err)
	}
	// The password is everything after the first space.
	if !hasPassword(t, data, "bob", "s2 with spaces") || hasPassword(t, data, "bob", "s2") {
		t.Error("bob's password is not the rest of the line")
	}

	for _, c := range []struct{ in, want string }{
		{"dave@localhost\n", "line 1: want 'JID PASSWORD'"},
		{"ok@localhost p\n@localhost p\n", "line 2"},
		{"erin p\nalice p\n", "line 2: user alice already exists"},
	} {
		e, _ := testEnv(context.Background(), c.in)
		err := runWith(e, []string{"user", "add", "--batch", "--data", data})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.in, err, c.want)
		}
	}
	// A bad line fails the batch before any account is created.
	e, out = testEnv(context.Background(), "")
	if err := runWith(e, []string{"user", "list", "--data", data}); err != nil || strings.Contains(out.String(), "ok\n") {
		t.Errorf("user list after a bad batch: %q %v", out, err)
	}
	e, _ = testEnv(context.Background(), "")
	if err := runWith(e, []string{"user", "add", "x@localhost", "--batch", "--data", data}); err == nil {
		t.Error("--batch with a JID accepted")
	}
}

// TestUserAddBatchBlanks: a tab separates as a space does, a run of them
// counts as one, and the password is the rest of the line as it stands.
func TestUserAddBatchBlanks(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	e, _ := testEnv(context.Background(), "alice@localhost\tin ner  spaces \nbob \t \tb0b\n\t\n")
	if err := runWith(e, []string{"user", "add", "--batch", "--data", data}); err != nil {
		t.Fatalf("user add --batch: %v", err)
	}
	for _, c := range []struct{ user, pw string }{{"alice", "in ner  spaces "}, {"bob", "b0b"}} {
		if !hasPassword(t, data, c.user, c.pw) {
			t.Errorf("%s's password is not %q", c.user, c.pw)
		}
	}
	for _, wrong := range []string{"in ner  spaces", "in ner spaces", "\tin ner  spaces "} {
		if hasPassword(t, data, "alice", wrong) {
			t.Errorf("alice's password %q accepted", wrong)
		}
	}
}

// hasPassword reports whether user's stored credentials in data accept pw.
func hasPassword(t *testing.T, data, user, pw string) bool {
	t.Helper()
	st, err := openStore(data)
	if err != nil {
		t.Fatal(err)
	}
	b, ok, err := st.Account(user)
	st.Close()
	if err != nil || !ok {
		t.Fatalf("%s: %v %v", user, ok, err)
	}
	creds := &sasl.Credentials{}
	if err := creds.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	return creds.Verify(pw)
}
