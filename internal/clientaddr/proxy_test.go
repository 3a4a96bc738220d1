package clientaddr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

// v2Sig is the version 2 signature, written out from section 2.2 of
// https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt.
const v2Sig = "\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A"

// v2 builds a version 2 header from its ver_cmd and fam bytes and the bytes
// after the length field.
func v2(verCmd, fam byte, body ...[]byte) string {
	rest := bytes.Join(body, nil)
	b := append([]byte(v2Sig), verCmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(rest)))
	return string(append(b, rest...))
}

// v2Len is v2 with an explicit length field, which may disagree with body.
func v2Len(verCmd, fam byte, length uint16, body []byte) string {
	b := append([]byte(v2Sig), verCmd, fam)
	b = binary.BigEndian.AppendUint16(b, length)
	return string(append(b, body...))
}

// v2Addrs encodes an address block: both addresses (As4 for IPv4, As16
// otherwise), then both ports.
func v2Addrs(src, dst string) []byte {
	s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
	var b []byte
	for _, a := range []netip.Addr{s.Addr(), d.Addr()} {
		if a.Is4() {
			a4 := a.As4()
			b = append(b, a4[:]...)
		} else {
			a16 := a.As16()
			b = append(b, a16[:]...)
		}
	}
	b = binary.BigEndian.AppendUint16(b, s.Port())
	return binary.BigEndian.AppendUint16(b, d.Port())
}

// tlv encodes one TLV: type, 16-bit length, value.
func tlv(typ byte, value string) []byte {
	b := binary.BigEndian.AppendUint16([]byte{typ}, uint16(len(value)))
	return append(b, value...)
}

// Header bytes of version 2 (section 2.2).
const (
	v2Local = 0x20
	v2Proxy = 0x21
	famTCP4 = 0x11
	famTCP6 = 0x21
	famUnix = 0x31
)

type proxyCase struct {
	name     string
	in       string
	n        int    // header length; 0 for an invalid header
	src, dst string // "" for the zero AddrPort
	err      error  // the exact error, for invalid headers
	errAt    int    // if set, the shortest prefix that must fail
}

var proxyCases = []proxyCase{
	// Version 1, section 2.1.
	{name: "v1 TCP4", in: "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n", n: 45, src: "192.0.2.1:56324", dst: "198.51.100.2:443"},
	{name: "v1 TCP4 extremes", in: "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n", n: 44, src: "0.0.0.0:0", dst: "255.255.255.255:65535"},
	{name: "v1 TCP6", in: "PROXY TCP6 2001:db8::1 2001:DB8:0:0:0:0:0:2 1 2\r\n", n: 49, src: "[2001:db8::1]:1", dst: "[2001:db8::2]:2"},
	{name: "v1 TCP6 mapped", in: "PROXY TCP6 ::ffff:192.0.2.1 ::ffff:c633:6402 80 8080\r\n", n: 54, src: "192.0.2.1:80", dst: "198.51.100.2:8080"},
	{name: "v1 TCP6 longest", in: "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 ffff:ffff:ffff:ffff::ffff 65535 65535\r\n", n: 96,
		src: "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", dst: "[ffff:ffff:ffff:ffff::ffff]:65535"},
	{name: "v1 UNKNOWN bare", in: "PROXY UNKNOWN\r\n", n: 15},
	{name: "v1 UNKNOWN with fields", in: "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n", n: 59},
	{name: "v1 UNKNOWN 107 bytes", in: "PROXY UNKNOWN " + strings.Repeat("x", 91) + "\r\n", n: 107},

	{name: "HTTP request", in: "GET / HTTP/1.1\r\n\r\n", err: errProxyNoSignature, errAt: 1},
	{name: "TLS ClientHello", in: "\x16\x03\x01\x02\x00\x01", err: errProxyNoSignature, errAt: 1},
	{name: "v1 lower case", in: "proxy TCP4 192.0.2.1 198.51.100.2 1 2\r\n", err: errProxyNoSignature, errAt: 1},
	{name: "v1 PROXY alone", in: "PROXY\r\n", err: errProxyNoSignature, errAt: 6},
	{name: "v1 TCP5", in: "PROXY TCP5 192.0.2.1 198.51.100.2 1 2\r\n", err: errProxyV1Protocol, errAt: 10},
	{name: "v1 TCP4 without fields", in: "PROXY TCP4\r\n", err: errProxyV1Protocol, errAt: 11},
	{name: "v1 UNKNOWNX", in: "PROXY UNKNOWNX\r\n", err: errProxyV1Protocol, errAt: 14},
	{name: "v1 UNKNOWN bare CR", in: "PROXY UNKNOWN\rX\r\n", err: errProxyV1Protocol, errAt: 15},
	{name: "v1 three fields", in: "PROXY TCP4 192.0.2.1 198.51.100.2 56324\r\n", err: errProxyV1Fields},
	{name: "v1 five fields", in: "PROXY TCP4 192.0.2.1 198.51.100.2 1 2 3\r\n", err: errProxyV1Fields},
	{name: "v1 double space", in: "PROXY TCP4 192.0.2.1  198.51.100.2 1 2\r\n", err: errProxyV1Fields},
	{name: "v1 trailing space", in: "PROXY TCP4 192.0.2.1 198.51.100.2 1 2 \r\n", err: errProxyV1Fields},
	{name: "v1 TCP4 with IPv6", in: "PROXY TCP4 2001:db8::1 2001:db8::2 1 2\r\n", err: errProxyV1Char, errAt: 16},
	{name: "v1 TCP6 with IPv4", in: "PROXY TCP6 192.0.2.1 198.51.100.2 1 2\r\n", err: errProxyV1Addr},
	{name: "v1 TCP6 zone", in: "PROXY TCP6 fe80::1%eth0 fe80::2 1 2\r\n", err: errProxyV1Char, errAt: 19},
	{name: "v1 octet 256", in: "PROXY TCP4 192.0.2.256 198.51.100.2 1 2\r\n", err: errProxyV1Addr},
	{name: "v1 octet leading zero", in: "PROXY TCP4 192.0.2.01 198.51.100.2 1 2\r\n", err: errProxyV1Addr},
	{name: "v1 three octets", in: "PROXY TCP4 192.0.2 198.51.100.2 1 2\r\n", err: errProxyV1Addr},
	{name: "v1 TCP6 two ellipses", in: "PROXY TCP6 2001::db8::1 ::2 1 2\r\n", err: errProxyV1Addr},
	{name: "v1 port 65536", in: "PROXY TCP4 192.0.2.1 198.51.100.2 65536 2\r\n", err: errProxyV1Port},
	{name: "v1 port leading zero", in: "PROXY TCP4 192.0.2.1 198.51.100.2 080 2\r\n", err: errProxyV1Port},
	{name: "v1 port sign", in: "PROXY TCP4 192.0.2.1 198.51.100.2 +80 2\r\n", err: errProxyV1Char, errAt: 35},
	{name: "v1 bare LF", in: "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n", err: errProxyV1Char, errAt: 38},
	{name: "v1 CR without LF", in: "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r\r\n", err: errProxyV1Char, errAt: 39},
	{name: "v1 108 bytes", in: "PROXY UNKNOWN " + strings.Repeat("x", 92) + "\r\n", err: errProxyV1TooLong, errAt: 107},
	{name: "v1 no CRLF", in: "PROXY UNKNOWN " + strings.Repeat("x", 200), err: errProxyV1TooLong, errAt: 107},

	// Version 2, section 2.2.
	{name: "v2 TCP4", in: v2(v2Proxy, famTCP4, v2Addrs("192.0.2.1:56324", "198.51.100.2:443")), n: 28, src: "192.0.2.1:56324", dst: "198.51.100.2:443"},
	{name: "v2 TCP6", in: v2(v2Proxy, famTCP6, v2Addrs("[2001:db8::1]:1", "[2001:db8::2]:65535")), n: 52, src: "[2001:db8::1]:1", dst: "[2001:db8::2]:65535"},
	{name: "v2 TCP6 mapped", in: v2(v2Proxy, famTCP6, v2Addrs("[::ffff:192.0.2.1]:80", "[::ffff:198.51.100.2]:443")), n: 52, src: "192.0.2.1:80", dst: "198.51.100.2:443"},
	{name: "v2 TLVs", in: v2(v2Proxy, famTCP4, v2Addrs("192.0.2.1:1", "198.51.100.2:2"), tlv(0x01, "h2"), tlv(0x04, "\x00\x00\x00")), n: 16 + 12 + 5 + 6,
		src: "192.0.2.1:1", dst: "198.51.100.2:2"},
	{name: "v2 longest", in: v2(v2Proxy, famTCP4, v2Addrs("192.0.2.1:1", "198.51.100.2:2"), tlv(0x04, strings.Repeat("\x00", ProxyV2MaxLength-12-3))), n: ProxyHeaderMaxV2,
		src: "192.0.2.1:1", dst: "198.51.100.2:2"},
	{name: "v2 LOCAL", in: v2(v2Local, 0x00), n: 16},
	{name: "v2 LOCAL with addresses", in: v2(v2Local, famTCP4, v2Addrs("192.0.2.1:1", "198.51.100.2:2")), n: 28},
	{name: "v2 LOCAL ignores family", in: v2(v2Local, 0xff, []byte("xyz")), n: 19},
	{name: "v2 UNSPEC", in: v2(v2Proxy, 0x00), n: 16},
	{name: "v2 UNSPEC with TLV", in: v2(v2Proxy, 0x01, tlv(0x04, "")), n: 19},
	{name: "v2 UNIX", in: v2(v2Proxy, famUnix, []byte("/run/a.sock"), make([]byte, 216-11)), n: 16 + 216},

	{name: "v2 bad signature", in: strings.Replace(v2(v2Proxy, 0x00), "QUIT", "QUIX", 1), err: errProxyNoSignature, errAt: 11},
	{name: "v2 signature then HTTP", in: "\r\n\r\nGET / HTTP/1.1\r\n", err: errProxyNoSignature, errAt: 5},
	{name: "v2 version 1", in: v2(0x11, 0x00), err: errProxyV2Version, errAt: 13},
	{name: "v2 version 3", in: v2(0x31, 0x00), err: errProxyV2Version, errAt: 13},
	{name: "v2 command 2", in: v2(0x22, 0x00), err: errProxyV2Command, errAt: 13},
	{name: "v2 family 4", in: v2(v2Proxy, 0x41, make([]byte, 12)), err: errProxyV2Family, errAt: 14},
	{name: "v2 transport 3", in: v2(v2Proxy, 0x13, make([]byte, 12)), err: errProxyV2Family, errAt: 14},
	{name: "v2 UDP4", in: v2(v2Proxy, 0x12, v2Addrs("192.0.2.1:1", "198.51.100.2:2")), err: errProxyV2Transport, errAt: 14},
	{name: "v2 UDP6", in: v2(v2Proxy, 0x22, v2Addrs("[2001:db8::1]:1", "[2001:db8::2]:2")), err: errProxyV2Transport, errAt: 14},
	{name: "v2 INET unspec transport", in: v2(v2Proxy, 0x10, make([]byte, 12)), err: errProxyV2Transport, errAt: 14},
	{name: "v2 UNIX datagram", in: v2(v2Proxy, 0x32, make([]byte, 216)), err: errProxyV2Transport, errAt: 14},
	{name: "v2 length over cap", in: v2Len(v2Proxy, famTCP4, ProxyV2MaxLength+1, make([]byte, ProxyV2MaxLength+1)), err: errProxyV2TooLong, errAt: 16},
	{name: "v2 length 65535", in: v2Len(v2Local, 0x00, 0xffff, nil), err: errProxyV2TooLong, errAt: 16},
	{name: "v2 TCP4 short", in: v2(v2Proxy, famTCP4, make([]byte, 11)), err: errProxyV2AddrLength, errAt: 16},
	{name: "v2 TCP6 with TCP4 block", in: v2(v2Proxy, famTCP6, v2Addrs("192.0.2.1:1", "198.51.100.2:2")), err: errProxyV2AddrLength, errAt: 16},
	{name: "v2 UNIX short", in: v2(v2Proxy, famUnix, make([]byte, 215)), err: errProxyV2AddrLength, errAt: 16},
}

// trailer follows every header: the connection's first bytes after it.
const trailer = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

func addrPort(s string) netip.AddrPort {
	if s == "" {
		return netip.AddrPort{}
	}
	return netip.MustParseAddrPort(s)
}

// TestParseProxyHeader parses each case whole, followed by the connection's
// data, and cut at every length: a valid header needs more bytes until it is
// complete and then gives the same result; an invalid one fails no later than
// errAt and, once failed, fails at every longer length.
func TestParseProxyHeader(t *testing.T) {
	for _, tc := range proxyCases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			if tc.err == nil {
				if tc.n != len(tc.in) {
					t.Fatalf("test case: n %d, header is %d bytes", tc.n, len(tc.in))
				}
				in = append(in, trailer...)
			}
			wantSrc, wantDst := addrPort(tc.src), addrPort(tc.dst)
			failedAt := -1
			for i := 0; i <= len(in); i++ {
				n, src, dst, err := ParseProxyHeader(in[:i])
				switch {
				case err != nil:
					if !errors.Is(err, ErrProxyHeader) || n != 0 || src.IsValid() || dst.IsValid() {
						t.Fatalf("prefix %d: %d, %v, %v, %v", i, n, src, dst, err)
					}
					if tc.err == nil {
						t.Fatalf("prefix %d of a valid header: %v", i, err)
					}
					if failedAt < 0 {
						failedAt = i
					}
				case failedAt >= 0:
					t.Fatalf("prefix %d: %d, %v after an error at %d", i, n, err, failedAt)
				case tc.err == nil && i >= tc.n:
					if n != tc.n || src != wantSrc || dst != wantDst {
						t.Fatalf("prefix %d: %d, %v, %v; want %d, %v, %v", i, n, src, dst, tc.n, wantSrc, wantDst)
					}
				default:
					if n != 0 || src.IsValid() || dst.IsValid() {
						t.Fatalf("prefix %d: %d, %v, %v; want more bytes", i, n, src, dst)
					}
				}
			}
			if tc.err == nil {
				return
			}
			if _, _, _, err := ParseProxyHeader(in); err != tc.err {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if tc.errAt > 0 && failedAt != tc.errAt {
				t.Fatalf("first error at prefix %d, want %d", failedAt, tc.errAt)
			}
		})
	}
}

func TestParseProxyHeaderAllocs(t *testing.T) {
	for _, tc := range proxyCases {
		in := []byte(tc.in)
		if a := testing.AllocsPerRun(10, func() { _, _, _, _ = ParseProxyHeader(in) }); a != 0 {
			t.Errorf("%s: %v allocs", tc.name, a)
		}
	}
}

func TestProxyErrors(t *testing.T) {
	err := errProxyV2TooLong
	if !errors.Is(err, ErrProxyHeader) || err.Error() != "websocket: bad PROXY protocol header: v2 length exceeds ProxyV2MaxLength" {
		t.Fatalf("%v", err)
	}
	if ProxyHeaderMaxV2 != 4112 {
		t.Fatalf("ProxyHeaderMaxV2 = %d", ProxyHeaderMaxV2)
	}
}

// ipTexts are tricky address texts for the parsers, valid and not.
var ipTexts = []string{
	"", ".", "0.0.0.0", "255.255.255.255", "256.0.0.0", "1.2.3", "1.2.3.4.5", "1..2.3", "01.2.3.4",
	"1.2.3.4.", ".1.2.3.4", "1.2.3.04", "1.2.3.0004", "1.2.3.-4", "1.2.3.4 ", "a.b.c.d",
	"::", ":", ":::", "::1", "1::", "1:", ":1", "1::2", "1:::2", "1::2::3", "::ffff:1.2.3.4",
	"::1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "1:2:3:4:5::1.2.3.4",
	"1:2:3:4:5:6::1.2.3.4", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::",
	"1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7", "::1:2:3:4:5:6:7:8", "12345::", "ABCD:ef01::",
	"g::", "fe80::1%eth0", "1.2.3.4::", "::1.2.3", "::1.2.3.4.5", "::ffff:01.2.3.4",
	"0000:0000:0000:0000:0000:0000:0000:0000", "1:2:3:4:5:6:7", "::1.2.3.4:5",
}

// checkIPParsers compares parseIPv4 and parseIPv6 with netip.ParseAddr.
func checkIPParsers(t *testing.T, s string) {
	t.Helper()
	want, err := netip.ParseAddr(s)
	ok := err == nil && want.Zone() == ""
	if got, gotOK := parseIPv4([]byte(s)); gotOK != (ok && want.Is4()) || gotOK && got != want {
		t.Fatalf("parseIPv4(%q) = %v, %v; netip: %v, %v", s, got, gotOK, want, err)
	}
	if got, gotOK := parseIPv6([]byte(s)); gotOK != (ok && want.Is6()) || gotOK && got != want {
		t.Fatalf("parseIPv6(%q) = %v, %v; netip: %v, %v", s, got, gotOK, want, err)
	}
}

func TestParseIPMatchesNetip(t *testing.T) {
	for _, s := range ipTexts {
		checkIPParsers(t, s)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "0123456789abcdefABCDEFg:.:.%"
	b := make([]byte, 0, 48)
	for range 200000 {
		b = b[:0]
		for range rng.IntN(46) {
			b = append(b, alphabet[rng.IntN(len(alphabet))])
		}
		checkIPParsers(t, string(b))
	}
	// Random valid addresses in shortest, long and mixed forms.
	for range 20000 {
		var a16 [16]byte
		for i := range a16 {
			if rng.IntN(3) > 0 { // many zeros, so "::" appears
				a16[i] = byte(rng.Uint32())
			}
		}
		a := netip.AddrFrom16(a16)
		checkIPParsers(t, a.String())
		checkIPParsers(t, a.StringExpanded())
		a4 := netip.AddrFrom4([4]byte(a16[12:]))
		checkIPParsers(t, a4.String())
		checkIPParsers(t, fmt.Sprintf("%x:%x::%s", a16[0], a16[1], a4))
	}
}

// FuzzProxyHeader requires, for arbitrary input, a sane result that agrees
// with the result for every prefix and for the input with more bytes after
// it, and version 1 addresses that agree with netip.ParseAddr. It also
// compares the address parsers with netip.ParseAddr on the raw input.
func FuzzProxyHeader(f *testing.F) {
	for _, tc := range proxyCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) <= 64 {
			checkIPParsers(t, string(in))
		}
		n, src, dst, err := ParseProxyHeader(in)
		if n < 0 || n > len(in) || n > ProxyHeaderMaxV2 || n > 0 && err != nil {
			t.Fatalf("n %d, err %v for %d bytes", n, err, len(in))
		}
		if err != nil && !errors.Is(err, ErrProxyHeader) {
			t.Fatalf("err %v", err)
		}
		if n == 0 && (src.IsValid() || dst.IsValid()) || src.Addr().Is4In6() || dst.Addr().Is4In6() {
			t.Fatalf("n %d, src %v, dst %v", n, src, dst)
		}
		if src.IsValid() != dst.IsValid() {
			t.Fatalf("src %v, dst %v", src, dst)
		}
		if n > 0 && in[0] == 'P' {
			checkV1Addrs(t, in[:n], src, dst)
		}

		failed := false
		for i := 0; i < len(in); i++ {
			pn, psrc, pdst, perr := ParseProxyHeader(in[:i])
			switch {
			case perr != nil:
				if err == nil || pn != 0 {
					t.Fatalf("prefix %d: %d, %v; whole: %d, %v", i, pn, perr, n, err)
				}
				failed = true
			case failed:
				t.Fatalf("prefix %d: %d, %v after an error", i, pn, perr)
			case n > 0 && i >= n:
				if pn != n || psrc != src || pdst != dst {
					t.Fatalf("prefix %d: %d, %v, %v; whole: %d, %v, %v", i, pn, psrc, pdst, n, src, dst)
				}
			case pn != 0:
				t.Fatalf("prefix %d: %d; whole: %d, %v", i, pn, n, err)
			}
		}
		more := append(in[:len(in):len(in)], "\r\n\x00PROXY "...)
		mn, msrc, mdst, merr := ParseProxyHeader(more)
		if (n > 0 || err != nil) && (mn != n || msrc != src || mdst != dst || merr != err) {
			t.Fatalf("with more bytes: %d, %v, %v, %v; without: %d, %v, %v, %v", mn, msrc, mdst, merr, n, src, dst, err)
		}
	})
}

// checkV1Addrs requires the addresses of a parsed version 1 line to be what
// netip makes of its fields.
func checkV1Addrs(t *testing.T, line []byte, src, dst netip.AddrPort) {
	t.Helper()
	f := strings.Fields(string(line))
	if f[1] == "UNKNOWN" {
		if src.IsValid() || dst.IsValid() {
			t.Fatalf("%q: %v, %v", line, src, dst)
		}
		return
	}
	if len(f) != 6 {
		t.Fatalf("%q parsed", line)
	}
	for i, got := range []netip.AddrPort{src, dst} {
		a, err := netip.ParseAddr(f[2+i])
		if err != nil || a.Unmap() != got.Addr() || a.Is4() != (f[1] == "TCP4") || fmt.Sprint(got.Port()) != f[4+i] {
			t.Fatalf("%q: got %v, netip %v, %v", line, got, a, err)
		}
	}
}

// Reading the header as bytes arrive, as a gnet OnTraffic handler would with
// Peek and Discard.
func ExampleParseProxyHeader() {
	hdr := []byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n")
	for _, arrived := range []int{20, len(hdr)} {
		b := hdr[:arrived] // c.Peek(-1)
		n, src, dst, err := ParseProxyHeader(b)
		switch {
		case err != nil:
			fmt.Println(err) // close the connection
		case n == 0:
			fmt.Println("need more bytes")
		default:
			fmt.Printf("client %v, server %v, %q left\n", src, dst, b[n:]) // c.Discard(n)
		}
	}
	// Output:
	// need more bytes
	// client 192.0.2.1:56324, server 198.51.100.2:443, "GET / HTTP/1.1\r\n" left
}

func BenchmarkParseProxyHeader(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"v1/TCP4", "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"},
		{"v1/TCP6", "PROXY TCP6 2001:db8:85a3::8a2e:370:7334 2001:db8::2 56324 443\r\n"},
		{"v2/TCP4", v2(v2Proxy, famTCP4, v2Addrs("192.0.2.1:56324", "198.51.100.2:443"))},
		{"v2/TCP6", v2(v2Proxy, famTCP6, v2Addrs("[2001:db8:85a3::8a2e:370:7334]:56324", "[2001:db8::2]:443"), tlv(0x01, "h2"))},
	} {
		in := []byte(bc.in + trailer)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				if n, _, _, err := ParseProxyHeader(in); n != len(bc.in) || err != nil {
					b.Fatal(n, err)
				}
			}
		})
	}
}
