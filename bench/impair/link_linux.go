//go:build linux

package impair

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// nsDev is the TUN device's name inside the namespace (which holds no
// other device but lo).
const nsDev = "imp0"

// mtu is both devices' MTU.
const mtu = 1500

// Link is an impaired link between the host (the namespace of the process
// that called New) and a namespace of its own. Create it with New; every
// method is safe from any goroutine, and Close releases everything.
type Link struct {
	nsName  string
	hostDev string
	host    netip.Addr
	peer    netip.Addr
	slot    int

	sh     shared
	toNS   *direction
	toHost *direction
	done   chan struct{}
	wg     sync.WaitGroup

	hostTUN *os.File
	nsTUN   *os.File

	mu     sync.Mutex // guards ns and closed (the namespace handle's lifetime)
	ns     *os.File
	closed bool

	closeOnce sync.Once
	closeErr  error
}

var linkSeq atomic.Uint64

// Supported reports why this machine cannot build a link (nil if it can):
// it needs Linux, root with CAP_NET_ADMIN and CAP_SYS_ADMIN (which
// unprivileged containers lack), a usable /dev/net/tun and the ip command
// (iproute2).
func Supported() error {
	if os.Geteuid() != 0 {
		return errors.New("impair: needs root (network namespaces, TUN devices)")
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var caps [2]unix.CapUserData
	if err := unix.Capget(&hdr, &caps[0]); err != nil {
		return fmt.Errorf("impair: capget: %w", err)
	}
	for _, c := range []struct {
		bit  uint
		name string
	}{{unix.CAP_NET_ADMIN, "CAP_NET_ADMIN"}, {unix.CAP_SYS_ADMIN, "CAP_SYS_ADMIN"}} {
		if caps[c.bit/32].Effective&(1<<(c.bit%32)) == 0 {
			return fmt.Errorf("impair: needs %s (a privileged container)", c.name)
		}
	}
	f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("impair: no TUN support: %w", err)
	}
	f.Close()
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("impair: the ip command (iproute2) is missing: %w", err)
	}
	return nil
}

// New creates a network namespace, a TUN device in it and one in the
// host, addresses them (HostAddr, NSAddr) and starts forwarding between
// them under cfg. name only labels the namespace (for ip netns list). The
// caller must Close the link.
func New(name string, cfg Config) (l *Link, err error) {
	if err := Supported(); err != nil {
		return nil, err
	}
	removeStale()
	n := linkSeq.Add(1)
	pid := os.Getpid()
	l = &Link{
		nsName:  nsPrefix + strconv.Itoa(pid) + "-" + strconv.FormatUint(n, 10) + label(name),
		hostDev: "wsi" + strconv.Itoa(pid) + "x" + strconv.FormatUint(n, 36),
		slot:    -1,
		done:    make(chan struct{}),
	}
	if len(l.hostDev) > 15 {
		return nil, fmt.Errorf("impair: device name %q too long", l.hostDev)
	}
	l.sh.cfg.Store(ptr(cfg.normalized()))
	defer func() {
		if err != nil {
			l.teardown()
			l = nil
		}
	}()
	if l.ns, err = createNS(l.nsName); err != nil {
		return l, err
	}
	if err = inNS(l.ns, func() error {
		var err error
		l.nsTUN, err = openTUN(nsDev)
		disableIPv6(nsDev)
		return err
	}); err != nil {
		return l, err
	}
	if l.hostTUN, err = openTUN(l.hostDev); err != nil {
		return l, err
	}
	disableIPv6(l.hostDev)
	if err = l.addressHost(); err != nil {
		return l, err
	}
	m := strconv.Itoa(mtu)
	for _, args := range [][]string{
		{"link", "set", l.hostDev, "mtu", m, "up"},
		{"-n", l.nsName, "addr", "add", l.peer.String(), "peer", l.host.String(), "dev", nsDev},
		{"-n", l.nsName, "link", "set", nsDev, "mtu", m, "up"},
		{"-n", l.nsName, "link", "set", "lo", "up"},
	} {
		if err = ip(args...); err != nil {
			return l, err
		}
	}
	start := time.Now()
	seed := uint64(start.UnixNano()) ^ n<<32
	l.toNS = newDirection(l.hostTUN, l.nsTUN, &l.sh, start, seed)
	l.toHost = newDirection(l.nsTUN, l.hostTUN, &l.sh, start, seed+1)
	for _, d := range []*direction{l.toNS, l.toHost} {
		l.wg.Add(2)
		go func() { defer l.wg.Done(); d.readLoop() }()
		go func() { defer l.wg.Done(); d.writeLoop(l.done) }()
	}
	return l, nil
}

// label turns name into a suffix of namespace names: "-" and up to 32
// letters, digits, '-' or '_'.
func label(name string) string {
	b := make([]byte, 0, 33)
	for _, c := range []byte(name) {
		if len(b) == 32 {
			break
		}
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b = append(b, c)
		} else {
			b = append(b, '_')
		}
	}
	if len(b) == 0 {
		return ""
	}
	return "-" + string(b)
}

// Set replaces the impairment of both directions; it applies to packets
// that arrive from then on (queued ones keep their release times).
// Probabilities are clamped to [0, 1]. Safe from any goroutine.
func (l *Link) Set(cfg Config) { l.sh.cfg.Store(ptr(cfg.normalized())) }

// Config returns the impairment in force (normalized). Safe from any
// goroutine.
func (l *Link) Config() Config { return *l.sh.cfg.Load() }

// Blackhole switches the link off (on == true: every packet, including
// those already queued, is dropped both ways without notice, so TCP peers
// see neither FIN nor RST) or back on. Safe from any goroutine.
func (l *Link) Blackhole(on bool) { l.sh.blackhole.Store(on) }

// HostAddr is the host's address on the link: servers in the host listen
// on it for clients in the namespace.
func (l *Link) HostAddr() netip.Addr { return l.host }

// NSAddr is the namespace's address on the link.
func (l *Link) NSAddr() netip.Addr { return l.peer }

// NSName is the namespace's name, as ip netns knows it.
func (l *Link) NSName() string { return l.nsName }

// Stats returns the packet counters of both directions. Safe from any
// goroutine, also after Close.
func (l *Link) Stats() Stats {
	return Stats{ToNS: l.toNS.st.snapshot(), ToHost: l.toHost.st.snapshot()}
}

// Close stops the forwarder and removes both devices and the namespace.
// Connections made in the namespace fail from then on (they keep the
// namespace itself alive until they are closed). Safe to call more than
// once and from any goroutine; later calls return the first one's error.
func (l *Link) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.teardown() })
	return l.closeErr
}

// teardown releases whatever New got so far.
func (l *Link) teardown() error {
	close(l.done)
	var errs []error
	for _, f := range []*os.File{l.hostTUN, l.nsTUN} {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	l.wg.Wait()
	l.mu.Lock()
	l.closed = true
	if l.ns != nil {
		errs = append(errs, l.ns.Close(), ip("netns", "del", l.nsName))
	}
	l.mu.Unlock()
	releaseSlot(l.slot)
	return errors.Join(errs...)
}

// nsHandle returns a duplicate of the namespace handle, for inNS without
// holding mu, or an error once the link is closed.
func (l *Link) nsHandle() (*os.File, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, net.ErrClosed
	}
	return dupFile(l.ns)
}
