//go:build linux

package impair

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
)

// addrBase is the first address of the links' range, 10.213.0.0/16, cut
// into slots of four addresses (host .1, namespace .2).
var addrBase = netip.MustParseAddr("10.213.0.0").As4()

const slots = 1 << 14

// slotMu guards slotUsed, the slots of this process's open links, and
// serialises address allocation within the process.
var (
	slotMu   sync.Mutex
	slotUsed = map[int]bool{}
)

// addressHost gives the host device the host address of a free slot, with
// the namespace address as its peer, and sets l.slot, l.host and l.peer.
// Linux lets two devices carry the same address silently, so after adding
// it checks that no other device has either address (another process may
// have raced for the same slot) and else moves to a random other slot.
func (l *Link) addressHost() error {
	slotMu.Lock()
	defer slotMu.Unlock()
	start := os.Getpid() * 61 % slots
	for range 8 {
		s, host, peer, err := freeSlot(start)
		if err != nil {
			return err
		}
		if err := ip("addr", "add", host.String(), "peer", peer.String(), "dev", l.hostDev); err != nil {
			return err
		}
		if !elsewhere(l.hostDev, host, peer) {
			slotUsed[s] = true
			l.slot, l.host, l.peer = s, host, peer
			return nil
		}
		if err := ip("addr", "del", host.String(), "peer", peer.String(), "dev", l.hostDev); err != nil {
			return err
		}
		start = rand.IntN(slots)
	}
	return errors.New("impair: no free address in 10.213.0.0/16 after 8 tries")
}

// freeSlot returns the first slot from start on that this process does
// not use and none of whose addresses the host has. slotMu must be held.
func freeSlot(start int) (int, netip.Addr, netip.Addr, error) {
	taken := hostAddrs("")
	for i := range slots {
		s := (start + i) % slots
		host, peer := slotAddr(s, 1), slotAddr(s, 2)
		if !slotUsed[s] && !taken[host] && !taken[peer] {
			return s, host, peer, nil
		}
	}
	return -1, netip.Addr{}, netip.Addr{}, errors.New("impair: no free address in 10.213.0.0/16")
}

// elsewhere reports whether a device other than dev has one of addrs.
func elsewhere(dev string, addrs ...netip.Addr) bool {
	taken := hostAddrs(dev)
	for _, a := range addrs {
		if taken[a] {
			return true
		}
	}
	return false
}

// hostAddrs returns the addresses of the host's devices but skip.
func hostAddrs(skip string) map[netip.Addr]bool {
	taken := map[netip.Addr]bool{}
	ifs, err := net.Interfaces()
	if err != nil {
		return taken
	}
	for _, ifc := range ifs {
		if ifc.Name == skip {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				taken[p.Addr()] = true
			}
		}
	}
	return taken
}

// slotAddr is address number host (1 or 2) of slot s.
func slotAddr(s, host int) netip.Addr {
	a := addrBase
	v := s*4 + host
	a[2], a[3] = byte(v>>8), byte(v)
	return netip.AddrFrom4(a)
}

// releaseSlot frees slot s (-1: none) for this process's next links.
func releaseSlot(s int) {
	if s < 0 {
		return
	}
	slotMu.Lock()
	delete(slotUsed, s)
	slotMu.Unlock()
}
