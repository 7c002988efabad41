package xmppdtest

import (
	"strconv"
	"strings"
)

// LogLine is one line of xmppd's structured log (log/slog's text format:
// key=value pairs, values quoted when they need it), by key.
type LogLine map[string]string

// ParseLogLine parses one line of slog's text format. Anything it cannot
// read ends the line: the test then sees the keys read so far.
func ParseLogLine(s string) LogLine {
	l := LogLine{}
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

// rawKey keeps a collected line's text (Log).
const rawKey = "\x00raw"

// Raw returns the line as xmppd wrote it, for a line Log collected.
func (l LogLine) Raw() string { return l[rawKey] }

// Find returns the first of lines with message msg.
func Find(lines []LogLine, msg string) (LogLine, bool) {
	for _, l := range lines {
		if l["msg"] == msg {
			return l, true
		}
	}
	return nil, false
}

// Count returns the number of lines with message msg.
func Count(lines []LogLine, msg string) int {
	n := 0
	for _, l := range lines {
		if l["msg"] == msg {
			n++
		}
	}
	return n
}
