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
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	lg := &Log{}
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if line == 1 {
			if err := strict(text, &lg.Header); err != nil {
				return nil, fmt.Errorf("line 1: not a session log header: %v", err)
			}
			if lg.Header.Format != Format {
				return nil, fmt.Errorf("line 1: not a session log: format %q, want %q", lg.Header.Format, Format)
			}
			if lg.Header.Version != Version {
				return nil, fmt.Errorf("line 1: session log version %d, this program reads version %d", lg.Header.Version, Version)
			}
			continue
		}
		if len(text) == 0 {
			continue
		}
		var st Step
		if err := strict(text, &st); err != nil {
			return nil, fmt.Errorf("line %d: not a step: %v", line, err)
		}
		if want := len(lg.Steps) + 1; st.N != want {
			return nil, fmt.Errorf("line %d: step %d where step %d should be", line, st.N, want)
		}
		if _, err := DecodeEvent(st.Event); err != nil {
			return nil, fmt.Errorf("line %d: step %d: event: %v", line, st.N, err)
		}
		for i, e := range st.Effects {
			if err := checkEffect(e); err != nil {
				return nil, fmt.Errorf("line %d: step %d: effect %d: %v", line, st.N, i+1, err)
			}
		}
		st.Line = line
		lg.Steps = append(lg.Steps, st)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d: longer than %d bytes", line+1, maxLine)
		}
		return nil, err
	}
	if line == 0 {
		return nil, errors.New("empty: not a session log")
	}
	return lg, nil
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
