package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Log is a session log read back.
type Log struct {
	Header Header
	Steps  []Step
}

// maxLine bounds one line of a log: a step holds at most a few stanzas.
const maxLine = 64 << 20

// Read reads a log. Its errors name the line ("line 3: …") and say what is
// wrong: not JSON, a field that is not part of the format, a header of
// another format or version, a step out of order, an event or an element
// that cannot be decoded.
func Read(r io.Reader) (*Log, error) {
	lg := &Log{}
	h := &lg.Header
	err := scanLog(r, "session log", h, func() (string, int) { return h.Format, h.Version }, Format,
		func(line int, text []byte) error {
			var st Step
			if err := strict(text, &st); err != nil {
				return fmt.Errorf("not a step: %v", err)
			}
			if want := len(lg.Steps) + 1; st.N != want {
				return fmt.Errorf("step %d where step %d should be", st.N, want)
			}
			if _, err := DecodeEvent(st.Event); err != nil {
				return fmt.Errorf("step %d: event: %v", st.N, err)
			}
			for i, e := range st.Effects {
				if err := checkEffect(e); err != nil {
					return fmt.Errorf("step %d: effect %d: %v", st.N, i+1, err)
				}
			}
			st.Line = line
			lg.Steps = append(lg.Steps, st)
			return nil
		})
	if err != nil {
		return nil, err
	}
	return lg, nil
}

// scanLog reads a JSON-lines log of the kind what: its first line into
// header, whose format (given by id) must be format and whose version
// Version; then each other line that is not blank, given to each. Its
// errors name the line.
func scanLog(r io.Reader, what string, header any, id func() (string, int), format string, each func(line int, text []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if line == 1 {
			if err := strict(text, header); err != nil {
				return fmt.Errorf("line 1: not a %s header: %v", what, err)
			}
			switch f, v := id(); {
			case f != format:
				return fmt.Errorf("line 1: not a %s: format %q, want %q", what, f, format)
			case v != Version:
				return fmt.Errorf("line 1: %s version %d, this program reads version %d", what, v, Version)
			}
			continue
		}
		if len(text) == 0 {
			continue
		}
		if err := each(line, text); err != nil {
			return fmt.Errorf("line %d: %v", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("line %d: longer than %d bytes", line+1, maxLine)
		}
		return err
	}
	if line == 0 {
		return fmt.Errorf("empty: not a %s", what)
	}
	return nil
}

// strict decodes one JSON value from b, refusing unknown fields and
// anything after the value.
func strict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value on the line")
	}
	return nil
}

// checkEffect checks that a recorded effect names a known kind and holds
// an element that parses.
func checkEffect(e Effect) error {
	if _, ok := effectKinds[e.Kind]; !ok {
		return fmt.Errorf("unknown effect kind %q", e.Kind)
	}
	if _, err := decodeElem(e.Elem); err != nil {
		return err
	}
	if _, err := decodeTimer(e.Timer); err != nil {
		return err
	}
	return nil
}
