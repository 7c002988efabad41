package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/router"
	"github.com/xmppfsm/xmppfsm/impl/sasl"
	"github.com/xmppfsm/xmppfsm/impl/stream"
)

// conn is one client connection.
type conn struct {
	s   *Server
	id  string
	raw net.Conn // the TCP connection: deadlines and closing
	log *slog.Logger
	rc  *router.Conn

	// Owned by the reader goroutine.
	reader   *stream.Reader
	cb       sasl.ChannelBinding
	exch     sasl.Exchange
	mech     string       // the mechanism of exch, for the logs
	first    []fsm.Effect // the effects of EvConnect, stepped by start
	lastRead time.Time
	quiet    atomic.Bool // stream.ErrIdle was returned since lastRead
	told     bool        // quietHook was called for this quiet period

	// own is set while the reader goroutine steps the session with an
	// event of its own (and carries out what that caused, on other users
	// too): its writes are the answer to the client's request (see out).
	own atomic.Bool

	// mu guards the output buffer and the flags below; out takes it and
	// never blocks on the network.
	mu      sync.Mutex
	w       *stream.Writer // writes into pending; nil until the first write
	pending *bytes.Buffer  // nil when nothing is pending (see takePending)
	closeAt bool           // EffClose: send what is pending, then close
	abort   bool           // EffAbort or a write error: close at once
	full    bool           // a write did not fit: only the session's answer follows
	reason  string
	// Output positions, in bytes since the connection began: queued
	// were written into pending, sent were sent to the client (a chunk
	// at a time), ownEnd ended the last write of the reader goroutine's
	// own step, and overAt is sent when a write last went past the cap
	// (see overflows).
	queued, sent, ownEnd, overAt int64
	// writing is set while a writer goroutine runs: out starts one when
	// there is output and none runs; it ends once nothing is pending, so
	// that an idle connection has no writer goroutine (nor its stack).
	writing bool
	// drained is signalled (on mu) when the writer takes the pending
	// output or sends a chunk of it, and when the connection is going:
	// waitOutput waits on it.
	drained sync.Cond

	// wmu is held while pending bytes go to the network (by the writer
	// goroutine, or by the reader for STARTTLS), and guards dst.
	wmu sync.Mutex
	dst io.Writer // raw, then the TLS connection

	// The negotiation timer.
	tmu      sync.Mutex
	negTimer *time.Timer
	negFired atomic.Bool
}

func newConn(s *Server, nc net.Conn, id string) *conn {
	c := &conn{
		s:   s,
		id:  id,
		raw: nc,
		log: s.log.With("conn", id),
		dst: nc,
	}
	c.drained.L = &c.mu
	if rec := s.cfg.Record; rec != nil {
		if path, err := rec.Open(id, s.policy); err != nil {
			c.log.Warn("not recording the session", "err", err)
		} else {
			c.log.Info("recording the session", "file", path)
		}
	}
	c.rc = s.router.Attach(id, c.out)
	c.first = c.rc.Step(fsm.Event{Kind: fsm.EvConnect})
	return c
}

// out receives the writes of every step of the session (see
// router.Attach): it appends to the output buffer and wakes the writer.
// A write that overflows the buffer (see overflows) is dropped and out
// reports false, once: the router then steps the session with
// EvOutputOverflow (S-98), whose stream error and close are taken
// whatever the cap.
func (c *conn) out(e fsm.Effect) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.abort || c.closeAt {
		return true // the connection is going: nothing more to write
	}
	if c.pending == nil {
		c.pending = outBufs.Get().(*bytes.Buffer)
		if c.w == nil {
			c.w = stream.NewWriter(c.pending)
		} else {
			c.w.Reset(c.pending)
		}
	}
	before := c.pending.Len()
	var err error
	switch e.Kind {
	case fsm.EffSendHeader:
		err = c.w.WriteHeader(e.Header)
	case fsm.EffSend:
		err = c.w.WriteElement(e.Elem, e.From, e.To)
	case fsm.EffClose:
		err = c.w.WriteClose()
		c.closeAt = true
	case fsm.EffAbort:
		c.abort = true
		c.reason = "aborted"
	default:
		// EffStopTimer after a step another goroutine made (EvShutdown,
		// EvReplaced): the reader goroutine stops its timer when it ends.
		return true
	}
	if err == nil {
		err = c.w.Flush() // into pending: memory only
	}
	if err != nil {
		c.abort, c.reason = true, "write: "+err.Error()
	}
	fits := true
	if !c.full && c.overflows(int64(c.pending.Len()-before)) {
		// Flushed whole elements only, so the buffer ends where this one
		// began.
		c.pending.Truncate(before)
		c.full, c.reason = true, "output buffer full"
		fits = false
	}
	c.queued += int64(c.pending.Len() - before)
	if c.own.Load() {
		c.ownEnd = c.queued
	}
	if c.abort || c.closeAt || c.full {
		c.drained.Broadcast()
	}
	if !c.writing {
		// The reader goroutine has not ended (it sets abort first, and
		// out starts nothing after that): the WaitGroup is above zero.
		c.writing = true
		c.s.wg.Add(1)
		go c.writeOut()
	}
	return fits
}

// overflows reports whether a write of n bytes is more output than the
// connection holds for the client: the adapter's condition for
// EvOutputOverflow (S-98). The caller holds c.mu.
//
// The answer to the client's own request always fits: what the reader
// goroutine writes (c.own), its roster, its offline messages and its
// contacts' presence at login, and stanzas routed to the connection by
// others meanwhile. waitOutput bounds it: the client's next request is
// read only once less than half the cap waits for it.
//
// Other writes are counted from the end of that answer (or from what was
// sent, if the client has read past it): the bytes queued behind it fit
// up to the cap (MaxOutput); past it, they fit only if the client has
// read since they last went past it (a chunk was sent since), and up to
// twice the cap. So a client that reads its answer at its own pace and
// keeps reading gets bursts larger than the cap, and one that reads
// nothing gets at most one write past the cap before the overflow.
func (c *conn) overflows(n int64) bool {
	if c.own.Load() {
		return false
	}
	behind := c.queued + n - max(c.sent, c.ownEnd)
	switch limit := int64(c.s.maxOutput); {
	case behind <= limit:
		return false
	case behind > 2*limit || c.sent == c.overAt:
		return true
	}
	c.overAt = c.sent
	return false
}

// writeOut is the writer goroutine: it sends the output buffer until
// nothing is pending, or the connection is closed.
func (c *conn) writeOut() {
	defer c.s.wg.Done()
	for c.send() {
		c.mu.Lock()
		if c.pending == nil || c.pending.Len() == 0 {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
}

// send writes what is pending; it reports false once the connection is
// closed.
func (c *conn) send() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for {
		c.mu.Lock()
		buf := c.takePending()
		closeAt, abort := c.closeAt, c.abort
		c.drained.Broadcast()
		c.mu.Unlock()
		if abort {
			putOutBuf(buf)
			c.raw.Close()
			return false
		}
		if buf == nil {
			if closeAt {
				c.raw.Close()
				return false
			}
			return true
		}
		err := c.write(buf.Bytes())
		putOutBuf(buf)
		if err != nil {
			// Nothing more reaches the client: what the session is
			// given from now on is not handed over (an offline flush
			// still running keeps the rest stored).
			c.rc.Lost()
			c.mu.Lock()
			c.abort, c.reason = true, "write: "+err.Error()
			c.drained.Broadcast()
			c.mu.Unlock()
			c.raw.Close()
			return false
		}
	}
}

// writeChunk is the most bytes the writer hands the network at once: each
// chunk sent is progress of the client's reading (see overflows), and has
// its own write timeout.
const writeChunk = 64 << 10

// write sends p in chunks, counting each one sent. The caller holds wmu.
func (c *conn) write(p []byte) error {
	for len(p) > 0 {
		n := min(len(p), writeChunk)
		_ = c.raw.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := c.dst.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
		c.mu.Lock()
		c.sent += int64(n)
		c.drained.Broadcast()
		c.mu.Unlock()
	}
	return nil
}

// waitOutput holds the reader goroutine while more than half of the
// output cap is waiting for the client: a client that sends faster than
// it reads the answers is read more slowly rather than disconnected, and
// its own answers never overflow the buffer (they are exempt from the
// cap, see overflows; this bounds them to one request's answer). Stanzas
// routed to it from other sessions never wait (out does not block): if
// the client does not read them they overflow it (S-98), and a client
// that reads nothing stays held until the write timeout ends the
// connection.
func (c *conn) waitOutput() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.waiting() > int64(c.s.maxOutput/2) && !c.abort && !c.closeAt && !c.full {
		c.drained.Wait()
	}
}

// waiting is the output waiting for the client: pending, and what the
// writer has not sent yet of the buffer it took. The caller holds c.mu.
func (c *conn) waiting() int64 { return c.queued - c.sent }

// stepOwn steps the session with an event of the reader goroutine's own
// (see conn.own).
func (c *conn) stepOwn(ev fsm.Event) []fsm.Effect {
	c.own.Store(true)
	defer c.own.Store(false)
	return c.rc.Step(ev)
}

// outBufs recycles output buffers: a connection takes one when a step
// writes to it and the writer gives it back once sent, so that an idle
// connection holds none and a busy one copies nothing.
var outBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledOut is the largest buffer kept for reuse; a bigger one (a large
// roster) goes to the garbage collector.
const maxPooledOut = 64 << 10

// takePending returns the pending output, or nil when there is none, and
// leaves nothing pending. The caller holds c.mu, and gives the buffer back
// with putOutBuf once written.
func (c *conn) takePending() *bytes.Buffer {
	buf := c.pending
	c.pending = nil
	if buf != nil && buf.Len() == 0 {
		putOutBuf(buf)
		return nil
	}
	return buf
}

func putOutBuf(buf *bytes.Buffer) {
	if buf == nil || buf.Cap() > maxPooledOut {
		return
	}
	buf.Reset()
	outBufs.Put(buf)
}

// quietAfter is how long a connection reads nothing before its reader
// lets go of its read buffer (stream.ErrIdle). A variable for the tests.
var quietAfter = time.Second

// quietHook, when set (by tests, before the server starts), is called by
// a reader goroutine when it reads on after stream.ErrIdle, once per quiet
// period: its reader has given its read buffer back by then.
var quietHook func()

var (
	errNegotiationTimeout = errors.New("negotiation timeout")
	errIdleTimeout        = errors.New("idle timeout")
)

// timedReader reads from src with the connection's idle limit, and ends
// with errNegotiationTimeout when the negotiation timer fires.
type timedReader struct {
	c   *conn
	src io.Reader
}

func (r timedReader) Read(p []byte) (int, error) {
	c := r.c
	if c.quiet.Load() && !c.told {
		c.told = true
		if quietHook != nil {
			quietHook()
		}
	}
	idle := c.s.cfg.IdleTimeout
	for {
		var deadline time.Time
		if idle > 0 {
			deadline = c.lastRead.Add(idle)
		}
		if !c.quiet.Load() && (idle <= 0 || quietAfter < idle) {
			deadline = c.lastRead.Add(quietAfter)
		}
		_ = c.raw.SetReadDeadline(deadline)
		// After setting the deadline: a timer that fired since then has
		// set its own (now), which wins.
		if c.negFired.Load() {
			return 0, errNegotiationTimeout
		}
		n, err := r.src.Read(p)
		if n > 0 {
			c.lastRead = time.Now()
			c.quiet.Store(false)
			c.told = false
		}
		var ne net.Error
		if n == 0 && err != nil && errors.As(err, &ne) && ne.Timeout() {
			switch {
			case c.negFired.Load():
				return 0, errNegotiationTimeout
			case idle > 0 && time.Since(c.lastRead) >= idle:
				return 0, errIdleTimeout
			case !c.quiet.Load() && time.Since(c.lastRead) >= quietAfter:
				// The reader gives its buffer back until input comes.
				c.quiet.Store(true)
				return 0, stream.ErrIdle
			}
			continue // a timer stopped too late
		}
		return n, err
	}
}

// serve is the reader goroutine: it reads events, steps the session and
// carries out the effects the router leaves to the connection. Each step
// is a call of its own (step), so that between steps, when the goroutine
// waits for input, its stack is shallow: the runtime shrinks the stack of
// an idle connection's goroutine to what that wait needs.
func (c *conn) serve() {
	defer c.s.wg.Done()
	defer c.s.forget(c)
	defer c.stopTimer()
	c.begin()
	var cause string
	if c.carry(c.first) {
		for {
			c.waitOutput()
			c.reader.Wait()
			if !c.step(&cause) {
				break
			}
		}
	}
	c.end(cause)
}

// begin starts the reader goroutine's work.
func (c *conn) begin() {
	c.log.Info("connection accepted", "remote", c.raw.RemoteAddr().String())
	c.lastRead = time.Now()
	c.reader = stream.NewReader(timedReader{c, c.raw}, stream.ReaderOptions{MaxStanza: c.s.cfg.MaxStanza})
}

// step reads the next event and steps the session with it; it reports
// whether the session goes on, and sets *cause when it ends.
func (c *conn) step(cause *string) bool {
	ev, err := c.reader.Next()
	if err != nil {
		ev = c.readError(err)
		*cause = ev.Text
		if ev.Kind == fsm.EvTimeout {
			*cause = err.Error()
		}
	} else if ev.Kind == fsm.EvXMLError {
		*cause = "xml error: " + ev.Condition
	} else if ev.Kind == fsm.EvStreamEnd {
		*cause = "closed by client"
	}
	if !c.carry(c.stepOwn(ev)) {
		return false
	}
	if err != nil {
		// The reader's error is final: make sure the session ends.
		c.carry(c.stepOwn(fsm.Event{Kind: fsm.EvConnLost, Text: *cause}))
		return false
	}
	return true
}

// end finishes the connection once its session ended.
func (c *conn) end(cause string) {
	c.mu.Lock()
	if !c.closeAt && !c.abort {
		c.abort = true // the session ended without closing: EvConnLost
	}
	if c.reason != "" {
		cause = c.reason
	}
	c.mu.Unlock()
	c.send() // what is left, then the connection's end
	if cause == "" {
		cause = "closed by server"
	}
	c.log.Info("connection closed", "reason", cause)
	if rec := c.s.cfg.Record; rec != nil {
		if err := rec.Close(c.id); err != nil {
			c.log.Warn("session log", "err", err)
		}
	}
}

// readError turns a read error into the event for the session.
func (c *conn) readError(err error) fsm.Event {
	switch {
	case errors.Is(err, errNegotiationTimeout):
		return fsm.Event{Kind: fsm.EvTimeout, Timer: fsm.TimerNegotiation}
	case errors.Is(err, errIdleTimeout):
		return fsm.Event{Kind: fsm.EvTimeout, Timer: fsm.TimerIdle}
	case errors.Is(err, io.EOF):
		return fsm.Event{Kind: fsm.EvConnLost, Text: "closed"}
	default:
		return fsm.Event{Kind: fsm.EvConnLost, Text: err.Error()}
	}
}

// carry carries out effects (stepping the session with the answers) and
// reports whether the session is still open.
func (c *conn) carry(effects []fsm.Effect) bool {
	for len(effects) > 0 {
		e := effects[0]
		effects = effects[1:]
		var ev fsm.Event
		switch e.Kind {
		case fsm.EffStartTLS:
			ev = c.startTLS()
		case fsm.EffResetStream:
			c.reader.Reset(nil)
			continue
		case fsm.EffSASLStart:
			c.exch, ev = c.s.sasl.Start(e.Mechanism, e.Data, c.cb)
			c.mech = e.Mechanism
			c.logSASL(ev)
		case fsm.EffSASLStep:
			if c.exch == nil {
				ev = fsm.Event{Kind: fsm.EvSASLFailure, Condition: "malformed-request"}
			} else {
				ev = c.exch.Step(e.Data)
			}
			c.logSASL(ev)
		case fsm.EffStartTimer:
			if e.Timer == fsm.TimerNegotiation {
				c.startTimer()
			}
			continue
		case fsm.EffStopTimer:
			if e.Timer == fsm.TimerNegotiation {
				c.stopTimer()
			}
			continue
		default:
			continue
		}
		effects = append(c.stepOwn(ev), effects...)
	}
	return c.rc.Session().Phase != fsm.Closed
}

func (c *conn) logSASL(ev fsm.Event) {
	switch ev.Kind {
	case fsm.EvSASLSuccess:
		c.log.Info("authenticated", "user", ev.Username, "mechanism", c.mech)
	case fsm.EvSASLFailure:
		args := []any{"mechanism", c.mech, "condition", ev.Condition}
		if ev.Text != "" { // what the client is told, e.g. "channel binding downgrade"
			args = append(args, "text", ev.Text)
		}
		c.log.Info("authentication failed", args...)
	}
}

// startTLS sends what is pending (<proceed/>), then runs the handshake.
func (c *conn) startTLS() fsm.Event {
	if c.s.cfg.TLS == nil {
		return fsm.Event{Kind: fsm.EvTLSFailed}
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	buf := c.takePending()
	c.mu.Unlock()
	var data []byte
	if buf != nil {
		data = buf.Bytes()
		defer putOutBuf(buf)
	}
	_ = c.raw.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := c.raw.Write(data); err != nil {
		c.log.Info("tls failed", "err", err)
		return fsm.Event{Kind: fsm.EvTLSFailed}
	}
	c.mu.Lock()
	c.sent += int64(len(data))
	c.mu.Unlock()
	if n := c.reader.Buffered(); n != 0 {
		c.log.Info("tls failed", "err", "client sent data after starttls", "bytes", n)
		return fsm.Event{Kind: fsm.EvTLSFailed}
	}
	tc := tls.Server(c.raw, c.s.cfg.TLS)
	timeout := c.s.cfg.NegotiationTimeout
	if timeout <= 0 {
		timeout = DefaultNegotiationTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_ = c.raw.SetReadDeadline(time.Time{})
	if err := tc.HandshakeContext(ctx); err != nil {
		c.log.Info("tls failed", "err", err)
		return fsm.Event{Kind: fsm.EvTLSFailed}
	}
	st := tc.ConnectionState()
	if cb, err := sasl.TLSExporter(&st); err == nil {
		c.cb = cb
	}
	c.dst = tc
	c.reader.Reset(timedReader{c, tc})
	c.log.Info("tls established", "version", tls.VersionName(st.Version))
	return fsm.Event{Kind: fsm.EvTLSDone}
}

func (c *conn) startTimer() {
	d := c.s.cfg.NegotiationTimeout
	if d <= 0 {
		return
	}
	c.tmu.Lock()
	defer c.tmu.Unlock()
	if c.negTimer != nil {
		c.negTimer.Stop()
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		c.tmu.Lock()
		defer c.tmu.Unlock()
		if c.negTimer != t {
			return // stopped meanwhile
		}
		c.negFired.Store(true)
		_ = c.raw.SetReadDeadline(time.Now())
	})
	c.negTimer = t
}

func (c *conn) stopTimer() {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	if c.negTimer != nil {
		c.negTimer.Stop()
		c.negTimer = nil
	}
	c.negFired.Store(false)
}
