package xmppdtest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseLogLine(t *testing.T) {
	for _, c := range []struct {
		in   string
		want LogLine
	}{
		{`time=2026-11-25T23:00:00.000Z level=INFO msg=listening addr=127.0.0.1:40001`,
			LogLine{"time": "2026-11-25T23:00:00.000Z", "level": "INFO", "msg": "listening", "addr": "127.0.0.1:40001"}},
		{`level=INFO msg="connection closed" conn=c1 reason="closed by server"`,
			LogLine{"level": "INFO", "msg": "connection closed", "conn": "c1", "reason": "closed by server"}},
		{`level=INFO msg="a \"quoted\" word" x=`, LogLine{"level": "INFO", "msg": `a "quoted" word`, "x": ""}},
		{`xmppd: listen tcp: address in use`, LogLine{}},
		{`level=INFO msg="unterminated`, LogLine{"level": "INFO"}},
	} {
		if diff := cmp.Diff(c.want, ParseLogLine(c.in)); diff != "" {
			t.Errorf("ParseLogLine(%q): -want +got\n%s", c.in, diff)
		}
	}
}
