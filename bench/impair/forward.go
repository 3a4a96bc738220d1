package impair

import (
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// reorderMinHold is the least extra hold of a packet chosen by Reorder.
const reorderMinHold = 5 * time.Millisecond

// bufPool recycles packet buffers between the directions' readers and
// writers.
var bufPool = sync.Pool{New: func() any { return new([bufSize]byte) }}

// shared is the state a link's two directions read on every packet: the
// current Config and the Blackhole switch. Both are written by Link.Set and
// Link.Blackhole from any goroutine.
type shared struct {
	cfg       atomic.Pointer[Config] // normalized
	blackhole atomic.Bool
}

// dirCounters are a direction's Stats, written by its reader and writer,
// read by Stats.
type dirCounters struct {
	received, forwarded, lost, blackholed, overflow, errors atomic.Uint64
	delayed, reordered, duplicated                          atomic.Uint64
}

func (c *dirCounters) snapshot() DirStats {
	return DirStats{
		Received: c.received.Load(), Forwarded: c.forwarded.Load(),
		Lost: c.lost.Load(), Blackholed: c.blackholed.Load(),
		Overflow: c.overflow.Load(), Errors: c.errors.Load(),
		Delayed: c.delayed.Load(), Reordered: c.reordered.Load(),
		Duplicated: c.duplicated.Load(),
	}
}

// direction forwards the packets read from src to dst. Its reader
// goroutine (run with dst == nil in benchmarks) judges each packet in admit
// and queues it by release time; its writer goroutine releases due packets.
// Fields marked "reader" are owned by the reader goroutine; mu guards q.
type direction struct {
	src io.Reader
	dst io.Writer
	sh  *shared
	st  dirCounters

	start time.Time  // the clock's origin (monotonic)
	rng   *rand.Rand // reader
	seq   uint64     // reader
	last  int64      // reader: release time of the last in-order packet
	busy  int64      // reader: when the rate-limited link is free again

	mu   sync.Mutex
	q    packetQueue
	wake chan struct{} // capacity 1: the queue's head changed
}

func newDirection(src io.Reader, dst io.Writer, sh *shared, start time.Time, seed uint64) *direction {
	return &direction{
		src: src, dst: dst, sh: sh, start: start,
		rng:  rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		wake: make(chan struct{}, 1),
	}
}

func (d *direction) now() int64 { return int64(time.Since(d.start)) }

// readLoop reads packets until src fails: Link.Close closes it (a TUN
// read fails otherwise only when its device is gone).
func (d *direction) readLoop() {
	for {
		buf := bufPool.Get().(*[bufSize]byte)
		n, err := d.src.Read(buf[:])
		if err != nil {
			bufPool.Put(buf)
			return
		}
		if n > 0 {
			d.admit(buf, n, d.now())
		} else {
			bufPool.Put(buf)
		}
	}
}

// admit judges a packet that arrived at now and queues it (or drops it,
// returning buf to the pool). Reader goroutine only.
func (d *direction) admit(buf *[bufSize]byte, n int, now int64) {
	d.st.received.Add(1)
	if d.sh.blackhole.Load() {
		d.st.blackholed.Add(1)
		bufPool.Put(buf)
		return
	}
	cfg := d.sh.cfg.Load()
	if cfg.Loss > 0 && d.rng.Float64() < cfg.Loss {
		d.st.lost.Add(1)
		bufPool.Put(buf)
		return
	}
	delay := int64(cfg.Delay)
	if cfg.Jitter > 0 {
		delay += d.rng.Int64N(2*int64(cfg.Jitter)+1) - int64(cfg.Jitter)
	}
	at := now + max(delay, 0)
	at = max(at, d.last)
	if cfg.Rate > 0 {
		at = max(at, d.busy)
		d.busy = at + int64(n)*int64(time.Second)/int64(cfg.Rate)
	}
	if cfg.Reorder > 0 && d.rng.Float64() < cfg.Reorder {
		at += max(int64(cfg.Delay+cfg.Jitter), int64(reorderMinHold))
		d.st.reordered.Add(1)
	} else {
		d.last = at
	}
	if at > now {
		d.st.delayed.Add(1)
	}
	var dup *[bufSize]byte
	if cfg.Duplicate > 0 && d.rng.Float64() < cfg.Duplicate {
		dup = bufPool.Get().(*[bufSize]byte)
		copy(dup[:n], buf[:n])
		d.st.duplicated.Add(1)
	}
	d.enqueue(packet{buf: buf, n: n, at: at}, cfg.QueueLimit)
	if dup != nil {
		d.enqueue(packet{buf: dup, n: n, at: at}, cfg.QueueLimit)
	}
}

// enqueue queues p unless the queue is full, and wakes the writer when p
// is the new head.
func (d *direction) enqueue(p packet, limit int) {
	d.mu.Lock()
	if len(d.q) >= limit {
		d.mu.Unlock()
		d.st.overflow.Add(1)
		bufPool.Put(p.buf)
		return
	}
	d.seq++
	p.seq = d.seq
	d.q.push(p)
	head := d.q[0].seq == p.seq
	d.mu.Unlock()
	if head {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

// due moves the packets due at now to batch and returns it, with the time
// until the next release (-1 when the queue is empty).
func (d *direction) due(batch []packet, now int64) ([]packet, time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.q) > 0 && d.q[0].at <= now {
		batch = append(batch, d.q.pop())
	}
	if len(d.q) == 0 {
		return batch, -1
	}
	return batch, time.Duration(d.q[0].at - now)
}

// writeLoop releases packets at their time until done is closed or dst
// fails. It sleeps on a timer or the wake channel, never spins.
func (d *direction) writeLoop(done <-chan struct{}) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer d.drain()
	var batch []packet
	for {
		var wait time.Duration
		batch, wait = d.due(batch[:0], d.now())
		if len(batch) > 0 {
			if !d.release(batch) {
				return
			}
			continue
		}
		if wait > 0 {
			timer.Reset(wait)
		}
		select {
		case <-d.wake:
		case <-timer.C:
		case <-done:
			timer.Stop()
			return
		}
		timer.Stop()
	}
}

// release writes batch to dst (or drops it if the link is black-holed)
// and reports whether dst still works.
func (d *direction) release(batch []packet) bool {
	ok := true
	for i := range batch {
		p := &batch[i]
		switch {
		case !ok:
		case d.sh.blackhole.Load():
			d.st.blackholed.Add(1)
		default:
			if _, err := d.dst.Write(p.bytes()); err != nil {
				d.st.errors.Add(1)
				ok = !isClosed(err)
			} else {
				d.st.forwarded.Add(1)
			}
		}
		bufPool.Put(p.buf)
		*p = packet{}
	}
	return ok
}

// drain returns the buffers still queued to the pool.
func (d *direction) drain() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.q) > 0 {
		bufPool.Put(d.q.pop().buf)
	}
}

// isClosed reports whether err means the device was closed (Link.Close).
func isClosed(err error) bool { return errors.Is(err, os.ErrClosed) }
