package server_test

import (
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/wsloop/wsloop/server"
	"golang.org/x/sys/unix"
)

// TestKeepAliveInherited checks that WithKeepAlive reaches the accepted
// sockets (Linux sets it on the listeners, which they inherit): keepalive
// on, first probe after d, then every d/4, 4 probes, and a user timeout of
// 2d.
func TestKeepAliveInherited(t *testing.T) {
	srv := server.New(server.Echo(), server.WithKeepAlive(20*time.Second), server.WithPingInterval(-1))
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(t.Context()) })
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A response to a request means the server accepted the socket.
	if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	// The accepted socket is the one whose peer is our end.
	fd := peerSocket(t, c.LocalAddr().(*net.TCPAddr))
	if fd < 0 {
		t.Fatal("accepted socket not found")
	}
	for _, o := range []struct {
		name       string
		level, opt int
		want       int
	}{
		{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		{"TCP_KEEPIDLE", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 20},
		{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 5},
		{"TCP_KEEPCNT", unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 4},
		{"TCP_USER_TIMEOUT", unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, 40000},
	} {
		got, err := unix.GetsockoptInt(fd, o.level, o.opt)
		if err != nil || got != o.want {
			t.Errorf("%s = %d (%v), want %d", o.name, got, err, o.want)
		}
	}
}

// peerSocket finds this process's socket connected to peer, or -1.
func peerSocket(t *testing.T, peer *net.TCPAddr) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range entries {
		fd, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		sa, err := unix.Getpeername(fd)
		if in, ok := sa.(*unix.SockaddrInet4); err == nil && ok && in.Port == peer.Port && net.IP(in.Addr[:]).Equal(peer.IP) {
			return fd
		}
	}
	return -1
}
