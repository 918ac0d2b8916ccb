package vrrp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// capturedFrame is one VRRP message found in a keepalived capture.
type capturedFrame struct {
	file     string
	number   int
	src, dst netip.Addr
	ttl      uint8
	payload  []byte
}

func (f capturedFrame) String() string { return fmt.Sprintf("%s#%d", f.file, f.number) }

// readCaptures returns every frame carrying VRRP directly over IPv4/IPv6
// (not quoted inside ICMP errors) in testdata/*.pcap.
func readCaptures(tb testing.TB) []capturedFrame {
	tb.Helper()
	files, err := filepath.Glob("testdata/*.pcap")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no captures in testdata: %v", err)
	}
	var out []capturedFrame
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			tb.Fatal(err)
		}
		r, err := pcapgo.NewReader(f)
		if err != nil {
			f.Close()
			tb.Fatalf("%s: %v", name, err)
		}
		for n := 1; ; n++ {
			data, _, err := r.ReadPacketData()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				tb.Fatalf("%s frame %d: %v", name, n, err)
			}
			pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.NoCopy)
			fr := capturedFrame{file: strings.TrimSuffix(filepath.Base(name), ".pcap"), number: n}
			if l, ok := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok && l.Protocol == Protocol {
				fr.src, _ = netip.AddrFromSlice(l.SrcIP)
				fr.dst, _ = netip.AddrFromSlice(l.DstIP)
				fr.ttl = l.TTL
				fr.payload = l.Payload
			} else if l, ok := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6); ok && l.NextHeader == Protocol {
				fr.src, _ = netip.AddrFromSlice(l.SrcIP)
				fr.dst, _ = netip.AddrFromSlice(l.DstIP)
				fr.ttl = l.HopLimit
				fr.payload = l.Payload
			} else {
				continue
			}
			fr.src, fr.dst = fr.src.Unmap(), fr.dst.Unmap()
			out = append(out, fr)
		}
		f.Close()
	}
	return out
}

// readFields loads NAME.fields.tsv as frame number → column → value.
func readFields(tb testing.TB, file string) map[int]map[string]string {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", file+".fields.tsv"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	var cols []string
	rows := map[int]map[string]string{}
	for sc.Scan() {
		rec := strings.Split(sc.Text(), "\t")
		if cols == nil {
			cols = rec
			continue
		}
		row := map[string]string{}
		for i, c := range cols {
			if i < len(rec) {
				row[c] = rec[i]
			}
		}
		n, err := strconv.Atoi(row["frame.number"])
		if err != nil {
			tb.Fatalf("%s: bad frame number %q", file, row["frame.number"])
		}
		rows[n] = row
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return rows
}

func TestGoldenCaptures(t *testing.T) {
	frames := readCaptures(t)
	fields := map[string]map[int]map[string]string{}
	seen := map[string]int{}
	for _, fr := range frames {
		if fields[fr.file] == nil {
			fields[fr.file] = readFields(t, fr.file)
		}
		row := fields[fr.file][fr.number]
		if row == nil {
			t.Fatalf("%v: no row in fields.tsv", fr)
		}
		if fr.ttl != TTL {
			t.Errorf("%v: TTL %d, want 255", fr, fr.ttl)
		}
		a, err := Parse(fr.payload, fr.src, fr.dst)
		if err != nil {
			t.Fatalf("%v: Parse: %v", fr, err)
		}
		seen[fr.file]++
		checkField(t, fr, "vrrp.version", row, strconv.Itoa(int(a.Version)))
		checkField(t, fr, "vrrp.type", row, "1")
		checkField(t, fr, "vrrp.virt_rtr_id", row, strconv.Itoa(int(a.VRID)))
		checkField(t, fr, "vrrp.prio", row, strconv.Itoa(int(a.Priority)))
		checkField(t, fr, "vrrp.addr_count", row, strconv.Itoa(len(a.Addrs)))
		checkField(t, fr, "vrrp.checksum", row, fmt.Sprintf("0x%04x", a.Checksum))
		checkField(t, fr, "vrrp.checksum.status", row, "1")
		var addrs []string
		for _, ad := range a.Addrs {
			addrs = append(addrs, ad.String())
		}
		if a.Version == V2 {
			checkField(t, fr, "vrrp.auth_type", row, strconv.Itoa(int(a.AuthType)))
			checkField(t, fr, "vrrp.adver_int", row, strconv.Itoa(int(a.Interval/time.Second)))
			checkField(t, fr, "vrrp.ip_addr", row, strings.Join(addrs, ","))
			if a.AuthType == AuthSimple {
				checkField(t, fr, "vrrp.auth_string", row, string(bytes.TrimRight(a.Auth[:], "\x00")))
			}
		} else {
			checkField(t, fr, "vrrp.short_adver_int", row, strconv.Itoa(int(a.Interval/(10*time.Millisecond))))
			col := "vrrp.ip_addr"
			if fr.src.Is6() {
				col = "vrrp.ipv6_addr"
			}
			checkField(t, fr, col, row, strings.Join(addrs, ","))
		}
		out, err := a.Marshal(fr.src, fr.dst)
		if err != nil {
			t.Fatalf("%v: Marshal: %v", fr, err)
		}
		if !bytes.Equal(out, fr.payload) {
			t.Errorf("%v: re-marshal differs\n got %x\nwant %x", fr, out, fr.payload)
		}
	}
	// Every capture must have contributed adverts, both versions and families.
	for _, name := range []string{"a-v2-ipv4-mcast", "b-v2-ipv4-auth-pass", "c-v3-ipv4-100ms", "d-v3-ipv6", "e-v2-ipv4-unicast", "f1-v2-failover-sigkill", "f2-v2-failover-sigterm", "g-v2-ipv4-vmac"} {
		if seen[name] == 0 {
			t.Errorf("%s: no VRRP frames parsed", name)
		}
	}
}

func checkField(t *testing.T, fr capturedFrame, col string, row map[string]string, got string) {
	t.Helper()
	if want := row[col]; want != got {
		t.Errorf("%v: %s = %q, tshark says %q", fr, col, got, want)
	}
}

// TestGoldenGopacketV2 cross-checks the v2 decoding against gopacket's
// independent VRRPv2 decoder on the same frames.
func TestGoldenGopacketV2(t *testing.T) {
	n := 0
	for _, fr := range readCaptures(t) {
		a, err := Parse(fr.payload, fr.src, fr.dst)
		if err != nil {
			t.Fatalf("%v: %v", fr, err)
		}
		if a.Version != V2 {
			continue
		}
		var g layers.VRRPv2
		if err := g.DecodeFromBytes(fr.payload, gopacket.NilDecodeFeedback); err != nil {
			t.Fatalf("%v: gopacket: %v", fr, err)
		}
		n++
		if g.VirtualRtrID != a.VRID || g.Priority != a.Priority || int(g.CountIPAddr) != len(a.Addrs) ||
			AuthType(g.AuthType) != a.AuthType || time.Duration(g.AdverInt)*time.Second != a.Interval || g.Checksum != a.Checksum {
			t.Errorf("%v: gopacket %+v, vigil %+v", fr, g, a)
		}
		for i, ip := range g.IPAddress {
			if ad, _ := netip.AddrFromSlice(ip); ad.Unmap() != a.Addrs[i] {
				t.Errorf("%v: addr %d: gopacket %v, vigil %v", fr, i, ad, a.Addrs[i])
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d v2 frames cross-checked", n)
	}
}
