//go:build !linux

package impair

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
)

// Link is an impaired link; it can only be built on Linux. The methods
// exist so that callers compile everywhere.
type Link struct{}

// Supported returns ErrUnsupported.
func Supported() error { return ErrUnsupported }

// New returns ErrUnsupported.
func New(name string, cfg Config) (*Link, error) { return nil, ErrUnsupported }

// Set does nothing.
func (l *Link) Set(cfg Config) {}

// Config returns the zero Config.
func (l *Link) Config() Config { return Config{} }

// Blackhole does nothing.
func (l *Link) Blackhole(on bool) {}

// HostAddr returns the zero Addr.
func (l *Link) HostAddr() netip.Addr { return netip.Addr{} }

// NSAddr returns the zero Addr.
func (l *Link) NSAddr() netip.Addr { return netip.Addr{} }

// NSName returns "".
func (l *Link) NSName() string { return "" }

// Stats returns zero counters.
func (l *Link) Stats() Stats { return Stats{} }

// DialContext returns ErrUnsupported.
func (l *Link) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return nil, ErrUnsupported
}

// Listen returns ErrUnsupported.
func (l *Link) Listen(network, addr string) (net.Listener, error) { return nil, ErrUnsupported }

// ListenPacket returns ErrUnsupported.
func (l *Link) ListenPacket(network, addr string) (net.PacketConn, error) {
	return nil, ErrUnsupported
}

// Command returns a command that fails to start.
func (l *Link) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "impair-unsupported")
}

// Close does nothing.
func (l *Link) Close() error { return nil }
