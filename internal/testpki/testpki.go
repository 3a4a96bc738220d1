// Package testpki makes throwaway TLS certificates for tests: a CA and a
// server certificate it signed for 127.0.0.1 and localhost, valid for a
// day around now, in memory and as PEM. Nothing here is fit for
// production use.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// PKI is a CA and a server certificate it signed.
type PKI struct {
	Server  *tls.Config    // the server certificate and chain, for server.WithTLS
	Roots   *x509.CertPool // the CA, for Go clients
	CAPEM   []byte         // the CA certificate, for other clients
	CertPEM []byte         // the server certificate followed by the CA's
	KeyPEM  []byte         // the server's private key (PKCS #8)
}

// New makes a CA (ECDSA P-256) and a server certificate for 127.0.0.1 and
// localhost signed by it.
func New() (*PKI, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "wsloop test CA"},
		NotBefore:             now.Add(-12 * time.Hour),
		NotAfter:              now.Add(12 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-12 * time.Hour),
		NotAfter:     now.Add(12 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return &PKI{
		Server:  &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der, caDER}, PrivateKey: key}}},
		Roots:   roots,
		CAPEM:   caPEM,
		CertPEM: append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), caPEM...),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
	}, nil
}

// WriteFiles writes the certificate chain, the key, both in one file (as
// haproxy wants them) and the CA to dir, and returns their paths.
func (p *PKI) WriteFiles(dir string) (cert, key, bundle, ca string, err error) {
	cert = filepath.Join(dir, "cert.pem")
	key = filepath.Join(dir, "key.pem")
	bundle = filepath.Join(dir, "bundle.pem")
	ca = filepath.Join(dir, "ca.pem")
	for path, data := range map[string][]byte{
		cert:   p.CertPEM,
		key:    p.KeyPEM,
		bundle: append(append([]byte{}, p.CertPEM...), p.KeyPEM...),
		ca:     p.CAPEM,
	} {
		if err = os.WriteFile(path, data, 0o600); err != nil {
			return
		}
	}
	return
}
