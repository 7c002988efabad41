package sasl

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/xdg-go/scram"
	"github.com/xmppfsm/xmppfsm/fsm"
)

// A real TLS connection: the server's TLSExporter and xdg-go/scram's
// client-side NewTLSExporterBinding agree, and SCRAM-SHA-256-PLUS succeeds
// over them; under TLS 1.2 too (Go negotiates Extended Master Secret).
func TestTLSExporterEndToEnd(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "capulet.example"},
		DNSNames: []string{"capulet.example"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	a := newAccounts(t, "juliet", "pw")
	s := newServer(t, a, Options{TLS: true})
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		c1, c2 := net.Pipe()
		srv := tls.Server(c1, &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: version})
		cli := tls.Client(c2, &tls.Config{InsecureSkipVerify: true, MaxVersion: version})
		done := make(chan error, 1)
		go func() { done <- srv.Handshake() }()
		if err := cli.Handshake(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		ss, cs := srv.ConnectionState(), cli.ConnectionState()
		cb, err := TLSExporter(&ss)
		if err != nil {
			t.Fatalf("version %x: %v", version, err)
		}
		ccb, err := scram.NewTLSExporterBinding(&cs)
		if err != nil {
			t.Fatal(err)
		}
		if string(cb.Data) != string(ccb.Data) || cb.Type != string(ccb.Type) || len(cb.Data) != 32 {
			t.Fatalf("version %x: bindings differ", version)
		}
		cl, _ := scram.SHA256.NewClient("juliet", "pw", "")
		tr := run(t, s, ScramSHA256Plus, cl.NewConversationWithChannelBinding(ccb), cb, false, nil)
		wantSuccess(t, tr, "juliet")
		if !tr.clientOK {
			t.Error("client rejected the server")
		}
		// The binding of another connection fails.
		other := ChannelBinding{Type: cb.Type, Data: append([]byte{cb.Data[0] ^ 1}, cb.Data[1:]...)}
		tr = run(t, s, ScramSHA256Plus, cl.NewConversationWithChannelBinding(ccb), other, false, nil)
		if ev := tr.last(); ev.Kind != fsm.EvSASLFailure || ev.Condition != "not-authorized" {
			t.Errorf("other connection: %+v", ev)
		}
		c1.Close() // not srv.Close: its close_notify would wait for a reader
		c2.Close()
	}
}
