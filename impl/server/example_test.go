package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"

	"github.com/beevik/etree"

	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/sasl"
	"github.com/xmppfsm/xmppfsm/impl/server"
	"github.com/xmppfsm/xmppfsm/impl/store"
	"github.com/xmppfsm/xmppfsm/impl/store/memstore"
	"github.com/xmppfsm/xmppfsm/impl/stream"
)

// myStore is the embedder's own storage: any store.Store will do. This one
// wraps the in-memory store and shows the writes the server commits for a
// user's step; a real one would write them to its database in one
// transaction, durably, before returning.
type myStore struct{ store.Store }

func (s myStore) Commit(bare string, writes []fsm.UserEffect) error {
	for _, w := range writes {
		fmt.Printf("store: %v for %s: %s (roster version %d)\n", w.Kind, bare, w.Item.JID, w.Version)
	}
	return s.Store.Commit(bare, writes)
}

// pipeListener is the embedder's own transport: any net.Listener will do
// (a WebSocket or QUIC adapter, a test harness). This one hands out the
// server ends of in-memory pipes.
type pipeListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// dial returns the client end of a new connection.
func (l *pipeListener) dial() net.Conn {
	client, srv := net.Pipe()
	l.conns <- srv
	return client
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// This example runs the reference server behind a transport and a store of
// the embedder's own: an in-memory listener and a store that shows the
// writes asked of it. A client logs in with PLAIN (no TLS on this
// transport, so InsecurePlain), binds a resource and adds a contact to its
// roster; the store is written before the client gets its result.
func Example() {
	st := myStore{memstore.New(memstore.Options{})}
	creds, _ := sasl.NewCredentials("r0m30", 4096, nil)
	b, _ := creds.MarshalBinary()
	_ = st.CreateAccount("juliet", b)

	srv, err := server.New(server.Config{
		Domains:       []string{"example.com"},
		Store:         st,
		InsecurePlain: true,
		Iterations:    4096,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ln := newPipeListener()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	conn := ln.dial()
	r := stream.NewReader(conn, stream.ReaderOptions{})
	send := func(s string) { _, _ = io.WriteString(conn, s) }
	// next prints the server's next element (or the start of its stream).
	next := func() {
		ev, err := r.Next()
		switch {
		case err != nil:
			fmt.Println("error:", err)
		case ev.Kind == fsm.EvElement:
			doc := etree.NewDocument()
			doc.SetRoot(ev.Elem)
			s, _ := doc.WriteToString()
			fmt.Println("S:", s)
		default:
			fmt.Println("S:", ev.Kind)
		}
	}
	open := func() {
		send(`<stream:stream to='example.com' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`)
		next() // the header
		next() // the features
	}

	open()
	send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldAByMG0zMA==</auth>`)
	next()
	r.Reset(nil) // the stream restarts after SASL success
	open()
	send(`<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>`)
	next()
	send(`<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='romeo@example.com'/></query></iq>`)
	next() // the result comes after the store wrote the item
	send(`</stream:stream>`)
	next()

	_ = srv.Shutdown(context.Background())
	fmt.Println("serve:", <-served)

	// Output:
	// S: stream-open
	// S: <stream:features xmlns:stream="http://etherx.jabber.org/streams"><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms></stream:features>
	// S: <success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>
	// S: stream-open
	// S: <stream:features xmlns:stream="http://etherx.jabber.org/streams"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/><session xmlns="urn:ietf:params:xml:ns:xmpp-session"><optional/></session><ver xmlns="urn:xmpp:features:rosterver"/><sub xmlns="urn:xmpp:features:pre-approval"/></stream:features>
	// S: <iq type="result" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>juliet@example.com/balcony</jid></bind></iq>
	// store: save-item for juliet@example.com: romeo@example.com (roster version 1)
	// S: <iq to="juliet@example.com/balcony" type="result" id="r1"/>
	// S: stream-end
	// serve: server: closed
}
