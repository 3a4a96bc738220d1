//go:build linux

// Command floor is the floor of wsbench's echo tables: a WebSocket echo
// server that does the least work this machine's system calls allow, so
// that every other server's CPU per message can be read as a distance from
// it.
//
// One goroutine runs one epoll loop over non-blocking sockets (the
// listening socket level-triggered, connections edge-triggered). For an
// echoed message it makes exactly one read(2) and one write(2): the read
// lands in a buffer shared by all connections, the payload is unmasked in
// place, the server frame header (always shorter than the client's, which
// carries the 4-byte mask key) is written over the client header right in
// front of the payload, and that one slice goes back with one write. When
// one read holds several messages (pipelined clients), their replies go
// back with one writev(2), still without copying. Besides those, the loop
// makes one epoll_wait per wake-up (how many messages one wake-up finds
// is up to the load). Every call is a RawSyscall, epoll_wait included
// (see loop.go for why that is safe here and what it saves). Nothing is
// handed to another goroutine and nothing is copied except:
//
//   - the tail of a read that ends inside a frame (or inside the upgrade
//     request), moved into a buffer of that connection's own, which then
//     receives the following reads until the frame is complete;
//   - what a write did not take (the socket's send buffer was full), kept
//     by the connection until EPOLLOUT; the connection is not read
//     meanwhile, so TCP pushes back on the client.
//
// Both buffers exist only while data is partial: an idle connection costs
// a 24-byte slot in a table indexed by descriptor (plus the kernel's socket).
//
// A read that returns less than it asked for has emptied the socket, so
// with edge triggering no read is spent to see EAGAIN; a full read is
// followed by another.
//
// The upgrade is gobwas/ws's Upgrader (the zero value: any path, no
// subprotocol, no extension, so permessage-deflate is never negotiated)
// run over the complete request head once "\r\n\r\n" has been read;
// refusals get gobwas's HTTP error response, then the connection is
// closed. Frames are echoed frame by frame: a fragmented message comes
// back fragmented the same way (same opcode, same FIN bits, same
// payloads), which is the same message. Pings are answered with a pong
// carrying the same payload, pongs are ignored, a close frame is echoed
// (same code and reason) and the connection closed. Protocol errors (RSV
// bits, unmasked frame, unknown opcode, bad fragmentation, a control frame
// over 125 bytes or fragmented, a bad close code) get close 1002, a
// message over -max-message (counted over its fragments) close 1009; then
// the connection is closed. Text is NOT checked for valid UTF-8, nor is a
// close reason. There are no timeouts.
//
// One loop only: wsbench pins every server to one core, where a second
// loop could only take turns with the first. -reuseport sets SO_REUSEPORT
// on the listening socket, which floor creates itself (socket, bind,
// listen), since no library serves it. Only -mode echo.
package main

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"

	"github.com/wsloop/wsloop/bench/peers/internal/peer"
)

func main() {
	cfg := peer.ParseFlags("floor")
	if cfg.Mode != peer.ModeEcho {
		peer.Fatalf("-mode %s: this peer only echoes", cfg.Mode)
	}
	lfd, addr, err := listen(cfg)
	if err != nil {
		peer.Fatalf("listen: %v", err)
	}
	l, err := newLoop(lfd, cfg.MaxMessage)
	if err != nil {
		peer.Fatalf("%v", err)
	}
	go l.run()
	peer.Ready(addr)
	peer.WaitSignal()
	// Closing the listening socket ends accepting; upgraded connections
	// die with the process.
	peer.Exit(func() { _ = unix.Close(lfd) })
}

// listen creates the non-blocking listening socket for cfg.Addr, with
// SO_REUSEADDR (as Go's net package sets it) and SO_REUSEPORT when asked,
// and returns it with the address it is bound to. A host that is empty or
// an IPv4 address gives an IPv4 socket, an IPv6 address an IPv6 one.
func listen(cfg peer.Config) (int, *net.TCPAddr, error) {
	ta, err := net.ResolveTCPAddr("tcp", cfg.Addr)
	if err != nil {
		return -1, nil, err
	}
	family := unix.AF_INET
	var sa unix.Sockaddr
	if ip4 := ta.IP.To4(); ta.IP == nil || ip4 != nil {
		s := &unix.SockaddrInet4{Port: ta.Port}
		copy(s.Addr[:], ip4)
		sa = s
	} else {
		family = unix.AF_INET6
		s := &unix.SockaddrInet6{Port: ta.Port}
		copy(s.Addr[:], ta.IP.To16())
		if ta.Zone != "" {
			ifi, err := net.InterfaceByName(ta.Zone)
			if err != nil {
				return -1, nil, err
			}
			s.ZoneId = uint32(ifi.Index)
		}
		sa = s
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, fmt.Errorf("socket: %w", err)
	}
	fail := func(what string, err error) (int, *net.TCPAddr, error) {
		_ = unix.Close(fd)
		return -1, nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("setsockopt SO_REUSEADDR", err)
	}
	if cfg.ReusePort {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return fail("setsockopt SO_REUSEPORT", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind "+cfg.Addr, err)
	}
	// The kernel caps the backlog at net.core.somaxconn.
	if err := unix.Listen(fd, 65535); err != nil {
		return fail("listen", err)
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	var addr *net.TCPAddr
	switch b := bound.(type) {
	case *unix.SockaddrInet4:
		addr = &net.TCPAddr{IP: net.IPv4(b.Addr[0], b.Addr[1], b.Addr[2], b.Addr[3]).To4(), Port: b.Port}
	case *unix.SockaddrInet6:
		addr = &net.TCPAddr{IP: append(net.IP(nil), b.Addr[:]...), Port: b.Port, Zone: ta.Zone}
	default:
		return fail("getsockname", fmt.Errorf("unexpected address %T", bound))
	}
	return fd, addr, nil
}
