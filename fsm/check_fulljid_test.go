package fsm

import "testing"

// TestIsFullJID checks isFullJID against the string it stands for, over
// every way of splitting short JIDs whose parts hold '@' and '/' too.
func TestIsFullJID(t *testing.T) {
	parts := []string{"", "a", "ab", "@", "/", "a@", "a/b", "b"}
	fulls := []string{"", "a@b/c", "ab@a/b", "a@a/b", "@@//", "a@@/", "a@/", "@/", "a@a@/a/b", "ab@ab/ab", "a/b@b/a"}
	for _, l := range parts {
		for _, d := range parts {
			for _, r := range parts {
				joined := l + "@" + d + "/" + r
				for _, f := range append(fulls, joined, joined+"x", "x"+joined) {
					if got, want := isFullJID(f, l, d, r), f == joined; got != want {
						t.Errorf("isFullJID(%q, %q, %q, %q) = %v, want %v", f, l, d, r, got, want)
					}
				}
			}
		}
	}
}
