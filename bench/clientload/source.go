//go:build linux

package clientload

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/wsloop/wsloop/bench/loadgen"
)

// dialFunc is a TCP dial as client.WithNetDial, gorilla's NetDialContext
// and net/http's Transport.DialContext take it.
type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// sources are one dial function per source address; they also keep every
// sampleEvery-th connection they dial, to read its TCP counters.
type sources struct {
	dials       []dialFunc
	sampleEvery int64
	dialed      atomic.Int64

	mu      sync.Mutex
	sampled []*net.TCPConn
}

// maxSampled bounds the sampled connections.
const maxSampled = 1000

func newSources(first string, count, sampleEvery int) (*sources, error) {
	addrs, err := loadgen.SourceAddrs(first, count)
	if err != nil {
		return nil, err
	}
	s := &sources{sampleEvery: int64(sampleEvery)}
	for _, a := range addrs {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IP(a[:])}, Control: bindNoPort}
		s.dials = append(s.dials, func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err == nil {
				s.keep(c)
			}
			return c, err
		})
	}
	return s, nil
}

// dial returns the dial function of connection i.
func (s *sources) dial(i int) dialFunc { return s.dials[i%len(s.dials)] }

func (s *sources) keep(c net.Conn) {
	if (s.dialed.Add(1)-1)%s.sampleEvery != 0 {
		return
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	s.mu.Lock()
	if len(s.sampled) < maxSampled {
		s.sampled = append(s.sampled, tc)
	}
	s.mu.Unlock()
}

// traffic sums the bytes sent (acknowledged by the peer) and received
// over the sampled connections that are still open, and counts those.
func (s *sources) traffic() (open int, sent, recv uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tc := range s.sampled {
		rc, err := tc.SyscallConn()
		if err != nil {
			continue
		}
		var info *unix.TCPInfo
		var ierr error
		if err := rc.Control(func(fd uintptr) {
			info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		}); err != nil || ierr != nil {
			continue
		}
		open++
		sent += info.Bytes_acked
		recv += info.Bytes_received
	}
	return open, sent, recv
}

// bindNoPort sets IP_BIND_ADDRESS_NO_PORT before the dialer binds the
// source address, so the port is picked at connect time per destination
// and one source address serves more than the ephemeral range once.
func bindNoPort(_, _ string, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	}); err != nil {
		return err
	}
	return serr
}
