// Package tlsbridge joins a TLS client to an event loop that only speaks
// plain bytes: wsloop's wss listener terminates TLS with crypto/tls and
// hands the plaintext to gnet over a socket pair. Two goroutines per TLS
// connection copy between the *tls.Conn and the pair (the price of TLS
// with a reactor that has none); each holds a copy buffer only while bytes
// move in its direction.
package tlsbridge

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// tlsBufSize is the bridge's copy buffer: one TLS record's largest
// plaintext (RFC 8446 §5.1: 2^14 bytes), so one read from gnet becomes one
// record.
const tlsBufSize = 16 << 10

// tlsBufs holds the bridges' copy buffers. A bridge holds one only while
// bytes are moving in that direction.
var tlsBufs = sync.Pool{New: func() any { return new([tlsBufSize]byte) }}

// errWouldBlock is returned by a bridging socket's Read when nothing is
// waiting. crypto/tls passes a temporary net.Error through without marking
// the connection broken and keeps any partial record for the next Read.
var errWouldBlock net.Error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "wsloop: wss socket would block" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// Bridge joins one TLS client to its gnet connection. FromClient and
// ToClient each run on their own goroutine; ToClient owns the teardown and
// closes both sockets once FromClient has returned.
type Bridge struct {
	tc     *tls.Conn
	sock   *Socket       // the client's TCP connection, under tc
	peer   *net.UnixConn // our end of the pair; gnet holds the other
	peerIO rawIO         // non-blocking reads of peer, for ToClient
	linger time.Duration // how long the client may take to close after us
	inDone chan struct{} // closed when FromClient returns
}

// New switches sock to bridging mode. It must be called before
// the pumps start and after the handshake.
func New(tc *tls.Conn, sock *Socket, peer *net.UnixConn, linger time.Duration) (*Bridge, error) {
	prc, err := peer.SyscallConn()
	if err != nil {
		return nil, err
	}
	src, err := sock.TCPConn.SyscallConn()
	if err != nil {
		return nil, err
	}
	b := &Bridge{tc: tc, sock: sock, peer: peer, linger: linger, inDone: make(chan struct{})}
	b.peerIO.rc = prc
	sock.in.rc, sock.out.rc = src, src
	sock.peer, sock.stall = prc, linger
	sock.bridging = true
	return b, nil
}

// FromClient copies what the client sends, decrypted, to gnet, and when
// the client's side ends (EOF, close_notify, error) shuts down the pair's
// write side so that gnet reads EOF and closes its end. With nothing to
// read it parks on the client's socket without holding a buffer. If gnet
// has closed its end, it keeps reading and drops the bytes, so that the
// client's last records do not turn our close into a reset (RFC 9293
// §3.6), until the client closes or ToClient's linger deadline passes.
func (b *Bridge) FromClient() {
	defer close(b.inDone)
	forward := true
	for b.pumpClient(&forward) == errWouldBlock {
		if waitReadable(b.sock.in.rc) != nil {
			break
		}
	}
	if forward {
		_ = b.peer.CloseWrite()
	}
}

// pumpClient moves everything that can be decrypted now from the client
// to gnet, batching records up to a buffer, and returns errWouldBlock once
// the client's socket is empty, or the error that ended the client's side.
// It starts with what crypto/tls already buffered (the upgrade request may
// have come with the handshake's last flight).
func (b *Bridge) pumpClient(forward *bool) error {
	buf := tlsBufs.Get().(*[tlsBufSize]byte)
	defer tlsBufs.Put(buf)
	n := 0
	for {
		m, err := b.tc.Read(buf[n:])
		n += m
		if n > 0 && (n == len(buf) || err != nil) {
			if *forward {
				if _, werr := b.peer.Write(buf[:n]); werr != nil {
					*forward = false
				}
			}
			n = 0
		}
		if err != nil {
			return err
		}
	}
}

// ToClient copies what gnet writes to the client, encrypted, and ends the
// connection once gnet has closed its end: everything gnet wrote goes out,
// then close_notify (RFC 8446 §6.1) and a FIN, then it waits up to linger
// for the client to close its side before closing both sockets. If the
// client cannot be written to, it closes the client's socket (which ends
// FromClient, so gnet reads EOF) and discards gnet's bytes until its EOF.
func (b *Bridge) ToClient() {
	sink := false
	for b.pumpGnet(&sink) == errWouldBlock {
		if waitReadable(b.peerIO.rc) != nil {
			break
		}
	}
	if !sink {
		_ = b.tc.CloseWrite()
		_ = b.sock.CloseWrite()
	}
	_ = b.sock.SetReadDeadline(time.Now().Add(b.linger))
	<-b.inDone
	_ = b.sock.Close()
	_ = b.peer.Close()
}

// pumpGnet moves what gnet has written so far to the client and returns
// errWouldBlock once the pair is empty, or the error (io.EOF when gnet
// closed its end) that ended gnet's side.
func (b *Bridge) pumpGnet(sink *bool) error {
	buf := tlsBufs.Get().(*[tlsBufSize]byte)
	defer tlsBufs.Put(buf)
	for {
		n, err := b.peerIO.read(buf[:])
		if n > 0 && !*sink {
			if _, werr := b.tc.Write(buf[:n]); werr != nil {
				*sink = true
				_ = b.sock.Close()
			}
		}
		if err != nil {
			return err
		}
	}
}

// Socket is the client's TCP connection as crypto/tls sees it. During
// the handshake it is the plain *net.TCPConn. In bridging mode (set by
// New before the pumps start, read-only after):
//   - Read never blocks: with nothing to read it returns errWouldBlock, and
//     the pump parks with waitReadable, holding no buffer;
//   - Write tries once without blocking; a write the socket cannot take at
//     once waits in steps of stall. While gnet's end of the pair is open
//     it keeps waiting, since the engine's own limits (MaxOutbound, the
//     heartbeat) decide when a slow reader is dropped; once gnet has closed
//     it, a step that runs out abandons the write and the connection is
//     reset, so that a client that stopped reading cannot keep its
//     descriptors, goroutines and unsent bytes.
//
// crypto/tls serialises Reads (FromClient) and Writes (either pump, under
// its output lock); each direction has its own rawIO.
type Socket struct {
	*net.TCPConn
	bridging bool
	in, out  rawIO
	peer     syscall.RawConn
	stall    time.Duration
}

// NewSocket wraps the client's connection for crypto/tls: plain blocking
// I/O until New switches it to bridging.
func NewSocket(raw *net.TCPConn) *Socket { return &Socket{TCPConn: raw} }

// Read reads what the socket holds now (see Socket).
func (s *Socket) Read(p []byte) (int, error) {
	if !s.bridging {
		return s.TCPConn.Read(p)
	}
	return s.in.read(p)
}

// Write writes p to the client (see Socket).
func (s *Socket) Write(p []byte) (int, error) {
	if !s.bridging {
		return s.TCPConn.Write(p)
	}
	n, err := s.out.write(p)
	if err == nil && n < len(p) {
		return s.writeStalled(p, n)
	}
	return n, err
}

// writeStalled writes p[n:] with deadlines of stall (see Socket).
func (s *Socket) writeStalled(p []byte, n int) (int, error) {
	defer s.TCPConn.SetWriteDeadline(time.Time{})
	for {
		_ = s.TCPConn.SetWriteDeadline(time.Now().Add(s.stall))
		m, err := s.TCPConn.Write(p[n:])
		n += m
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		if peerClosed(s.peer) {
			// Abort rather than close (RFC 9293 §3.10.4): a graceful
			// close would leave the kernel holding the unsent bytes for
			// a peer that does not read.
			_ = s.TCPConn.SetLinger(0)
			return n, err
		}
	}
}

// rawIO does one non-blocking read or write on a socket under Go's
// netpoller (syscall.RawConn keeps the descriptor from being closed and
// reused meanwhile). The callbacks are bound on first use, so later calls
// allocate nothing. One goroutine at a time per rawIO.
type rawIO struct {
	rc      syscall.RawConn
	p       []byte
	n       int
	errno   error
	readFn  func(uintptr) bool
	writeFn func(uintptr) bool
}

// read returns what the socket holds now: io.EOF at the end of the
// stream, errWouldBlock when it is empty.
func (r *rawIO) read(p []byte) (int, error) {
	if r.readFn == nil {
		r.readFn = func(fd uintptr) bool {
			for {
				r.n, r.errno = syscall.Read(int(fd), r.p)
				if r.errno != syscall.EINTR {
					return true
				}
			}
		}
	}
	r.p = p
	err := r.rc.Read(r.readFn)
	r.p = nil
	switch {
	case err != nil:
		return 0, err
	case r.errno == syscall.EAGAIN:
		return 0, errWouldBlock
	case r.errno != nil:
		return 0, os.NewSyscallError("read", r.errno)
	case r.n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return r.n, nil
}

// write writes what the socket takes now, possibly nothing.
func (r *rawIO) write(p []byte) (int, error) {
	if r.writeFn == nil {
		r.writeFn = func(fd uintptr) bool {
			for {
				r.n, r.errno = syscall.Write(int(fd), r.p)
				if r.errno != syscall.EINTR {
					return true
				}
			}
		}
	}
	r.p = p
	err := r.rc.Write(r.writeFn)
	r.p = nil
	switch {
	case err != nil:
		return 0, err
	case r.errno == syscall.EAGAIN:
		return 0, nil
	case r.errno != nil:
		return 0, os.NewSyscallError("write", r.errno)
	}
	return r.n, nil
}

// waitReadable parks until the socket has bytes, an EOF or an error to
// report, or its read deadline passes, without holding a buffer. The
// readiness check runs after the netpoller is armed, so a byte that came
// just before cannot be missed.
func waitReadable(rc syscall.RawConn) error {
	return rc.Read(func(fd uintptr) bool { return pollNow(fd, unix.POLLIN) != 0 })
}

// peerClosed reports whether gnet has closed its end of the pair: our end
// then reports POLLHUP (both directions shut), even with bytes still
// unread.
func peerClosed(rc syscall.RawConn) bool {
	closed := true
	_ = rc.Control(func(fd uintptr) { closed = pollNow(fd, 0)&unix.POLLHUP != 0 })
	return closed
}

// pollNow returns fd's poll(2) events among want (POLLHUP and POLLERR are
// always reported) without waiting.
func pollNow(fd uintptr, want int16) int16 {
	fds := [1]unix.PollFd{{Fd: int32(fd), Events: want}}
	for {
		n, err := unix.Poll(fds[:], 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return 0
		}
		return fds[0].Revents
	}
}
