package servertest

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/xmppfsm/xmppfsm/impl/server"
)

// TLS makes a self-signed certificate for localhost (server.SelfSigned)
// and returns a STARTTLS configuration that serves it (for
// server.Config.TLS), a client configuration that trusts it and expects
// the name localhost, and the certificate in PEM (for a client that reads
// a CA file). Both configurations ask for TLS 1.2 at least.
func TLS(t testing.TB) (srv, cli *tls.Config, certPEM []byte) {
	t.Helper()
	certPEM, keyPEM, err := server.SelfSigned([]string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(certPEM) {
		t.Fatal("servertest: the self-signed certificate does not parse")
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		&tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12},
		certPEM
}
