package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/xmppfsm/xmppfsm/impl/sasl"
	"github.com/xmppfsm/xmppfsm/impl/server/xclient"
	"github.com/xmppfsm/xmppfsm/impl/store/memstore"
)

// A connection that reads nothing for quietAfter tells its reader to let
// go of its buffer (stream.ErrIdle), once per quiet period, and goes on
// working: what comes next is read and answered.
func TestQuietConnectionKeepsWorking(t *testing.T) {
	old := quietAfter
	quietAfter = 20 * time.Millisecond
	// The reader goroutine tells, once per quiet period, that its reader
	// let go of its buffer.
	quieted := make(chan struct{}, 1)
	quietHook = func() {
		select {
		case quieted <- struct{}{}:
		default:
		}
	}
	t.Cleanup(func() { quietAfter, quietHook = old, nil })
	st := memstore.New(memstore.Options{})
	creds, err := sasl.NewCredentials("wonderland", sasl.DefaultIterations, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := creds.MarshalBinary()
	if err := st.CreateAccount("alice", b); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Domains: []string{"localhost"}, Store: st, InsecurePlain: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})

	c := xclient.Dial(t, ln.Addr().String(), "localhost")
	c.Login("alice", "wonderland", "r")
	for i := range 3 {
		select {
		case <-quieted:
		case <-time.After(xclient.Timeout):
			t.Fatalf("the connection never went quiet (round %d)", i)
		}
		if !quiet(srv) {
			t.Fatal("the reader said it went quiet, the connection says not")
		}
		id := []string{"a", "b", "c"}[i]
		c.Send("<iq type='get' to='localhost' id='" + id + "'><ping xmlns='urn:xmpp:ping'/></iq>")
		el := c.Expect("iq")
		if el.SelectAttrValue("id", "") != id || el.SelectAttrValue("type", "") != "result" {
			t.Fatalf("ping %s after a quiet period: id %q type %q", id, el.SelectAttrValue("id", ""), el.SelectAttrValue("type", ""))
		}
	}
}

// quiet reports whether the server's only connection has gone quiet
// since it last read.
func quiet(s *Server) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		return c.quiet.Load()
	}
	return false
}
