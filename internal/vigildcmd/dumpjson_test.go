package vigildcmd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// jsonable makes a value with a tls.Config (holding a client key) and
// func fields encodable: the tls.Config by what was set, without its
// key; funcs and channels left out; text forms and the rest as
// encoding/json writes them.
func TestJSONable(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	type check struct {
		Path  string
		TLS   *tls.Config
		Hook  func() error
		Wake  chan struct{}
		Every time.Duration
	}
	type inner struct{ Name string }
	type server struct {
		inner
		Addr   netip.AddrPort
		Checks []any
		Tags   map[string]int
		hidden string
	}
	v := server{inner: inner{"rs1"}, Addr: netip.MustParseAddrPort("198.51.100.1:443"), hidden: "x",
		Checks: []any{&check{Path: "/", Every: time.Second, Hook: func() error { return nil }, Wake: make(chan struct{}),
			TLS: &tls.Config{ServerName: "www.example", InsecureSkipVerify: true, MinVersion: tls.VersionTLS12,
				Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}}},
		Tags: map[string]int{"a": 1}}
	if _, err := json.Marshal(v); err == nil {
		t.Fatal("encoding/json encodes the value as it is: the test shows nothing")
	}
	b, err := json.Marshal(jsonable(reflect.ValueOf(v)))
	if err != nil {
		t.Fatalf("jsonable's value does not encode: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"Name": "rs1", "Addr": "198.51.100.1:443", "Tags": map[string]any{"a": 1.0},
		"Checks": []any{map[string]any{"Path": "/", "Every": float64(time.Second),
			"TLS": map[string]any{"ServerName": "www.example", "InsecureSkipVerify": true, "MinVersion": "TLS 1.2",
				"MaxVersion": "", "ClientCertificates": 1.0, "RootCAs": false}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("jsonable encodes as\n%s\nwant\n%v", b, want)
	}
	raw, err := key.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{new(big.Int).SetBytes(raw).String(), base64.StdEncoding.EncodeToString(raw)} {
		if strings.Contains(string(b), secret) {
			t.Errorf("the dump shows the private key: %s", b)
		}
	}
}

// TestJSONableMapKeys: map keys come out as encoding/json writes them (a
// string kind as it is, a TextMarshaler's text, integers in decimal),
// so a value encoding/json takes encodes the same through jsonable.
func TestJSONableMapKeys(t *testing.T) {
	type name string
	type keys struct {
		Prefix map[netip.Prefix]int
		Addr   map[netip.Addr]string
		Name   map[name]bool
		Int    map[int8]string
		Uint   map[uint16]string
	}
	v := keys{
		Prefix: map[netip.Prefix]int{netip.MustParsePrefix("198.51.100.0/24"): 1, netip.MustParsePrefix("2001:db8::/64"): 2},
		Addr:   map[netip.Addr]string{netip.MustParseAddr("192.0.2.1"): "a"},
		Name:   map[name]bool{"VI_1": true},
		Int:    map[int8]string{-3: "minus three"},
		Uint:   map[uint16]string{443: "https"},
	}
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(jsonable(reflect.ValueOf(v)))
	if err != nil {
		t.Fatal(err)
	}
	var g, w any // a struct becomes a map through jsonable: its fields sorted
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("through jsonable:\n%s\nencoding/json:\n%s", got, want)
	}
}
