package poller

import (
	"io"
	"testing"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/buffer/elastic"
)

// fakeConn is the narrow part of gnet.Conn that the read path uses, with
// gnet's own input buffering: the bytes of the current read in buffer and
// the leftovers in gnet's elastic ring. Peek behaves as gnet v2.10.0's
// (connection_unix.go): a slice in place when the ring is empty or its
// contiguous head covers the request, otherwise a fresh copy of the bytes
// asked for, which copied counts. Methods it does not implement panic
// (the embedded nil interface).
type fakeConn struct {
	gnet.Conn
	ring   elastic.RingBuffer
	buffer []byte // the current read, as gnet's c.buffer
	ctx    any
	out    []byte // what was written
	wakes  int
	copied int64 // bytes copied by Peek

	tb        testing.TB
	copyLimit int64 // fail the test when Peek copied more (0: no limit)
}

func (f *fakeConn) Context() any       { return f.ctx }
func (f *fakeConn) SetContext(ctx any) { f.ctx = ctx }

func (f *fakeConn) InboundBuffered() int { return f.ring.Buffered() + len(f.buffer) }

func (f *fakeConn) Peek(n int) ([]byte, error) {
	inRing := f.ring.Buffered()
	total := inRing + len(f.buffer)
	if n > total {
		return nil, io.ErrShortBuffer
	} else if n <= 0 {
		n = total
	}
	if f.ring.IsEmpty() {
		return f.buffer[:n], nil
	}
	head, tail := f.ring.Peek(n)
	if len(head) == n {
		return head, nil
	}
	buf := make([]byte, 0, n)
	buf = append(buf, head...)
	buf = append(buf, tail...)
	if inRing < n {
		buf = append(buf, f.buffer[:n-inRing]...)
	}
	f.copied += int64(n)
	if f.copyLimit > 0 && f.copied > f.copyLimit {
		f.tb.Fatalf("Peek copied %d bytes, over the limit of %d", f.copied, f.copyLimit)
	}
	return buf, nil
}

func (f *fakeConn) Discard(n int) (int, error) {
	inRing := f.ring.Buffered()
	if total := inRing + len(f.buffer); n >= total || n <= 0 {
		f.ring.Reset()
		f.buffer = f.buffer[:0]
		return total, nil
	}
	if f.ring.IsEmpty() {
		f.buffer = f.buffer[n:]
		return n, nil
	}
	d, _ := f.ring.Discard(n)
	if d < inRing {
		return d, nil
	}
	f.buffer = f.buffer[n-inRing:]
	return n, nil
}

// endRead does what gnet does after OnTraffic returns: it keeps the
// unconsumed part of the read in the ring.
func (f *fakeConn) endRead() {
	_, _ = f.ring.Write(f.buffer)
	f.buffer = nil
}

func (f *fakeConn) Write(p []byte) (int, error) {
	f.out = append(f.out, p...)
	return len(p), nil
}

func (f *fakeConn) OutboundBuffered() int { return 0 }

func (f *fakeConn) Wake(gnet.AsyncCallback) error {
	f.wakes++
	return nil
}
