package pki

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
)

// Identity is a node's certificate and key together with the cluster CA that issued it.
type Identity struct {
	CA   *x509.Certificate
	Cert tls.Certificate
	pool *x509.CertPool
}

// LoadIdentity builds an Identity from PEM.
func LoadIdentity(caPEM, certPEM, keyPEM []byte) (*Identity, error) {
	ca, err := ParseCert(caPEM)
	if err != nil {
		return nil, fmt.Errorf("cluster CA certificate: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("node certificate: %w", err)
	}
	// Send the CA along with the node certificate so a joining box, which knows only the
	// CA's fingerprint from its token, can check the chain.
	cert.Certificate = append(cert.Certificate, ca.Raw)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &Identity{CA: ca, Cert: cert, pool: pool}, nil
}

// ServerConfig is the TLS config for node RPC and Raft: a client certificate from the
// cluster CA is required.
func (id *Identity) ServerConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{id.Cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    id.pool,
		MinVersion:   tls.VersionTLS13,
	}
}

// JoinServerConfig is the TLS config for the join endpoint: the joining box has no
// certificate yet, it proves itself with the token inside the TLS session.
func (id *Identity) JoinServerConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{id.Cert},
		ClientAuth:   tls.NoClientCert,
		MinVersion:   tls.VersionTLS13,
	}
}

// ClientConfig is the TLS config for dialling another node.
func (id *Identity) ClientConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{id.Cert},
		RootCAs:      id.pool,
		ServerName:   ServerName,
		MinVersion:   tls.VersionTLS13,
	}
}

// PinnedClientConfig is the TLS config a joining box uses: it trusts the server only if
// the server's chain ends in a CA whose SHA-256 fingerprint is pin. ErrForeignCluster is
// returned (wrapped) from the handshake when the pin does not match.
func PinnedClientConfig(pin [32]byte) *tls.Config {
	return &tls.Config{
		InsecureSkipVerify: true, // replaced by VerifyPeerCertificate's pinned check below
		MinVersion:         tls.VersionTLS13,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) < 2 {
				return fmt.Errorf("%w: the server sent no cluster CA", ErrNotBanyan)
			}
			ca, err := x509.ParseCertificate(raw[len(raw)-1])
			if err != nil {
				return fmt.Errorf("%w: %v", ErrNotBanyan, err)
			}
			if FingerprintOf(ca) != pin {
				return ErrForeignCluster
			}
			leaf, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return fmt.Errorf("%w: %v", ErrNotBanyan, err)
			}
			pool := x509.NewCertPool()
			pool.AddCert(ca)
			_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: ServerName,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			if err != nil {
				return fmt.Errorf("%w: node certificate does not chain to the pinned CA: %v", ErrNotBanyan, err)
			}
			return nil
		},
	}
}
