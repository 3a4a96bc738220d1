//go:build linux

package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"runtime"
	"time"
	"unsafe"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsloop/wsloop/bench/peers/internal/peer"
)

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

// Connection states.
const (
	stFree      uint8 = iota // no connection on this descriptor
	stUpgrading              // reading the HTTP request head
	stOpen                   // upgraded
	stClosing                // a close frame is queued: close once it is written
)

const (
	readBufSize = 64 << 10 // the loop's one read buffer
	maxHead     = 8 << 10  // longest upgrade request head
	partialRoom = 4 << 10  // room past a partial frame or head in a connection's buffer
	iovMax      = 1024     // IOV_MAX: replies per writev
	acceptBatch = 128      // accepts per listener event (it is level-triggered)
)

// Answers that end a connection.
var (
	closeProtocol = []byte{0x88, 2, 1002 >> 8, 1002 & 0xff} // close 1002
	closeTooBig   = []byte{0x88, 2, 1009 >> 8, 1009 & 0xff} // close 1009
	headTooLarge  = []byte("HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
	endOfHead     = []byte("\r\n\r\n")
)

// conn is a connection's whole state, kept by value in a table indexed by
// its descriptor.
type conn struct {
	seq     uint32 // tells this connection from earlier ones on the same descriptor (never 0)
	state   uint8
	fragOp  uint8 // opcode of the fragmented message being received; 0 if none
	fragLen int64 // its payload bytes so far
	p       *partial
}

// partial exists only while a connection has bytes in flight in user space.
type partial struct {
	in  []byte // unprocessed bytes (an incomplete frame or request head); reads go after them
	out []byte // reply bytes the socket has not taken yet
}

type loop struct {
	epfd, lfd  int
	maxMessage int64
	conns      []conn
	nextSeq    uint32
	events     []unix.EpollEvent
	rbuf       []byte
	segs       [][]byte // the replies of one read
	iov        []unix.Iovec

	up      ws.Upgrader // zero value: any path, no subprotocol, no extension
	hsIn    bytes.Reader
	hsOut   bytes.Buffer
	lastLog time.Time
}

func newLoop(lfd, maxMessage int) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	// Pad 0 marks the listener: connections' sequence numbers start at 1.
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(lfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, lfd, &ev); err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("epoll_ctl listener: %w", err)
	}
	return &loop{
		epfd:       epfd,
		lfd:        lfd,
		maxMessage: int64(maxMessage),
		nextSeq:    1,
		events:     make([]unix.EpollEvent, 256),
		rbuf:       make([]byte, readBufSize),
		iov:        make([]unix.Iovec, iovMax),
	}, nil
}

// waitMillis bounds each epoll_wait, so that the goroutines that wait for
// this one's processor (the signal handler's, the garbage collector's) get it
// within that time even without the runtime's preemption signal.
const waitMillis = 50

func (l *loop) run() {
	for {
		n, errno := epollWait(l.epfd, l.events, waitMillis)
		switch errno {
		case 0:
		case unix.EINTR:
			// Typically the runtime's preemption signal: yield.
			runtime.Gosched()
			continue
		default:
			peer.Fatalf("epoll_wait: %v", errno)
		}
		if n == 0 {
			runtime.Gosched()
			continue
		}
		for i := range n {
			ev := &l.events[i]
			if ev.Pad == 0 {
				l.accept()
				continue
			}
			fd := int(ev.Fd)
			if fd >= len(l.conns) {
				continue
			}
			c := &l.conns[fd]
			if c.state == stFree || c.seq != uint32(ev.Pad) {
				continue // for a connection closed earlier in this batch
			}
			l.event(fd, c, ev.Events)
		}
	}
}

// logf logs at most once a second (for accept errors under overload).
func (l *loop) logf(format string, a ...any) {
	if now := time.Now(); now.Sub(l.lastLog) >= time.Second {
		l.lastLog = now
		log.Printf(format, a...)
	}
}

func (l *loop) accept() {
	for range acceptBatch {
		r, _, errno := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(l.lfd), 0, 0,
			unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
		switch errno {
		case 0:
		case unix.EAGAIN:
			return
		case unix.EINTR, unix.ECONNABORTED:
			continue
		case unix.EBADF, unix.EINVAL:
			return // the listener was closed: the process is exiting
		case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
			// Back off as net/http does; the listener is level-triggered,
			// so the pending connections are seen again.
			l.logf("accept: %v", errno)
			time.Sleep(10 * time.Millisecond)
			return
		default:
			l.logf("accept: %v", errno)
			return
		}
		fd := int(r)
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
			_ = unix.Close(fd)
			continue
		}
		seq := l.nextSeq
		if l.nextSeq++; l.nextSeq == 0 {
			l.nextSeq = 1
		}
		ev := unix.EpollEvent{
			Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET,
			Fd:     int32(fd),
			Pad:    int32(seq),
		}
		if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			l.logf("epoll_ctl: %v", err)
			_ = unix.Close(fd)
			continue
		}
		if fd >= len(l.conns) {
			l.conns = append(l.conns, make([]conn, fd+1-len(l.conns))...)
		}
		l.conns[fd] = conn{seq: seq, state: stUpgrading}
	}
}

func (l *loop) event(fd int, c *conn, events uint32) {
	if events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		l.close(fd, c)
		return
	}
	if c.p != nil && len(c.p.out) > 0 {
		// Not read while replies wait: resume once they are written.
		if events&unix.EPOLLOUT == 0 || !l.flush(fd, c) {
			return
		}
	}
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP) != 0 {
		l.readable(fd, c, events&unix.EPOLLRDHUP != 0)
	}
}

// readable reads until the socket is empty (a read shorter than its
// buffer), the peer's end of stream when rdhup, or until replies wait for
// EPOLLOUT.
func (l *loop) readable(fd int, c *conn, rdhup bool) {
	for {
		buf, start, owned := l.rbuf, 0, false
		if c.p != nil && c.p.in != nil {
			buf, start, owned = c.p.in[:cap(c.p.in)], len(c.p.in), true
		}
		n, errno := sysRead(fd, buf[start:])
		switch {
		case errno == unix.EINTR:
			continue
		case errno == unix.EAGAIN:
			return
		case errno != 0 || n == 0:
			l.close(fd, c) // error, or the end of the peer's stream
			return
		}
		full := start+n == len(buf)
		if !l.process(fd, c, buf[:start+n], owned) {
			return
		}
		if !full && !rdhup {
			return
		}
	}
}

// process answers every complete frame (or the request head) in data,
// sends the answers with one write, and keeps an incomplete tail. owned
// says data is the connection's own buffer (c.p.in) rather than the
// loop's. It reports whether the connection may be read on.
func (l *loop) process(fd int, c *conn, data []byte, owned bool) bool {
	segs := l.segs[:0]
	off, need := 0, 0
	closing := false
frames:
	for off < len(data) {
		if c.state == stUpgrading {
			rest := data[off:]
			i := bytes.Index(rest, endOfHead)
			if i < 0 && len(rest) < maxHead {
				break frames
			}
			if i < 0 || i+len(endOfHead) > maxHead {
				segs, closing = append(segs, headTooLarge), true
				break frames
			}
			resp, ok := l.upgrade(rest[:i+len(endOfHead)])
			off += i + len(endOfHead)
			if len(resp) > 0 {
				segs = append(segs, resp)
			}
			if !ok {
				closing = true
				break frames
			}
			c.state = stOpen
			continue
		}

		f := data[off:]
		if len(f) < 2 {
			break frames
		}
		b0, b1 := f[0], f[1]
		fin, op := b0&0x80 != 0, b0&0x0f
		if b0&0x70 != 0 || b1&0x80 == 0 { // RSV bits (no extension), or unmasked
			segs, closing = append(segs, closeProtocol), true
			break frames
		}
		plen, hl := int64(b1&0x7f), 6
		switch plen {
		case 126:
			if len(f) < 4 {
				break frames
			}
			plen, hl = int64(binary.BigEndian.Uint16(f[2:])), 8
		case 127:
			if len(f) < 10 {
				break frames
			}
			u := binary.BigEndian.Uint64(f[2:])
			if u>>63 != 0 {
				segs, closing = append(segs, closeProtocol), true
				break frames
			}
			plen, hl = int64(u), 14
		}
		var refuse []byte
		switch op {
		case opText, opBinary:
			if c.fragOp != 0 {
				refuse = closeProtocol
			} else if plen > l.maxMessage {
				refuse = closeTooBig
			}
		case opCont:
			if c.fragOp == 0 {
				refuse = closeProtocol
			} else if plen > l.maxMessage-c.fragLen { // (no overflow: plen < 2^63)
				refuse = closeTooBig
			}
		case opClose, opPing, opPong:
			if !fin || plen > 125 {
				refuse = closeProtocol
			}
		default:
			refuse = closeProtocol
		}
		if refuse != nil {
			segs, closing = append(segs, refuse), true
			break frames
		}
		end := int64(hl) + plen
		if int64(len(f)) < end {
			need = int(end)
			break frames
		}

		fr := f[:end]
		mask := [4]byte(fr[hl-4 : hl])
		p := fr[hl:]
		ws.Cipher(p, mask, 0)
		off += int(end)
		switch op {
		case opPong:
			continue
		case opPing:
			b0 = 0x80 | opPong
		case opClose:
			if plen == 1 || plen >= 2 && !validCloseCode(binary.BigEndian.Uint16(p)) {
				segs, closing = append(segs, closeProtocol), true
				break frames
			}
			closing = true // echo it (same code and reason), then close
		case opText, opBinary:
			if !fin {
				c.fragOp, c.fragLen = op, plen
			}
		case opCont:
			if fin {
				c.fragOp, c.fragLen = 0, 0
			} else {
				c.fragLen += plen
			}
		}
		segs = append(segs, reply(fr, hl, b0, plen))
		if closing {
			break frames
		}
	}

	alive := len(segs) == 0 || l.send(fd, c, segs)
	clear(segs) // drop the references to the buffers
	l.segs = segs[:0]
	if !alive {
		return false
	}
	if closing {
		if c.p != nil && len(c.p.out) > 0 {
			c.state, c.p.in = stClosing, nil
			return false
		}
		l.close(fd, c)
		return false
	}
	l.keep(c, data[off:], need, owned)
	return c.p == nil || len(c.p.out) == 0
}

// reply turns the unmasked client frame fr (header length hl, payload
// length plen) into the server frame with first byte b0, in place: the
// server header (2, 4 or 10 bytes, the shortest encoding) is written just
// before the payload, over the end of the client's header, which is at
// least 4 bytes longer (the mask key). It returns the server frame.
func reply(fr []byte, hl int, b0 byte, plen int64) []byte {
	var start int
	switch {
	case plen <= 125:
		start = hl - 2
		fr[start+1] = byte(plen)
	case plen <= 0xffff:
		start = hl - 4
		fr[start+1] = 126
		binary.BigEndian.PutUint16(fr[start+2:], uint16(plen))
	default:
		start = hl - 10
		fr[start+1] = 127
		binary.BigEndian.PutUint64(fr[start+2:], uint64(plen))
	}
	fr[start] = b0
	return fr[start:]
}

// validCloseCode reports whether a close frame may carry code (RFC 6455
// section 7.4, and the codes registered with IANA since).
func validCloseCode(code uint16) bool {
	return code >= 1000 && code <= 1003 || code >= 1007 && code <= 1014 || code >= 3000 && code <= 4999
}

// upgrade runs gobwas/ws's Upgrader over a complete request head and
// returns the response to send (101, or gobwas's error response, which
// may be empty) and whether the connection was upgraded.
func (l *loop) upgrade(head []byte) ([]byte, bool) {
	l.hsIn.Reset(head)
	l.hsOut.Reset()
	_, err := l.up.Upgrade(struct {
		io.Reader
		io.Writer
	}{&l.hsIn, &l.hsOut})
	return l.hsOut.Bytes(), err == nil
}

// keep makes tail (the incomplete frame or head at the end of what was
// read; need is the frame's full length when its header was complete) the
// start of the connection's own buffer, with room for the reads that
// complete it; no tail, no buffer.
func (l *loop) keep(c *conn, tail []byte, need int, owned bool) {
	if len(tail) == 0 {
		if c.p != nil {
			c.p.in = nil
			if c.p.out == nil {
				c.p = nil
			}
		}
		return
	}
	size := max(need, len(tail)) + partialRoom
	if owned && cap(c.p.in) > max(need, len(tail)) {
		c.p.in = c.p.in[:copy(c.p.in[:cap(c.p.in)], tail)]
		return
	}
	in := make([]byte, len(tail), size)
	copy(in, tail)
	if c.p == nil {
		c.p = &partial{}
	}
	c.p.in = in
}

// send writes segs with one write (or writev) per IOV_MAX of them and
// keeps a copy of what the socket did not take. It returns false when the
// connection was closed.
func (l *loop) send(fd int, c *conn, segs [][]byte) bool {
	for i := 0; i < len(segs); {
		k := min(len(segs)-i, iovMax)
		want := 0
		for _, s := range segs[i : i+k] {
			want += len(s)
		}
		var n int
		var errno unix.Errno
		for {
			if k == 1 {
				n, errno = sysWrite(fd, segs[i])
			} else {
				for j, s := range segs[i : i+k] {
					l.iov[j].Base = &s[0]
					l.iov[j].SetLen(len(s))
				}
				n, errno = sysWritev(fd, l.iov[:k])
				clear(l.iov[:k])
			}
			if errno != unix.EINTR {
				break
			}
		}
		switch errno {
		case 0:
		case unix.EAGAIN:
			n = 0
		default:
			l.close(fd, c)
			return false
		}
		if n == want {
			i += k
			continue
		}
		// The socket's send buffer is full: keep the rest for EPOLLOUT.
		var rest []byte
		for _, s := range segs[i:] {
			if n >= len(s) {
				n -= len(s)
				continue
			}
			rest = append(rest, s[n:]...)
			n = 0
		}
		if c.p == nil {
			c.p = &partial{}
		}
		c.p.out = rest
		return true
	}
	return true
}

// flush writes what the socket did not take before. It returns true when
// all of it is written and the connection may be read again.
func (l *loop) flush(fd int, c *conn) bool {
	for len(c.p.out) > 0 {
		n, errno := sysWrite(fd, c.p.out)
		switch errno {
		case 0:
			c.p.out = c.p.out[n:]
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			l.close(fd, c)
			return false
		}
	}
	c.p.out = nil
	if c.state == stClosing {
		l.close(fd, c)
		return false
	}
	if c.p.in == nil {
		c.p = nil
	}
	return true
}

// close closes the connection's socket (which also leaves the epoll set)
// and frees its slot.
func (l *loop) close(fd int, c *conn) {
	_ = unix.Close(fd)
	*c = conn{}
}

// All system calls of the loop are RawSyscalls, which skip the scheduler's
// bookkeeping. The sockets are non-blocking, so read, write and writev never
// block. epoll_wait does block, and through the scheduler (Syscall) every
// wait that blocks has sysmon hand the goroutine's processor to another
// thread and take it back (futex wake-ups, thread switches): with
// epoll_wait through Syscall the floor took 20.5–21.4 µs of CPU per
// message against 14.5–16.5 µs as it is (1 KiB × 1,000 connections at
// 20,000 msgs/s offered, pinned to one core, runs taken alternately; 97%
// of it system time). Holding the processor while waiting costs nothing
// here: the process has nothing else to run but the signal handler's
// goroutine (and, rarely, the garbage collector), which get it when the
// wait returns: on an event, on the runtime's preemption signal (EINTR)
// or after waitMillis.

func epollWait(epfd int, events []unix.EpollEvent, msec int) (int, unix.Errno) {
	r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(unsafe.SliceData(events))),
		uintptr(len(events)), uintptr(msec), 0, 0)
	return int(r), errno
}

func sysRead(fd int, p []byte) (int, unix.Errno) {
	r, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	return int(r), errno
}

func sysWrite(fd int, p []byte) (int, unix.Errno) {
	r, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	return int(r), errno
}

func sysWritev(fd int, iov []unix.Iovec) (int, unix.Errno) {
	r, _, errno := unix.RawSyscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(iov))), uintptr(len(iov)))
	return int(r), errno
}
