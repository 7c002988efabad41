package stream

import (
	"errors"
	"sync"
)

// ErrIdle may be returned by a Reader's source, with no bytes, to say that
// no input came for a while. The Reader then gives its read buffer back to
// a pool, when it holds no unread input, reads on with a few bytes of
// buffer until input comes, and takes a full buffer again for what
// follows. An idle connection thus holds no read buffer; a busy one never
// sees ErrIdle and reads as before. ErrIdle is never returned by Next.
//
// A source returns ErrIdle at most once per quiet period: a Read after it
// waits for input (or the source's own limits).
var ErrIdle = errors.New("stream: no input for a while")

// idleBufSize is the buffer an idle reader reads into: the first bytes of
// the next stanza, after which it takes a full buffer.
const idleBufSize = 16

// readBufs recycles the full read buffers of readers gone idle.
var readBufs = sync.Pool{New: func() any { return new([bufSize]byte) }}

// shrink gives the full buffer back when nothing unread is in it (fill has
// compacted it: w is 0).
func (b *byteReader) shrink() {
	if b.w != 0 || len(b.buf) != bufSize {
		return
	}
	readBufs.Put((*[bufSize]byte)(b.buf))
	b.buf = b.small[:]
}

// grow takes a full buffer again, keeping what the small one holds; fill
// calls it after compacting.
func (b *byteReader) grow() {
	if len(b.buf) == bufSize {
		return
	}
	full := readBufs.Get().(*[bufSize]byte)
	copy(full[:], b.buf[:b.w])
	b.buf = full[:]
}

// Wait returns once there is input for Next, or the connection failed
// (Next then says how); at once when read input waits to be parsed. A
// reader goroutine that waits for input here, between its steps, rather
// than deep inside Next, waits on a shallow stack, which the runtime
// shrinks while the connection is idle.
func (r *Reader) Wait() {
	b := &r.br
	if r.done || r.err != nil || b.r < b.w || b.bad || b.err != nil {
		return
	}
	b.fill()
}
