package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vigil-ha/vigil/check"
)

// keyFiles writes a self-signed certificate and its key, encrypted the
// legacy way with password unless it is empty, and returns their paths.
func keyFiles(t *testing.T, password string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	kb := &pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}
	if password != "" {
		//lint:ignore SA1019 the legacy encryption keepalived's keys may have
		if kb, err = x509.EncryptPEMBlock(rand.Reader, kb.Type, kder, []byte(password), x509.PEMCipherAES256); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	cert, key = filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(kb), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func TestLoadKeyPair(t *testing.T) {
	plainCert, plainKey := keyFiles(t, "")
	cert, key := keyFiles(t, "s3cret")
	pkcs8 := filepath.Join(t.TempDir(), "k8.pem")
	if err := os.WriteFile(pkcs8, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30}}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, cert, key, password, wantErr string
	}{
		{"plain", plainCert, plainKey, "", ""},
		{"plain, password given", plainCert, plainKey, "x", ""},
		{"encrypted", cert, key, "s3cret", ""},
		{"wrong password", cert, key, "nope", "wrong password"},
		{"no password", cert, key, "", "has no password"},
		{"PKCS#8", cert, pkcs8, "s3cret", "encrypted PKCS#8 keys are not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadKeyPair(tc.cert, tc.key, tc.password)
			switch {
			case tc.wantErr == "" && (err != nil || c.PrivateKey == nil):
				t.Errorf("loadKeyPair: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("loadKeyPair: %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestLoadSSLBlock checks that SSL_GET presents the SSL block's
// certificate with its encrypted key, and that ca is taken without
// verification, as keepalived.
func TestLoadSSLBlock(t *testing.T) {
	cert, key := keyFiles(t, "s3cret")
	text := "SSL {\n certificate " + cert + "\n key " + key + "\n ca /nonexistent/ca.pem\n password s3cret\n}\n" +
		vsConf("", " SSL_GET {\n url {\n path /\n }\n }\n")
	tr, err := Read(fstest.MapFS{"k.conf": {Data: []byte(text)}}, "k.conf", Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, errs := Load(tr, LoadOptions{LookupUser: fakeUsers})
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	h := checker[*check.HTTP](t, cfg)
	if !h.TLS.InsecureSkipVerify || h.TLS.RootCAs != nil {
		t.Errorf("TLS verifies the server: %+v", h.TLS)
	}
	c, err := h.TLS.GetClientCertificate(&tls.CertificateRequestInfo{})
	if err != nil || c.PrivateKey == nil {
		t.Errorf("client certificate: %v", err)
	}
}
