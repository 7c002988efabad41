package stream

import (
	"testing"
	"unicode/utf8"
)

func TestValidPrefix(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		bad  bool
		name string
	}{
		{"", 0, false, "empty"},
		{"hello, world, ascii only", 24, false, "ascii"},
		{"12345678é", 10, false, "two-byte after the fast path"},
		{"abc\xe2\x82", 3, false, "cut three-byte sequence"},
		{"abc\xf0\x9f\x98", 3, false, "cut four-byte sequence"},
		{"abc\xf0\x9f\x98\x80", 7, false, "four-byte sequence"},
		{"abc\xff", 3, true, "invalid byte"},
		{"abcdefghij\x80xyz", 10, true, "stray continuation byte"},
		{"a\xe2\x28\xa1", 1, true, "bad continuation"},
		{"a\xc0\xaf", 1, true, "overlong"},
		{"a\xed\xa0\x80", 1, true, "surrogate"},
		{"a\xf4\x90\x80\x80", 1, true, "above U+10FFFF"},
	} {
		n, bad := validPrefix([]byte(tc.in))
		if n != tc.n || bad != tc.bad {
			t.Errorf("%s: validPrefix(%q) = %d, %v; want %d, %v", tc.name, tc.in, n, bad, tc.n, tc.bad)
		}
		if !bad && !utf8.ValidString(tc.in[:n]) {
			t.Errorf("%s: prefix %q is not valid", tc.name, tc.in[:n])
		}
	}
}
