//go:build linux

// Command idleload opens many upgraded WebSocket connections to one address
// and holds them idle, for measuring what idle connections cost a server.
//
// The connections are dialed by a bounded pool of goroutines, each socket bound
// to a source address taken round-robin from -src (with IP_BIND_ADDRESS_NO_PORT,
// so the kernel picks the port at connect time), which gets past the ~28K
// ephemeral ports available per source address. After the HTTP upgrade each
// socket is kept as a bare file descriptor in one epoll set served by a single
// goroutine that answers pings and notices closes, so the client costs only a
// few bytes per connection beyond the kernel's socket.
//
// Output (stdout), one line each:
//
//	READY ok=N fail=M elapsed=D        once every dial has finished
//	DONE alive=N dropped=M pings=P     when the hold ends
//
// The hold ends when -hold elapses, the process receives SIGINT or SIGTERM,
// or (with -stdin) standard input reaches EOF; then every connection is
// closed.
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT from <linux/in.h>.
const ipBindAddressNoPort = 24

// maxConns keeps one process below the machine's 20,000 open files limit.
const maxConns = 19000

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "server address host:port (loopback only)")
	n := flag.Int("n", 1000, "number of connections to open (at most 19000 per process)")
	src := flag.String("src", "127.0.0.2-127.0.0.9", "source addresses: comma-separated list or a.b.c.d-a.b.c.e range within 127.0.0.0/8")
	conc := flag.Int("c", 64, "dials in flight at once")
	hold := flag.Duration("hold", 10*time.Minute, "longest time to hold the connections (0: close at once)")
	timeout := flag.Duration("timeout", 10*time.Second, "per-connection dial and handshake timeout")
	path := flag.String("path", "/", "request path")
	stdin := flag.Bool("stdin", false, "also end the hold when standard input reaches EOF")
	flag.Parse()

	if err := run(*addr, *n, *src, *conc, *hold, *timeout, *path, *stdin); err != nil {
		fmt.Fprintln(os.Stderr, "idleload:", err)
		os.Exit(1)
	}
}

func run(addr string, n int, srcSpec string, conc int, hold, timeout time.Duration, path string, watchStdin bool) error {
	if n < 0 || n > maxConns {
		return fmt.Errorf("-n %d out of range [0, %d]", n, maxConns)
	}
	if conc < 1 {
		conc = 1
	}
	raddr, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return err
	}
	if !raddr.IP.IsLoopback() {
		return fmt.Errorf("refusing non-loopback target %s", raddr.IP)
	}
	srcs, err := parseSources(srcSpec)
	if err != nil {
		return err
	}

	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll_create1: %w", err)
	}
	h := &holder{epfd: epfd}

	start := time.Now()
	var next, ok, failed atomic.Int64
	var errMu sync.Mutex
	var firstErrs []string
	var wg sync.WaitGroup
	for range min(conc, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fd, rest, err := dial(srcs[i%len(srcs)], raddr, addr, path, timeout)
				if err == nil {
					err = h.add(fd, rest)
				}
				if err != nil {
					failed.Add(1)
					errMu.Lock()
					if len(firstErrs) < 5 {
						firstErrs = append(firstErrs, err.Error())
					}
					errMu.Unlock()
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	for _, e := range firstErrs {
		fmt.Fprintln(os.Stderr, "idleload: dial error:", e)
	}
	fmt.Printf("READY ok=%d fail=%d elapsed=%s\n", ok.Load(), failed.Load(), time.Since(start).Round(time.Millisecond))

	stop := make(chan struct{})
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		stdinEOF := make(chan struct{})
		if watchStdin {
			go func() {
				_, _ = io.Copy(io.Discard, os.Stdin)
				close(stdinEOF)
			}()
		}
		t := time.NewTimer(hold)
		select {
		case <-sig:
		case <-stdinEOF:
		case <-t.C:
		}
		close(stop)
	}()
	h.serve(stop)
	fmt.Printf("DONE alive=%d dropped=%d pings=%d\n", h.alive(), h.dropped, h.pings)
	h.closeAll()
	return nil
}

// parseSources accepts "a,b,c" or "a-b" (last octet range) of IPv4 loopback
// addresses.
func parseSources(spec string) ([][4]byte, error) {
	var out [][4]byte
	add := func(s string) error {
		ip := net.ParseIP(strings.TrimSpace(s)).To4()
		if ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("source %q is not an IPv4 loopback address", s)
		}
		out = append(out, [4]byte(ip))
		return nil
	}
	if lo, hi, ok := strings.Cut(spec, "-"); ok {
		if err := add(lo); err != nil {
			return nil, err
		}
		if err := add(hi); err != nil {
			return nil, err
		}
		a, b := out[0], out[1]
		if a[0] != b[0] || a[1] != b[1] || a[2] != b[2] || a[3] > b[3] {
			return nil, fmt.Errorf("bad source range %q", spec)
		}
		out = out[:0]
		for x := int(a[3]); x <= int(b[3]); x++ {
			out = append(out, [4]byte{a[0], a[1], a[2], byte(x)})
		}
		return out, nil
	}
	for _, s := range strings.Split(spec, ",") {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no source addresses")
	}
	return out, nil
}

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// dial connects from src, performs the WebSocket upgrade and returns a
// duplicate of the socket's descriptor (the net.Conn is closed), plus any
// bytes that arrived after the handshake response.
func dial(src [4]byte, raddr *net.TCPAddr, host, path string, timeout time.Duration) (int, []byte, error) {
	d := net.Dialer{
		Timeout:   timeout,
		LocalAddr: &net.TCPAddr{IP: net.IP(src[:])},
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
			})
			if err != nil {
				return err
			}
			return serr
		},
	}
	conn, err := d.Dial("tcp4", raddr.String())
	if err != nil {
		return -1, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))

	var keyRaw [16]byte
	_, _ = rand.Read(keyRaw[:])
	key := base64.StdEncoding.EncodeToString(keyRaw[:])
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return -1, nil, fmt.Errorf("write upgrade request: %w", err)
	}
	br := bufio.NewReaderSize(conn, 1024)
	status, err := br.ReadString('\n')
	if err != nil {
		return -1, nil, fmt.Errorf("read status line: %w", err)
	}
	if !strings.HasPrefix(status, "HTTP/1.1 101 ") {
		return -1, nil, fmt.Errorf("upgrade refused: %q", strings.TrimSpace(status))
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	wantAccept := base64.StdEncoding.EncodeToString(sum[:])
	gotAccept := ""
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return -1, nil, fmt.Errorf("read response headers: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Sec-WebSocket-Accept") {
			gotAccept = strings.TrimSpace(v)
		}
	}
	if gotAccept != wantAccept {
		return -1, nil, fmt.Errorf("bad Sec-WebSocket-Accept %q, want %q", gotAccept, wantAccept)
	}
	var rest []byte
	if k := br.Buffered(); k > 0 {
		rest, _ = br.Peek(k)
		rest = bytes.Clone(rest)
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return -1, nil, errors.New("connection exposes no file descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, nil, err
	}
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) {
		nfd, derr = syscall.Dup(int(fd))
	}); err != nil {
		return -1, nil, err
	}
	if derr != nil {
		return -1, nil, fmt.Errorf("dup: %w", derr)
	}
	syscall.CloseOnExec(nfd)
	if err := syscall.SetNonblock(nfd, true); err != nil {
		syscall.Close(nfd)
		return -1, nil, err
	}
	return nfd, rest, nil
}

// holder keeps the idle connections in one epoll set.
type holder struct {
	epfd int

	mu      sync.Mutex
	fds     map[int][]byte // fd -> bytes of an incomplete frame (usually nil)
	dropped int
	pings   int
}

func (h *holder) add(fd int, rest []byte) error {
	h.mu.Lock()
	if h.fds == nil {
		h.fds = make(map[int][]byte)
	}
	h.fds[fd] = rest
	h.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}
	if err := syscall.EpollCtl(h.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		h.mu.Lock()
		delete(h.fds, fd)
		h.mu.Unlock()
		syscall.Close(fd)
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	if len(rest) > 0 {
		h.mu.Lock()
		h.process(fd, nil)
		h.mu.Unlock()
	}
	return nil
}

func (h *holder) alive() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.fds)
}

// serve answers pings and drops closed connections until stop is closed.
func (h *holder) serve(stop <-chan struct{}) {
	events := make([]syscall.EpollEvent, 256)
	buf := make([]byte, 64<<10)
	for {
		select {
		case <-stop:
			return
		default:
		}
		n, err := syscall.EpollWait(h.epfd, events, 200)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			fmt.Fprintln(os.Stderr, "idleload: epoll_wait:", err)
			return
		}
		h.mu.Lock()
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			if _, ok := h.fds[fd]; !ok {
				continue
			}
			k, err := syscall.Read(fd, buf)
			switch {
			case err == syscall.EAGAIN:
				if ev.Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
					h.drop(fd)
				}
			case err != nil || k == 0:
				h.drop(fd)
			default:
				h.process(fd, buf[:k])
			}
		}
		h.mu.Unlock()
	}
}

func (h *holder) drop(fd int) {
	delete(h.fds, fd)
	h.dropped++
	_ = syscall.EpollCtl(h.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	syscall.Close(fd)
}

// process parses server frames (unmasked): pings are answered with masked
// pongs, a close frame drops the connection, other frames are ignored.
// Called with h.mu held.
func (h *holder) process(fd int, data []byte) {
	b := append(h.fds[fd], data...)
	for {
		if len(b) < 2 {
			break
		}
		op := b[0] & 0x0f
		plen := int(b[1] & 0x7f)
		hdr := 2
		switch plen {
		case 126:
			if len(b) < 4 {
				goto partial
			}
			plen = int(b[2])<<8 | int(b[3])
			hdr = 4
		case 127:
			if len(b) < 10 {
				goto partial
			}
			var l uint64
			for _, c := range b[2:10] {
				l = l<<8 | uint64(c)
			}
			if l > 1<<24 {
				h.drop(fd) // not an idle peer: give up on it
				return
			}
			plen = int(l)
			hdr = 10
		}
		if len(b) < hdr+plen {
			goto partial
		}
		payload := b[hdr : hdr+plen]
		switch op {
		case 0x9: // ping
			h.pings++
			pong := make([]byte, 0, 6+len(payload))
			pong = append(pong, 0x8a, 0x80|byte(len(payload)), 0, 0, 0, 0) // zero mask key
			pong = append(pong, payload...)
			_, _ = syscall.Write(fd, pong)
		case 0x8: // close
			h.drop(fd)
			return
		}
		b = b[hdr+plen:]
	}
partial:
	if len(b) == 0 {
		h.fds[fd] = nil
	} else {
		h.fds[fd] = bytes.Clone(b)
	}
}

func (h *holder) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for fd := range h.fds {
		syscall.Close(fd)
	}
	h.fds = nil
	syscall.Close(h.epfd)
}
