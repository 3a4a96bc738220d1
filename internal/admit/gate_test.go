package admit

import (
	"net/netip"
	"testing"
)

func TestOrigins(t *testing.T) {
	o := ParseOrigins([]string{"https://app.example.com", "example.org", "*.example.net"})
	for _, c := range []struct {
		origin string
		want   bool
	}{
		{"", true}, // not a browser
		{"https://app.example.com", true},
		{"HTTPS://APP.EXAMPLE.COM", true},
		{"http://app.example.com", false},
		{"https://example.org", true},
		{"http://example.org:8080", true},
		{"https://a.example.net", true},
		{"https://example.net", false},
		{"https://evil.com", false},
		{"null", false},
	} {
		if got := o.Allowed(c.origin); got != c.want {
			t.Errorf("Allowed(%q) = %v, want %v", c.origin, got, c.want)
		}
	}
	if any := ParseOrigins(nil); !any.Allowed("https://evil.com") {
		t.Error("no patterns must allow every origin")
	}
}

func TestGateLimits(t *testing.T) {
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	g := New(Limits{MaxConns: 3, MaxConnsPerIP: 2})
	for i, c := range []struct {
		ip   netip.Addr
		want Verdict
	}{{a, Admitted}, {a, Admitted}, {a, IPLimit}, {b, Admitted}, {b, ConnLimit}, {netip.Addr{}, ConnLimit}} {
		if got := g.Take(c.ip); got != c.want {
			t.Fatalf("take %d (%v) = %v, want %v", i, c.ip, got, c.want)
		}
	}
	if n := g.Admitted(); n != 3 {
		t.Fatalf("admitted %d, want 3 (refusals hold nothing)", n)
	}
	g.Release(a)
	if got := g.Take(a); got != Admitted {
		t.Fatalf("after a release: %v", got)
	}
	r := New(Limits{UpgradeRate: 1, UpgradeBurst: 1})
	if r.Take(a) != Admitted || r.Take(a) != RateLimit || r.Admitted() != 1 {
		t.Fatal("rate limit: want one admitted, then refused holding nothing")
	}
}
