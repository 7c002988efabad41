package main

import (
	"crypto/tls"
	"testing"

	"github.com/xmppfsm/xmppfsm/impl/server"
)

// selfSignedTLS returns a STARTTLS configuration for localhost and its
// certificate in PEM.
func selfSignedTLS(t *testing.T) (*tls.Config, []byte) {
	t.Helper()
	certPEM, keyPEM, err := server.SelfSigned([]string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, certPEM
}
