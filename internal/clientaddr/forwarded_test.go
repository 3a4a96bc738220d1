package clientaddr_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/wsloop/wsloop/codec"
	"github.com/wsloop/wsloop/internal/clientaddr"
)

func TestParseTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // String() of the result
	}{
		{"", ""},
		{" , ,", ""},
		{"127.0.0.1/8,10.0.0.0/8,::1", "127.0.0.0/8,10.0.0.0/8,::1/128"},
		{" 192.0.2.1 ,\t2001:db8::/32 , ", "192.0.2.1/32,2001:db8::/32"},
		{"2001:db8::1/48", "2001:db8::/48"},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8"},
		{"::ffff:192.0.2.1", "192.0.2.1/32"},
		{"::ffff:0:0/96", "0.0.0.0/0"},
		{"0.0.0.0/0,::/0", "0.0.0.0/0,::/0"},
	} {
		got, err := clientaddr.ParseTrustedProxies(tc.in)
		if err != nil || got.String() != tc.want {
			t.Errorf("ParseTrustedProxies(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{
		"10.0.0.0/33", "localhost", "10.0.0.1/", "/8", "10.0.0.0/8/8", "10.0.0.1-10.0.0.9",
		"fe80::1%eth0", "fe80::/10%eth0", "::ffff:0:0/95", "10.0.0.0/8,bad", "10.0.0.0 /8",
	} {
		got, err := clientaddr.ParseTrustedProxies(in)
		if !errors.Is(err, clientaddr.ErrTrustedProxy) || got != nil {
			t.Errorf("ParseTrustedProxies(%q) = %q, %v; want ErrTrustedProxy", in, got, err)
		}
	}
}

func TestTrustedProxiesContains(t *testing.T) {
	tp, err := clientaddr.ParseTrustedProxies("10.0.0.0/8, 2001:db8:ffff::/48, fe80::/10, 127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr string // "" for the invalid Addr
		want bool
	}{
		{"10.1.2.3", true},
		{"11.0.0.0", false},
		{"::ffff:10.1.2.3", true},
		{"127.0.0.1", true},
		{"127.0.0.2", false},
		{"2001:db8:ffff:1::1", true},
		{"2001:db8:fffe::1", false},
		{"fe80::1%eth0", true},
		{"::a01:203", false}, // IPv4-compatible, not mapped
		{"", false},
	} {
		var a netip.Addr
		if tc.addr != "" {
			a = netip.MustParseAddr(tc.addr)
		}
		if got := tp.Contains(a); got != tc.want {
			t.Errorf("Contains(%s) = %v", tc.addr, got)
		}
	}
	if (clientaddr.TrustedProxies)(nil).Contains(netip.MustParseAddr("10.0.0.1")) {
		t.Error("nil TrustedProxies trusts")
	}
}

// trustedForTest covers the proxies of the address tables below.
var trustedForTest, _ = clientaddr.ParseTrustedProxies("10.0.0.0/8, 2001:db8:ffff::/48, 127.0.0.1")

type clientAddrCase struct {
	name   string
	remote string // "" for the invalid Addr
	fields []string
	want   string // "" for the invalid Addr
}

func runClientAddr(t *testing.T, f func(netip.Addr, []string, func(netip.Addr) bool) netip.Addr, cases []clientAddrCase) {
	t.Helper()
	for _, tc := range cases {
		var remote, want netip.Addr
		if tc.remote != "" {
			remote = netip.MustParseAddr(tc.remote)
		}
		if tc.want != "" {
			want = netip.MustParseAddr(tc.want)
		}
		if got := f(remote, tc.fields, trustedForTest.Contains); got != want {
			t.Errorf("%s: got %v, want %v", tc.name, got, want)
		}
	}
}

func TestClientAddr(t *testing.T) {
	runClientAddr(t, clientaddr.ClientAddr, []clientAddrCase{
		{"untrusted peer's header ignored", "203.0.113.7", []string{"10.0.0.9, 192.0.2.1"}, "203.0.113.7"},
		{"untrusted peer unmapped", "::ffff:203.0.113.7", []string{"192.0.2.1"}, "203.0.113.7"},
		{"no header", "10.0.0.1", nil, "10.0.0.1"},
		{"empty header", "10.0.0.1", []string{""}, "10.0.0.1"},
		{"one hop", "10.0.0.1", []string{"203.0.113.7"}, "203.0.113.7"},
		{"spoofed leftmost", "10.0.0.1", []string{"192.0.2.66, 203.0.113.7"}, "203.0.113.7"},
		{"spoofed trusted-looking leftmost", "10.0.0.1", []string{"10.9.9.9, 203.0.113.7"}, "203.0.113.7"},
		{"spoofed field before the proxy's", "10.0.0.1", []string{"192.0.2.66", "203.0.113.7"}, "203.0.113.7"},
		{"chain of trusted proxies", "10.0.0.1", []string{"192.0.2.66, 203.0.113.7, 10.0.0.3, 10.0.0.2"}, "203.0.113.7"},
		{"chain over fields", "10.0.0.1", []string{"192.0.2.66, 203.0.113.7", "10.0.0.3", "10.0.0.2"}, "203.0.113.7"},
		{"all trusted", "10.0.0.1", []string{"10.0.0.5, 10.0.0.2"}, "10.0.0.5"},
		{"IPv4 with port", "10.0.0.1", []string{"203.0.113.7:5678"}, "203.0.113.7"},
		{"IPv6 bracketed with port", "10.0.0.1", []string{"[2001:db8::7]:443"}, "2001:db8::7"},
		{"IPv6 bracketed", "10.0.0.1", []string{"[2001:db8::7]"}, "2001:db8::7"},
		{"IPv6 bare", "2001:db8:ffff::1", []string{"2001:db8::7, 2001:db8:ffff::2"}, "2001:db8::7"},
		{"mapped entries", "::ffff:10.0.0.1", []string{"::ffff:203.0.113.7, ::ffff:10.0.0.2"}, "203.0.113.7"},
		{"whitespace and empty elements", "10.0.0.1", []string{" ,203.0.113.7 ,, \t10.0.0.2 , "}, "203.0.113.7"},
		{"malformed rightmost", "10.0.0.1", []string{"203.0.113.7, unknown"}, "10.0.0.1"},
		{"malformed behind a trusted hop", "10.0.0.1", []string{"203.0.113.7, garbage, 10.0.0.2"}, "10.0.0.2"},
		{"malformed left of the client", "10.0.0.1", []string{"garbage, 203.0.113.7"}, "203.0.113.7"},
		{"two malformed", "10.0.0.1", []string{"203.0.113.7, x, y, 10.0.0.2"}, "10.0.0.2"},
		{"malformed then trusted then client", "10.0.0.1", []string{"x, 10.0.0.3, 203.0.113.7"}, "203.0.113.7"},
		{"malformed leftmost behind trusted", "10.0.0.1", []string{"x, 10.0.0.3, 10.0.0.2"}, "10.0.0.3"},
		{"zone", "10.0.0.1", []string{"fe80::1%eth0"}, "10.0.0.1"},
		{"bracketed IPv4", "10.0.0.1", []string{"[203.0.113.7]"}, "10.0.0.1"},
		{"port 65536", "10.0.0.1", []string{"203.0.113.7:65536"}, "10.0.0.1"},
		{"empty port", "10.0.0.1", []string{"203.0.113.7:"}, "10.0.0.1"},
		{"obfuscated port", "10.0.0.1", []string{"203.0.113.7:_x"}, "10.0.0.1"},
		{"junk after bracket", "10.0.0.1", []string{"[2001:db8::7]x"}, "10.0.0.1"},
		{"Forwarded syntax", "10.0.0.1", []string{"for=203.0.113.7"}, "10.0.0.1"},
		{"unix socket peer", "", []string{"203.0.113.7"}, ""},
	})
}

func TestClientAddrTrustFuncs(t *testing.T) {
	xff := []string{"203.0.113.7"}
	if got := clientaddr.ClientAddr(netip.MustParseAddr("10.0.0.1"), xff, nil); got != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("nil trusted: %v", got)
	}
	unixOrTrusted := func(a netip.Addr) bool { return !a.IsValid() || trustedForTest.Contains(a) }
	if got := clientaddr.ClientAddr(netip.Addr{}, xff, unixOrTrusted); got != netip.MustParseAddr("203.0.113.7") {
		t.Errorf("trusted unix socket peer: %v", got)
	}
	var asked []netip.Addr
	record := func(a netip.Addr) bool { asked = append(asked, a); return trustedForTest.Contains(a) }
	got := clientaddr.ClientAddr(netip.MustParseAddr("::ffff:10.0.0.1"), []string{"::ffff:192.0.2.66, [::ffff:203.0.113.7]:1"}, record)
	want := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("203.0.113.7")}
	if got != want[1] || !reflect.DeepEqual(asked, want) {
		t.Errorf("got %v; trusted saw %v, want %v", got, asked, want)
	}
}

func TestForwardedClientAddr(t *testing.T) {
	runClientAddr(t, clientaddr.ForwardedClientAddr, []clientAddrCase{
		// The examples of https://www.rfc-editor.org/rfc/rfc7239#section-4.
		{"RFC IPv6", "10.0.0.1", []string{`For="[2001:db8:cafe::17]:4711"`}, "2001:db8:cafe::17"},
		{"RFC parameters", "10.0.0.1", []string{`for=192.0.2.60;proto=http;by=203.0.113.43`}, "192.0.2.60"},
		{"RFC list", "10.0.0.1", []string{`for=192.0.2.43, for=198.51.100.17`}, "198.51.100.17"},

		{"untrusted peer's header ignored", "203.0.113.7", []string{"for=192.0.2.1"}, "203.0.113.7"},
		{"no header", "10.0.0.1", nil, "10.0.0.1"},
		{"spoofed leftmost", "10.0.0.1", []string{"for=192.0.2.66, for=203.0.113.7"}, "203.0.113.7"},
		{"spoofed field before the proxy's", "10.0.0.1", []string{"for=192.0.2.66", "for=203.0.113.7;proto=https"}, "203.0.113.7"},
		{"spoofed unterminated quote", "10.0.0.1", []string{`for="192.0.2.66, for=203.0.113.7`}, "10.0.0.1"},
		{"spoofed quote before quoted IPv6", "10.0.0.1", []string{`for=192.0.2.66;x=", for="[2001:db8::7]"`}, "10.0.0.1"},
		{"chain of trusted proxies", "10.0.0.1", []string{"for=203.0.113.7;by=10.0.0.3, for=10.0.0.3, for=10.0.0.2"}, "203.0.113.7"},
		{"all trusted", "10.0.0.1", []string{"for=10.0.0.5, for=10.0.0.2"}, "10.0.0.5"},
		{"case-insensitive name", "10.0.0.1", []string{"FOR=203.0.113.7"}, "203.0.113.7"},
		{"quoted IPv4 with port", "10.0.0.1", []string{`for="203.0.113.7:5678"`}, "203.0.113.7"},
		{"obfuscated port", "10.0.0.1", []string{`for="203.0.113.7:_x1.y-z"`}, "203.0.113.7"},
		{"unquoted bracketed IPv6", "10.0.0.1", []string{"for=[2001:db8::7]:80"}, "2001:db8::7"},
		{"unquoted bare IPv6", "10.0.0.1", []string{"for=2001:db8::7"}, "2001:db8::7"},
		{"whitespace around ; and =", "10.0.0.1", []string{"proto=http ; for = 203.0.113.7 ;by=10.0.0.1"}, "203.0.113.7"},
		{"empty elements and pairs", "10.0.0.1", []string{" , ;for=203.0.113.7;; ,, "}, "203.0.113.7"},
		{"quoted comma in another parameter", "10.0.0.1", []string{`for=203.0.113.7;ext="a, b;c\" d", for=10.0.0.2`}, "203.0.113.7"},
		{"unknown", "10.0.0.1", []string{"for=203.0.113.7, for=unknown"}, "10.0.0.1"},
		{"obfuscated node", "10.0.0.1", []string{"for=203.0.113.7, for=_hidden"}, "10.0.0.1"},
		{"hop without for", "10.0.0.1", []string{"for=203.0.113.7, proto=https"}, "10.0.0.1"},
		{"malformed behind a trusted hop", "10.0.0.1", []string{"for=203.0.113.7, for=unknown, for=10.0.0.2"}, "10.0.0.2"},
		{"malformed left of the client", "10.0.0.1", []string{"for=unknown, for=203.0.113.7"}, "203.0.113.7"},
		{"duplicate for", "10.0.0.1", []string{"for=203.0.113.7;for=192.0.2.66"}, "10.0.0.1"},
		{"parameter without =", "10.0.0.1", []string{"for=203.0.113.7, for"}, "10.0.0.1"},
		{"empty value", "10.0.0.1", []string{"for=203.0.113.7, for="}, "10.0.0.1"},
		{"escaped node", "10.0.0.1", []string{`for="\203.0.113.7"`}, "10.0.0.1"},
		{"junk after quoted-string", "10.0.0.1", []string{`for="[2001:db8::7]"x, for=203.0.113.7`}, "203.0.113.7"},
		{"junk after quoted-string, rightmost", "10.0.0.1", []string{`for=203.0.113.7, for="[2001:db8::7]"x`}, "10.0.0.1"},
		{"bad name", "10.0.0.1", []string{`for=203.0.113.7, f(r=1`}, "10.0.0.1"},
		{"resync after bad element", "10.0.0.1", []string{`f(r="a,b", for=203.0.113.7`}, "203.0.113.7"},
		{"zone", "10.0.0.1", []string{`for="[fe80::1%eth0]"`}, "10.0.0.1"},
		{"X-Forwarded-For syntax", "10.0.0.1", []string{"203.0.113.7"}, "10.0.0.1"},
	})
}

// xffEntry is an X-Forwarded-For entry for the random comparison: its text
// and the address it stands for ("" if malformed).
type xffEntry struct{ text, addr string }

var xffPool = []xffEntry{
	{"10.0.0.2", "10.0.0.2"}, {"10.0.0.3:80", "10.0.0.3"}, {"127.0.0.1", "127.0.0.1"},
	{"[2001:db8:ffff::5]:1", "2001:db8:ffff::5"}, {"::ffff:10.0.0.4", "10.0.0.4"},
	{"203.0.113.7", "203.0.113.7"}, {"192.0.2.1:5", "192.0.2.1"}, {"2001:db8::9", "2001:db8::9"},
	{"unknown", ""}, {"1.2.3", ""}, {"[::1", ""}, {"10.0.0.2:99999", ""},
}

// refClientAddr is the rule of ClientAddr written the obvious way: collect
// the entries, then walk from the right.
func refClientAddr(remote netip.Addr, entries []xffEntry, trusted func(netip.Addr) bool) netip.Addr {
	if !trusted(remote) {
		return remote
	}
	addr := remote
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].addr == "" {
			return addr
		}
		addr = netip.MustParseAddr(entries[i].addr)
		if !trusted(addr) {
			return addr
		}
	}
	return addr
}

// TestClientAddrMatchesReference compares ClientAddr with refClientAddr on
// random lists, spread over random fields with random padding.
func TestClientAddrMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	remotes := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("198.51.100.1")}
	for range 20000 {
		entries := make([]xffEntry, rng.IntN(6))
		for i := range entries {
			entries[i] = xffPool[rng.IntN(len(xffPool))]
		}
		var fields []string
		var field strings.Builder
		for i, e := range entries {
			if i > 0 {
				if rng.IntN(3) == 0 {
					fields = append(fields, field.String())
					field.Reset()
				} else {
					field.WriteString([]string{",", ", ", " ,\t", ",,"}[rng.IntN(4)])
				}
			}
			field.WriteString(e.text)
		}
		fields = append(fields, field.String())
		remote := remotes[rng.IntN(len(remotes))]
		want := refClientAddr(remote, entries, trustedForTest.Contains)
		if got := clientaddr.ClientAddr(remote, fields, trustedForTest.Contains); got != want {
			t.Fatalf("ClientAddr(%v, %q) = %v, want %v", remote, fields, got, want)
		}
		// The same list as Forwarded.
		for i := range fields {
			fields[i] = forwardedFrom(fields[i])
		}
		if got := clientaddr.ForwardedClientAddr(remote, fields, trustedForTest.Contains); got != want {
			t.Fatalf("ForwardedClientAddr(%v, %q) = %v, want %v", remote, fields, got, want)
		}
	}
}

// TestClientAddrGarbage feeds both walks random bytes from the alphabet of
// their syntax: no panic, and the result is remote or an unmapped address.
func TestClientAddrGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const alphabet = "for=\";,\\ \t[]:._1a0ffff"
	remote := netip.MustParseAddr("10.0.0.1")
	buf := make([]byte, 0, 64)
	for range 50000 {
		buf = buf[:0]
		for range rng.IntN(64) {
			buf = append(buf, alphabet[rng.IntN(len(alphabet))])
		}
		fields := []string{string(buf), "for=1.2.3.4, 5.6.7.8"}[:1+rng.IntN(2)]
		for _, f := range []func(netip.Addr, []string, func(netip.Addr) bool) netip.Addr{clientaddr.ClientAddr, clientaddr.ForwardedClientAddr} {
			if got := f(remote, fields, trustedForTest.Contains); got != remote && (!got.IsValid() || got.Is4In6() || got.Zone() != "") {
				t.Fatalf("%q: %v", fields, got)
			}
		}
	}
}

// forwardedFrom rewrites an X-Forwarded-For value as a Forwarded value.
func forwardedFrom(xff string) string {
	var b strings.Builder
	for i, e := range strings.Split(xff, ",") {
		if i > 0 {
			b.WriteByte(',')
		}
		if e = strings.Trim(e, " \t"); e != "" {
			b.WriteString(`for="` + e + `";proto=https`)
		}
	}
	return b.String()
}

func TestClientAddrAllocs(t *testing.T) {
	remote := netip.MustParseAddr("10.0.0.1")
	xff := []string{"192.0.2.66, 203.0.113.7", "10.0.0.3, [2001:db8:ffff::2]:443"}
	fwd := []string{`for=192.0.2.66, for="[2001:db8::7]:1";proto=https`, "for=10.0.0.3;by=10.0.0.1"}
	var sink netip.Addr
	if a := testing.AllocsPerRun(100, func() {
		sink = clientaddr.ClientAddr(remote, xff, trustedForTest.Contains)
		sink = clientaddr.ForwardedClientAddr(remote, fwd, trustedForTest.Contains)
	}); a != 0 {
		t.Errorf("allocs = %v", a)
	}
	_ = sink
}

// Finding the client of an upgrade request behind a load balancer: collect
// the X-Forwarded-For fields (into a small array, so nothing is allocated
// for up to four fields) and walk them from the peer's address.
func ExampleClientAddr() {
	trusted, err := clientaddr.ParseTrustedProxies("10.0.0.0/8, ::1")
	if err != nil {
		panic(err)
	}
	req := codec.NewRequest([]byte("GET /chat HTTP/1.1\r\nHost: example.com\r\n" +
		"X-Forwarded-For: 192.0.2.66, 203.0.113.7\r\n" + // the client claimed 192.0.2.66
		"X-Forwarded-For: 10.0.0.3\r\n\r\n"))
	peer := netip.MustParseAddr("10.0.0.2") // from the connection

	var buf [4]string
	xff := buf[:0]
	req.Headers(func(name, value string) bool {
		if strings.EqualFold(name, "X-Forwarded-For") {
			xff = append(xff, value)
		}
		return true
	})
	fmt.Println(clientaddr.ClientAddr(peer, xff, trusted.Contains))
	// Output: 203.0.113.7
}

func BenchmarkClientAddr(b *testing.B) {
	remote := netip.MustParseAddr("10.0.0.1")
	b.Run("X-Forwarded-For", func(b *testing.B) {
		xff := []string{"192.0.2.66, 203.0.113.7, 10.0.0.3"}
		b.ReportAllocs()
		for b.Loop() {
			clientaddr.ClientAddr(remote, xff, trustedForTest.Contains)
		}
	})
	b.Run("Forwarded", func(b *testing.B) {
		fwd := []string{`for=192.0.2.66, for="203.0.113.7:5678";proto=https, for=10.0.0.3;by=10.0.0.1`}
		b.ReportAllocs()
		for b.Loop() {
			clientaddr.ForwardedClientAddr(remote, fwd, trustedForTest.Contains)
		}
	})
}
