package stream_test

import (
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/stream"
)

// FuzzReader reads arbitrary input, alone and after a client's header,
// with the default limits and with small ones. It checks that Reader never
// panics; that the events are a header, elements, then at most one
// EvStreamEnd or EvXMLError after which Next returns io.EOF; that reading
// one byte at a time gives the same events; and that every element read,
// written by Writer and read again, is the same element. The seed corpus
// is in testdata/fuzz/FuzzReader.
func FuzzReader(f *testing.F) {
	f.Add([]byte(hdr + `<message to='a@b'><body>hi</body></message></stream:stream>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, in := range []string{string(data), hdr + string(data)} {
			for _, opts := range []stream.ReaderOptions{{}, {MaxStanza: 64, MaxDepth: 3}} {
				fuzzCheck(t, in, opts)
			}
		}
	})
}

func fuzzCheck(t *testing.T, in string, opts stream.ReaderOptions) {
	res := read(t, strings.NewReader(in), opts)
	var els []*etree.Element
	for i, ev := range res.events {
		switch {
		case i == 0 && ev.Kind == fsm.EvStreamOpen:
			if ev.Header == nil {
				t.Fatalf("header event without a header")
			}
		case i > 0 && ev.Kind == fsm.EvElement:
			if ev.Elem == nil || ev.Elem.Parent() != nil {
				t.Fatalf("element event %d: %v", i, ev.Elem)
			}
			els = append(els, ev.Elem)
		case i == len(res.events)-1 && (ev.Kind == fsm.EvStreamEnd || ev.Kind == fsm.EvXMLError):
			if ev.Kind == fsm.EvXMLError && ev.Condition == "" {
				t.Fatalf("error without a condition")
			}
		default:
			t.Fatalf("event %d is %s: %q", i, describe(ev), res.lines)
		}
	}
	// Restarting the stream on what is left (as after SASL success) is the
	// same at once and one byte at a time, too.
	all := restarts(t, strings.NewReader(in), opts)
	if one := restarts(t, iotest.OneByteReader(strings.NewReader(in)), opts); !slices.Equal(one, all) {
		t.Fatalf("one byte at a time:\n%q\nat once:\n%q", one, all)
	}
	if len(els) == 0 {
		return
	}
	back := roundTrip(t, els)
	for i := range els {
		if d := sameElement(els[i], back[i]); d != "" {
			t.Fatalf("element %d changed by a round trip: %s\n%s\n%s", i, d, fsm.XML(els[i]), fsm.XML(back[i]))
		}
	}
}

// restarts reads a stream and up to two more after Reset, and returns the
// events and error texts of all.
func restarts(t *testing.T, src io.Reader, opts stream.ReaderOptions) []string {
	r := stream.NewReader(src, opts)
	var out []string
	for i := range 3 {
		if i > 0 {
			r.Reset(nil)
			out = append(out, "reset")
		}
		res := readAll(t, r)
		out = append(out, res.lines...)
		out = append(out, res.texts...)
	}
	return out
}
