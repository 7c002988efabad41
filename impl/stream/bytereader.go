package stream

import (
	"encoding/binary"
	"errors"
	"io"
	"unicode/utf8"
)

// bufSize is how much the reader asks the connection for at a time. It is
// also the most it reads beyond a stanza that is too big.
const bufSize = 4096

var (
	// errTooBig: the decoder asked for a byte past the size limit.
	errTooBig = errors.New("stream: stanza too big")
	// errBadUTF8: the next byte starts an invalid UTF-8 sequence.
	errBadUTF8 = errors.New("stream: invalid UTF-8")
	// errBadRead: the connection's Read returned an impossible count.
	errBadRead = errors.New("stream: Read returned an invalid count")
)

// byteReader is the decoder's input: a buffer over the connection that
// hands out only bytes that are valid UTF-8 and lie before the size limit.
// encoding/xml reads one byte at a time through io.ByteReader, so the limit
// is exact: the decoder never sees the byte that would make an element too
// big, and nothing past the buffer is read from the connection.
type byteReader struct {
	src  io.Reader
	buf  []byte
	r    int // next byte to hand out
	v    int // buf[:v] is known to be valid UTF-8 (whole sequences)
	w    int // buf[:w] has been read from src
	stop int // the fast path hands out buf[r:stop]: min(v, limit-base)
	// base is the offset of buf[0] in everything consumed from src: the
	// offset of the next byte handed out is base+r.
	base  int64
	limit int64   // no byte at an offset >= limit is handed out
	bad   bool    // buf[v] starts an invalid UTF-8 sequence
	err   error   // what src.Read returned, sticky
	prev  [2]byte // the last two bytes consumed before buf[0]
	// small is buf while the source is idle (see ErrIdle).
	small [idleBufSize]byte
}

const noLimit = int64(1<<63 - 1)

func (b *byteReader) init(src io.Reader) {
	if b.buf == nil {
		b.buf = readBufs.Get().(*[bufSize]byte)[:] // the buffer of a reader gone idle
	}
	b.base += int64(b.r)
	b.src = src
	b.r, b.v, b.w, b.stop = 0, 0, 0, 0
	b.bad, b.err = false, nil
	b.prev = [2]byte{}
	b.limit = noLimit
}

// offset is the number of bytes consumed since the reader was made.
func (b *byteReader) offset() int64 { return b.base + int64(b.r) }

// buffered is the number of bytes read from src and not consumed.
func (b *byteReader) buffered() int { return b.w - b.r }

// selfClosed reports whether the last two bytes consumed are "/>": the
// start tag just read was an empty-element tag.
func (b *byteReader) selfClosed() bool {
	var last [2]byte
	switch b.r {
	case 0:
		last = b.prev
	case 1:
		last = [2]byte{b.prev[1], b.buf[0]}
	default:
		last = [2]byte{b.buf[b.r-2], b.buf[b.r-1]}
	}
	return last == [2]byte{'/', '>'}
}

// setLimit sets the offset of the first byte that may not be consumed.
func (b *byteReader) setLimit(limit int64) {
	b.limit = limit
	b.setStop()
}

func (b *byteReader) setStop() {
	b.stop = b.v
	if lim := b.limit - b.base; lim < int64(b.stop) {
		b.stop = int(max(lim, int64(b.r)))
	}
}

// ReadByte hands the decoder its next byte.
func (b *byteReader) ReadByte() (byte, error) {
	if b.r < b.stop {
		c := b.buf[b.r]
		b.r++
		return c, nil
	}
	if err := b.more(); err != nil {
		return 0, err
	}
	c := b.buf[b.r]
	b.r++
	return c, nil
}

// Read is here so that byteReader is an io.Reader; the decoder uses
// ReadByte only.
func (b *byteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.r >= b.stop {
		if err := b.more(); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.buf[b.r:b.stop])
	b.r += n
	return n, nil
}

// more makes a byte available at buf[r] (r < stop), or says why there is
// none: the size limit, invalid UTF-8, or what the connection returned.
func (b *byteReader) more() error {
	for b.r >= b.stop {
		switch {
		case b.base+int64(b.r) >= b.limit:
			return errTooBig
		case b.r < b.v:
			b.setStop()
		case b.bad:
			return errBadUTF8
		case b.err != nil:
			if b.v < b.w {
				// The input ends inside a UTF-8 sequence.
				return io.ErrUnexpectedEOF
			}
			return b.err
		default:
			b.fill()
		}
	}
	return nil
}

// peek returns up to n validated bytes at r without consuming them; fewer
// only together with the reason there are no more.
func (b *byteReader) peek(n int) ([]byte, error) {
	for b.v-b.r < n && !b.bad && b.err == nil {
		b.fill()
	}
	p := b.buf[b.r:b.v]
	switch {
	case len(p) >= n:
		return p[:n], nil
	case b.bad:
		return p, errBadUTF8
	case b.v < b.w:
		return p, io.ErrUnexpectedEOF
	default:
		return p, b.err
	}
}

// skipSpace consumes XML whitespace (whitespace keepalives and the
// whitespace between top-level elements). It holds no more than one buffer
// however much whitespace arrives, and it stops early only at a read error.
func (b *byteReader) skipSpace() {
	for {
		for b.r < b.v {
			switch b.buf[b.r] {
			case ' ', '\t', '\r', '\n':
				b.r++
			default:
				return
			}
		}
		if b.bad || b.err != nil {
			return
		}
		b.fill()
	}
}

// fill moves the unconsumed bytes to the front of the buffer and reads more.
func (b *byteReader) fill() {
	if b.r > 0 {
		if b.r >= 2 {
			b.prev = [2]byte{b.buf[b.r-2], b.buf[b.r-1]}
		} else {
			b.prev = [2]byte{b.prev[1], b.buf[0]}
		}
		n := copy(b.buf, b.buf[b.r:b.w])
		b.base += int64(b.r)
		b.v -= b.r
		b.w = n
		b.r = 0
	}
	b.grow() // after an idle read into the small buffer: a full one again
	for tries := 0; ; tries++ {
		if tries == 100 {
			b.err = io.ErrNoProgress
			break
		}
		n, err := b.src.Read(b.buf[b.w:])
		if n < 0 || n > len(b.buf)-b.w {
			b.err = errBadRead
			break
		}
		b.w += n
		if n == 0 && err == ErrIdle {
			b.shrink()
			tries = -1
			continue
		}
		if err != nil {
			b.err = err
			break
		}
		if n > 0 {
			break
		}
	}
	if !b.bad {
		n, bad := validPrefix(b.buf[b.v:b.w])
		b.v += n
		b.bad = bad
	}
	b.setStop()
}

// validPrefix returns the length of the longest prefix of p made of whole,
// valid UTF-8 sequences, and whether what follows it is invalid (rather
// than the start of a sequence that p cuts short).
func validPrefix(p []byte) (int, bool) {
	i := 0
	for i < len(p) {
		for i+8 <= len(p) && binary.LittleEndian.Uint64(p[i:])&0x8080808080808080 == 0 {
			i += 8
		}
		if i == len(p) {
			break
		}
		if p[i] < utf8.RuneSelf {
			i++
			continue
		}
		if !utf8.FullRune(p[i:]) {
			return i, false
		}
		r, size := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && size == 1 {
			return i, true
		}
		i += size
	}
	return i, false
}
