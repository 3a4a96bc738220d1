//go:build linux

package impair

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"

	"golang.org/x/sys/unix"
)

// DialContext connects to addr from a socket created in the namespace, so
// the connection crosses the link when addr is HostAddr (or anything else
// routed through it). It has net.Dialer's DialContext signature, so it
// plugs into client.WithNetDial, gorilla's Dialer.NetDialContext and the
// like. addr should be an IP literal: names are resolved in the host's
// namespace. Safe from any goroutine; the connection outlives Close but
// stops carrying data.
func (l *Link) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	ns, err := l.nsHandle()
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	var c net.Conn
	err = inNS(ns, func() error {
		// No fast fallback: its second attempt would run on another
		// goroutine, outside the namespace.
		d := net.Dialer{FallbackDelay: -1}
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Listen listens on addr ("tcp", "unix", ...) in the namespace: host
// processes reach it at NSAddr through the link. Safe from any goroutine.
func (l *Link) Listen(network, addr string) (net.Listener, error) {
	ns, err := l.nsHandle()
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	var ln net.Listener
	err = inNS(ns, func() error {
		var err error
		ln, err = new(net.ListenConfig).Listen(context.Background(), network, addr)
		return err
	})
	return ln, err
}

// ListenPacket is Listen for packet sockets ("udp", ...). Safe from any
// goroutine.
func (l *Link) ListenPacket(network, addr string) (net.PacketConn, error) {
	ns, err := l.nsHandle()
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	var pc net.PacketConn
	err = inNS(ns, func() error {
		var err error
		pc, err = new(net.ListenConfig).ListenPacket(context.Background(), network, addr)
		return err
	})
	return pc, err
}

// Command returns a command that runs name with args inside the namespace
// (through ip netns exec), killed when ctx ends, e.g. a third-party client
// that dials HostAddr. It must be started before Close.
func (l *Link) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.nsName, name}, args...)...)
}

// dupFile duplicates f's descriptor (close-on-exec).
func dupFile(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("impair: dup namespace handle: %w", err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}
