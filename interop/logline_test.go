package interop

import (
	"strconv"
	"strings"
)

// logLine is one line of xmppd's structured log (log/slog's text format:
// key=value pairs, values quoted when they need it).
type logLine map[string]string

// parseLogLine parses one line of slog's text format. Anything it cannot
// read ends the line: the test then sees the keys read so far.
func parseLogLine(s string) logLine {
	l := logLine{}
	for {
		s = strings.TrimLeft(s, " ")
		key, rest, ok := strings.Cut(s, "=")
		if !ok || key == "" || strings.ContainsAny(key, " \"") {
			return l
		}
		var val string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return l
			}
			val, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else {
			val, rest, _ = strings.Cut(rest, " ")
		}
		l[key] = val
		s = rest
	}
}
