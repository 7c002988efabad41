package store_test

import (
	"errors"
	"testing"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/impl/store"
)

// The canonical form: what is escaped where.
func TestMarshalElement(t *testing.T) {
	el := etree.NewElement("m")
	el.CreateAttr("a", "<&>\"'\t\n\r")
	el.SetText("<&>\"'\t\n\r")
	got := string(store.MarshalElement(el))
	want := `<m a="&lt;&amp;>&quot;'&#x9;&#xA;&#xD;">&lt;&amp;&gt;"'` + "\t\n" + `&#xD;</m>`
	if got != want {
		t.Errorf("MarshalElement = %q, want %q", got, want)
	}
	back, err := store.UnmarshalElement([]byte(got))
	if err != nil {
		t.Fatal(err)
	}
	if back.Text() != "<&>\"'\t\n\r" || back.SelectAttrValue("a", "") != "<&>\"'\t\n\r" {
		t.Errorf("read back text %q, attribute %q", back.Text(), back.SelectAttrValue("a", ""))
	}
	if back.Parent() != nil {
		t.Error("read back element has a parent")
	}
}

func TestUnmarshalElementRejects(t *testing.T) {
	for _, text := range []string{"", "text", "<a>", "<a/><b/>", "<a/>tail", "<?xml version='1.0'?><a/>", "<a b/>"} {
		if el, err := store.UnmarshalElement([]byte(text)); err == nil {
			t.Errorf("UnmarshalElement(%q) = %s, want an error", text, store.MarshalElement(el))
		}
	}
}

func TestEncodeElement(t *testing.T) {
	if _, err := store.EncodeElement(nil); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("EncodeElement(nil): %v", err)
	}
	if _, err := store.EncodeElement(etree.NewElement("a b")); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("EncodeElement of a bad tag: %v", err)
	}
}

func TestChecks(t *testing.T) {
	for _, l := range []string{"a", "ünï", "a.b"} {
		if err := store.CheckLocal(l); err != nil {
			t.Errorf("CheckLocal(%q): %v", l, err)
		}
	}
	for _, l := range []string{"", "a@b", "a\x00"} {
		if err := store.CheckLocal(l); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CheckLocal(%q): %v", l, err)
		}
	}
	for _, j := range []string{"", "a\x00@b"} {
		if err := store.CheckJID(j); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CheckJID(%q): %v", j, err)
		}
	}
	if got := store.LocalOf("a@b"); got != "a" {
		t.Errorf("LocalOf(a@b) = %q", got)
	}
	if got := store.LocalOf("b"); got != "" {
		t.Errorf("LocalOf(b) = %q", got)
	}
}
