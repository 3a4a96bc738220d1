package soak

import (
	"context"
	"net"
	"net/netip"
	"time"
)

// Impairment is what an impaired link does to every packet, each way:
// the probabilities of loss, reordering and duplication, and a delay with
// jitter.
type Impairment struct {
	Loss, Reorder, Duplicate float64
	Delay, Jitter            time.Duration
}

// Link is a network link between this host and a network namespace whose
// packets can be impaired or dropped altogether. The netem and half-open
// phases run their wsloop on HostAddr and their subscribers in the
// namespace through DialContext. Implementations must be safe for
// concurrent use: DialContext is called from the clients' goroutines
// while the phase calls Impair and Blackhole.
type Link interface {
	// HostAddr is the host's address on the link (the server listens there).
	HostAddr() netip.Addr
	// DialContext dials from inside the namespace (client.WithNetDial).
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	// Impair applies im to the link's packets from now on.
	Impair(im Impairment) error
	// Blackhole drops every packet both ways while on, without a reset
	// or FIN reaching either side: established connections become
	// half-open.
	Blackhole(on bool) error
	// Close removes the link and the namespace.
	Close() error
}

// LinkFactory creates a Link named name.
type LinkFactory func(name string) (Link, error)
