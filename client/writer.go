package client

import (
	"net"
	"sync"
	"time"

	"github.com/valyala/bytebufferpool"
)

// pending is a frame queued for the socket and its completion callback.
type pending struct {
	buf  *bytebufferpool.ByteBuffer
	done func(error)
}

// writer serializes one connection's writes without a goroutine of its
// own: the goroutine that queues a frame while nobody writes becomes the
// writer and drains the queue (including frames others queue meanwhile);
// everyone else only queues.
type writer struct {
	nc      net.Conn
	timeout time.Duration
	max     int

	mu      sync.Mutex
	queue   []pending
	spare   []pending
	queued  int
	writing bool
	err     error // set once: the connection can no longer be written
	vec     net.Buffers
}

// enqueue queues a frame. It takes b (returning it to the pool on error).
// control frames (ping, pong, close) bypass the queue limit. It reports
// whether the caller must call flush.
func (w *writer) enqueue(b *bytebufferpool.ByteBuffer, done func(error), control bool) (bool, error) {
	w.mu.Lock()
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		putBuffer(b)
		return false, err
	}
	if !control && w.queued+len(b.B) > w.max && w.queued > 0 {
		w.mu.Unlock()
		putBuffer(b)
		return false, ErrQueueFull
	}
	w.queue = append(w.queue, pending{b, done})
	w.queued += len(b.B)
	if w.writing {
		w.mu.Unlock()
		return false, nil
	}
	w.writing = true
	w.mu.Unlock()
	return true, nil
}

// send queues a frame and writes the queue if nobody else is writing.
func (w *writer) send(b *bytebufferpool.ByteBuffer, done func(error), control bool) error {
	mustFlush, err := w.enqueue(b, done, control)
	if mustFlush {
		w.flush()
	}
	return err
}

// flush writes queued frames until the queue is empty; only the goroutine
// to which enqueue returned true calls it.
func (w *writer) flush() {
	w.mu.Lock()
	for len(w.queue) > 0 && w.err == nil {
		batch := w.queue
		w.queue = w.spare[:0]
		w.mu.Unlock()

		w.vec = w.vec[:0]
		n := 0
		for _, p := range batch {
			w.vec = append(w.vec, p.buf.B)
			n += len(p.buf.B)
		}
		var err error
		if w.timeout > 0 {
			err = w.nc.SetWriteDeadline(time.Now().Add(w.timeout))
		}
		if err == nil {
			if len(w.vec) == 1 {
				_, err = w.nc.Write(w.vec[0])
			} else {
				vec := w.vec // WriteTo consumes its receiver
				_, err = vec.WriteTo(w.nc)
			}
		}
		clear(w.vec[:cap(w.vec)])
		for i := range batch {
			putBuffer(batch[i].buf)
			if batch[i].done != nil {
				batch[i].done(err)
			}
			batch[i] = pending{}
		}

		w.mu.Lock()
		if w.err == nil {
			w.queued -= n
		}
		w.spare = batch[:0]
		if err != nil {
			w.failLocked(err)
			_ = w.nc.Close() // wakes the reader, which reconnects
		}
	}
	w.writing = false
	w.mu.Unlock()
}

// failure returns the error that failed the writer, if any.
func (w *writer) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// fail makes every later write fail with err and fails what is queued.
func (w *writer) fail(err error) {
	w.mu.Lock()
	w.failLocked(err)
	w.mu.Unlock()
}

func (w *writer) failLocked(err error) {
	if w.err == nil {
		w.err = err
	}
	q := w.queue
	w.queue = nil
	w.queued = 0
	for i := range q {
		putBuffer(q[i].buf)
		if q[i].done != nil {
			d := q[i].done
			w.mu.Unlock()
			d(err)
			w.mu.Lock()
		}
	}
}
