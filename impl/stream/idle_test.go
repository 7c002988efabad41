package stream

import (
	"io"
	"strings"
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
)

// idleSource hands out its chunks one Read at a time; an empty chunk is a
// quiet period (ErrIdle). It records the size of every Read's buffer.
type idleSource struct {
	chunks []string
	sizes  []int  // the buffer of each Read
	data   []bool // whether it returned bytes
}

func (s *idleSource) Read(p []byte) (int, error) {
	s.sizes = append(s.sizes, len(p))
	s.data = append(s.data, len(s.chunks) > 0 && s.chunks[0] != "")
	if len(s.chunks) == 0 {
		return 0, io.EOF
	}
	c := s.chunks[0]
	if c == "" {
		s.chunks = s.chunks[1:]
		return 0, ErrIdle
	}
	n := copy(p, c)
	if n == len(c) {
		s.chunks = s.chunks[1:]
	} else {
		s.chunks[0] = c[n:]
	}
	return n, nil
}

// An idle reader gives its buffer back and reads the next stanza's first
// bytes into a small one, then the rest into a full one; the events are
// those of the same input without quiet periods, and quiet periods without
// end (more than fill's 100 empty reads) are not an error.
func TestReaderIdle(t *testing.T) {
	const hdr = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>"
	msg := "<message to='juliet@localhost' id='m1'><body>" + strings.Repeat("wherefore art thou ", 20) + "é</body></message>"
	chunks := []string{hdr}
	for range 150 {
		chunks = append(chunks, "")
	}
	// A quiet period inside a UTF-8 sequence: the byte held is kept.
	cut := strings.Index(msg, "é") + 1
	chunks = append(chunks, msg[:cut], "", msg[cut:], "", "<presence/>", "", "</stream:stream>")
	src := &idleSource{chunks: chunks}
	r := NewReader(src, ReaderOptions{})
	var got []string
	for {
		ev, err := r.Next()
		if err != nil {
			t.Fatalf("Next: %v (after %v)", err, got)
		}
		switch ev.Kind {
		case fsm.EvStreamOpen:
			got = append(got, "open")
		case fsm.EvElement:
			got = append(got, ev.Elem.Tag)
		case fsm.EvStreamEnd:
			got = append(got, "end")
		default:
			t.Fatalf("event %v %s %s", ev.Kind, ev.Condition, ev.Text)
		}
		if ev.Kind == fsm.EvStreamEnd {
			break
		}
	}
	if strings.Join(got, " ") != "open message presence end" {
		t.Fatalf("events %v", got)
	}
	// The reads: a full buffer for the header; after each quiet period a
	// small one, and once it got input a full one again.
	small := 0
	for i, n := range src.sizes {
		if n == idleBufSize && src.data[i] {
			small++
			if i+1 < len(src.sizes) && src.sizes[i+1] < bufSize-idleBufSize {
				t.Errorf("read %d after an idle read had %d bytes of buffer", i+1, src.sizes[i+1])
			}
		}
	}
	if src.sizes[0] != bufSize || small < 3 {
		t.Errorf("buffer sizes of the reads: %v", src.sizes)
	}
}

// Wait reads only when nothing read waits to be parsed, and what it read
// is what Next parses next; after the end of the input it returns at once
// and Next reports the end.
func TestReaderWait(t *testing.T) {
	const hdr = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>"
	src := &idleSource{chunks: []string{hdr + "<presence/>", "", "<message/>"}}
	r := NewReader(src, ReaderOptions{})
	r.Wait()
	if len(src.sizes) != 1 {
		t.Fatalf("Wait made %d reads, want 1", len(src.sizes))
	}
	for _, want := range []fsm.EventKind{fsm.EvStreamOpen, fsm.EvElement} {
		r.Wait() // input is buffered: no read
		if ev, err := r.Next(); err != nil || ev.Kind != want {
			t.Fatalf("Next: %v %v, want %v", ev.Kind, err, want)
		}
	}
	if len(src.sizes) != 1 {
		t.Fatalf("%d reads for buffered input, want 1", len(src.sizes))
	}
	r.Wait() // a quiet period, then <message/>
	if ev, err := r.Next(); err != nil || ev.Kind != fsm.EvElement || ev.Elem.Tag != "message" {
		t.Fatalf("Next after Wait: %v %v", ev.Kind, err)
	}
	r.Wait()
	r.Wait()
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next at the end: %v, want EOF", err)
	}
}
