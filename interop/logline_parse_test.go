package interop

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseLogLine(t *testing.T) {
	for _, c := range []struct {
		in   string
		want logLine
	}{
		{`time=2026-11-25T23:00:00.000Z level=INFO msg=listening addr=127.0.0.1:40001`,
			logLine{"time": "2026-11-25T23:00:00.000Z", "level": "INFO", "msg": "listening", "addr": "127.0.0.1:40001"}},
		{`level=INFO msg="connection closed" conn=c1 reason="closed by server"`,
			logLine{"level": "INFO", "msg": "connection closed", "conn": "c1", "reason": "closed by server"}},
		{`level=INFO msg="a \"quoted\" word" x=`, logLine{"level": "INFO", "msg": `a "quoted" word`, "x": ""}},
		{`xmppd: listen tcp: address in use`, logLine{}},
		{`level=INFO msg="unterminated`, logLine{"level": "INFO"}},
	} {
		if diff := cmp.Diff(c.want, parseLogLine(c.in)); diff != "" {
			t.Errorf("parseLogLine(%q): -want +got\n%s", c.in, diff)
		}
	}
}
