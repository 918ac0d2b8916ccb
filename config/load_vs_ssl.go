package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// The SSL block of keepalived's check side (check_ssl.c) and the TLS
// configuration of SSL_GET.

// sslFiles is the SSL block.
type sslFiles struct {
	cert, key, ca, password string
}

func sslTable() kwTable[*sslFiles] {
	return kwTable[*sslFiles]{
		"certificate": wordKey(func(f *sslFiles, w string) { f.cert = w }),
		"key":         wordKey(func(f *sslFiles, w string) { f.key = w }),
		// keepalived loads the CA file (SSL_CTX_load_verify_locations)
		// but never asks for verification (no SSL_CTX_set_verify), so no
		// check verifies the server: vigil keeps the name and does not
		// either.
		"ca":       wordKey(func(f *sslFiles, w string) { f.ca = w }),
		"password": wordKey(func(f *sslFiles, w string) { f.password = w }),
	}
}

// sslBlock maps "SSL { certificate F key F ca F password P }".
func (v *vsLoader) sslBlock(s *Statement) {
	l := v.l
	if !l.needBlock(s, 0, 0) {
		return
	}
	if v.ssl.cert != "" || v.ssl.key != "" {
		l.errorf(s.Pos, "SSL context already specified: replacing")
	}
	*v.ssl = sslFiles{}
	readBlock(l, func() string { return "SSL" }, s.Block, sslKeys, v.ssl, nil)
	if (v.ssl.cert == "") != (v.ssl.key == "") {
		l.errorf(s.Pos, "SSL: certificate and key go together: ignored")
		*v.ssl = sslFiles{}
	}
}

// tlsConfig returns the TLS configuration of SSL_GET checks that send
// sni (empty: none given): keepalived does not verify the server, and
// presents the SSL block's certificate.
func (v *vsLoader) tlsConfig(sni string) *tls.Config {
	if c, ok := v.tls[sni]; ok {
		return c
	}
	ssl := v.ssl
	c := &tls.Config{
		ServerName:         sni,
		InsecureSkipVerify: true, // keepalived's SSL_GET: SSL_VERIFY_NONE
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if ssl.cert == "" {
				return &tls.Certificate{}, nil
			}
			c, err := loadKeyPair(ssl.cert, ssl.key, ssl.password)
			return &c, err
		},
	}
	v.tls[sni] = c
	return c
}

// loadKeyPair reads the PEM certificate chain and private key of files
// cert and key, as OpenSSL's SSL_CTX_use_PrivateKey_file with the SSL
// block's password: a key encrypted the legacy way (Proc-Type: 4,ENCRYPTED)
// is decrypted with password. PKCS#8 encrypted keys ("ENCRYPTED PRIVATE
// KEY") are refused: Go's library does not decrypt them.
func loadKeyPair(cert, key, password string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(cert)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := os.ReadFile(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	for rest := keyPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		switch {
		case b.Type == "ENCRYPTED PRIVATE KEY":
			return tls.Certificate{}, fmt.Errorf("key %s: encrypted PKCS#8 keys are not supported: decrypt it (openssl pkey -in %s -out NEW)", key, key)
		//lint:ignore SA1019 keepalived (OpenSSL) reads legacy encrypted PEM keys; so must vigil.
		case x509.IsEncryptedPEMBlock(b):
			if password == "" {
				return tls.Certificate{}, fmt.Errorf("key %s is encrypted: the SSL block has no password", key)
			}
			//lint:ignore SA1019 keepalived (OpenSSL) reads legacy encrypted PEM keys; so must vigil.
			der, err := x509.DecryptPEMBlock(b, []byte(password))
			if errors.Is(err, x509.IncorrectPasswordError) {
				return tls.Certificate{}, fmt.Errorf("key %s: wrong password", key)
			} else if err != nil {
				return tls.Certificate{}, fmt.Errorf("key %s: %w", key, err)
			}
			keyPEM = pem.EncodeToMemory(&pem.Block{Type: b.Type, Bytes: der})
			return tls.X509KeyPair(certPEM, keyPEM)
		}
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}
