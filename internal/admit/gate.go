// Package admit is wsloop's handshake-time admission control: the Origin
// allowlist, the limits on connections (in all, and per client address)
// and the rate of upgrades. Everything here runs before a connection has
// any buffer or handler state.
package admit

import (
	"net/netip"
	"sync"
	"sync/atomic"

	"golang.org/x/time/rate"
)

// Limits configures a Gate; zero values mean no limit.
type Limits struct {
	Origins       []string // allowlist; empty allows every origin (see Origins)
	MaxConns      int      // upgraded connections at once
	MaxConnsPerIP int      // upgraded connections at once per client address
	UpgradeRate   float64  // upgrades per second (token bucket)
	UpgradeBurst  int      // the bucket's size; 0: the rate, at least 1
}

// Verdict is a Gate's answer to an upgrade.
type Verdict uint8

// Verdicts, in the order Take checks them.
const (
	Admitted  Verdict = iota
	ConnLimit         // MaxConns reached
	IPLimit           // MaxConnsPerIP reached for the client's address
	RateLimit         // over UpgradeRate
)

// Gate counts admitted connections and applies Limits. Safe from any
// goroutine.
type Gate struct {
	origins  Origins
	upgrades *rate.Limiter // nil: no rate limit
	maxConns int
	maxPerIP int
	slots    atomic.Int64 // admitted connections
	ipMu     sync.Mutex
	perIP    map[netip.Addr]int32
}

// New returns a gate for l.
func New(l Limits) *Gate {
	g := &Gate{origins: ParseOrigins(l.Origins), maxConns: l.MaxConns, maxPerIP: l.MaxConnsPerIP, perIP: make(map[netip.Addr]int32)}
	if l.UpgradeRate > 0 {
		burst := l.UpgradeBurst
		if burst <= 0 {
			burst = max(1, int(l.UpgradeRate))
		}
		g.upgrades = rate.NewLimiter(rate.Limit(l.UpgradeRate), burst)
	}
	return g
}

// OriginAllowed reports whether an upgrade with this Origin header may
// proceed (see Origins.Allowed).
func (g *Gate) OriginAllowed(origin string) bool { return g.origins.Allowed(origin) }

// Take admits a connection from ip (the zero Addr when unknown): a slot
// among MaxConns, one among MaxConnsPerIP for its address, and a token of
// the upgrade rate, in that order. Unless the verdict is Admitted, nothing
// is held; otherwise Release gives it back when the connection ends.
func (g *Gate) Take(ip netip.Addr) Verdict {
	if n := g.slots.Add(1); g.maxConns > 0 && n > int64(g.maxConns) {
		g.slots.Add(-1)
		return ConnLimit
	}
	if g.maxPerIP > 0 && ip.IsValid() {
		g.ipMu.Lock()
		n := g.perIP[ip]
		if n < int32(g.maxPerIP) {
			g.perIP[ip] = n + 1
		}
		g.ipMu.Unlock()
		if n >= int32(g.maxPerIP) {
			g.slots.Add(-1)
			return IPLimit
		}
	}
	if g.upgrades != nil && !g.upgrades.Allow() {
		g.Release(ip)
		return RateLimit
	}
	return Admitted
}

// Release gives back what Take admitted for ip.
func (g *Gate) Release(ip netip.Addr) {
	g.slots.Add(-1)
	if g.maxPerIP > 0 && ip.IsValid() {
		g.ipMu.Lock()
		if n := g.perIP[ip] - 1; n > 0 {
			g.perIP[ip] = n
		} else {
			delete(g.perIP, ip)
		}
		g.ipMu.Unlock()
	}
}

// Admitted reports the connections holding a slot.
func (g *Gate) Admitted() int64 { return g.slots.Load() }
