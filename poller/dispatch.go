package poller

import (
	"fmt"
	"runtime/debug"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/valyala/bytebufferpool"
	"github.com/wsloop/wsloop/codec"
	"github.com/wsloop/wsloop/internal/workpool"
)

// taskKind says what a mailbox item asks the worker to do.
type taskKind uint8

const (
	taskOpen    taskKind = iota // call Handler.OnOpen
	taskMessage                 // call Handler.OnMessage with buf
	taskClose                   // send our close frame (err, then)
	taskClosed                  // call Handler.OnClose with err
	taskAuth                    // run Config.Auth for an upgrade
)

// task is one mailbox item.
type task struct {
	c    *Conn
	kind taskKind
	op   ws.OpCode
	then closeThen
	// compressed: a permessage-deflate message, inflated on the worker
	compressed bool
	timed      bool  // taskMessage: time the handler (handlerSample)
	size       int64 // bytes counted against MaxQueuedBytes
	buf        *bytebufferpool.ByteBuffer
	// arg: the *codec.CloseError of taskClose and taskClosed, the
	// *authReply of taskAuth
	arg  any
	open connExt // taskOpen: the request, copied to Conn.ext during OnOpen
}

// taskOverhead is what a queued message counts for beyond its payload, so
// that floods of empty messages are bounded too.
const taskOverhead = 64

// errHandlerPanic closes a connection whose handler panicked.
var errHandlerPanic = &codec.CloseError{Code: ws.StatusInternalServerError, Reason: "internal error"}

// dispatchMessage queues a complete message for the handler, on the loop.
// When the connection's mailbox or the pool as a whole is full, decoding of
// this connection pauses: its further bytes stay in gnet's buffer until a
// worker makes room and wakes it. The mailbox is full at MailboxSize
// messages or past a quarter of MaxQueuedBytes in them (the message that
// crosses the line is queued), so that one peer's large messages cannot
// take the whole of MaxQueuedBytes and pause everyone else.
func (c *Conn) dispatchMessage(op ws.OpCode, buf *bytebufferpool.ByteBuffer, compressed bool) {
	e := c.eng()
	// The first message of every handlerSample on a loop is timed.
	timed := c.loop.stats.msgsIn.Add(1)%handlerSample == 1
	c.loop.stats.bytesIn.Add(uint64(len(buf.B)))
	if e.cfg.InlineHandlers {
		e.run(&task{c: c, kind: taskMessage, op: op, buf: buf, compressed: compressed, timed: timed})
		return
	}
	size := int64(len(buf.B)) + taskOverhead
	queued := e.queuedBytes.Add(size)
	load := e.pool.Push(&c.mbox, task{c: c, kind: taskMessage, op: op, size: size, buf: buf, compressed: compressed, timed: timed}, size)
	if e.mailboxFull(load) {
		c.set(pauseMailbox)
		if !e.mailboxFull(c.mbox.Load()) {
			c.unpause(pauseMailbox)
		}
	}
	if queued > e.cfg.MaxQueuedBytes {
		c.set(pauseQueue)
		e.addWaiter(c)
	}
}

// mailboxFull reports whether a connection's decoding must pause with this
// much queued for its handler.
func (e *Engine) mailboxFull(l workpool.Load) bool {
	return l.Items >= e.cfg.MailboxSize || l.Weight > e.cfg.MaxQueuedBytes/4
}

// inflated pools the buffers of inflated messages apart from the frame
// buffers: bytebufferpool sizes a pool's new buffers by the sizes most put
// back, and inflated messages are several times their frames.
var inflated bytebufferpool.Pool

// inflate decompresses a permessage-deflate message (RFC 7692 §7.2.2) into
// a pooled buffer and checks a text message's UTF-8, which the decoder
// could not do on compressed bytes (RFC 6455 §8.1).
func inflate(op ws.OpCode, p []byte, max int64) (*bytebufferpool.ByteBuffer, *codec.CloseError) {
	out := inflated.Get()
	var err error
	out.B, err = codec.Inflate(out.B[:0], p, max)
	if err != nil {
		ce, ok := err.(*codec.CloseError)
		if !ok {
			ce = &codec.CloseError{Code: ws.StatusProtocolError, Reason: err.Error()}
		}
		return out, ce
	}
	if op == ws.OpText && !utf8.Valid(out.B) {
		return out, codec.ErrInvalidUTF8
	}
	return out, nil
}

// failWorker fails the connection from a worker (RFC 6455 §7.1.7): its
// close frame goes out now, after the replies to earlier messages, the
// messages still queued for the handler are dropped, and the connection
// half-closes as failLoop does.
func (c *Conn) failWorker(ce *codec.CloseError) {
	c.eng().logAbnormal(c, ce)
	c.set(flagFailed | flagInflateFailed)
	if c.startClosing() {
		_ = c.writeClose(ce.Code, ce.Reason, thenLinger)
	}
}

// unpause clears a pause reason and reports whether the connection is now
// free to decode and the caller won the right to resume it.
func (c *Conn) unpause(bit uint32) bool {
	for {
		old := c.bits.Load()
		if old&bit == 0 {
			return false
		}
		if c.bits.CompareAndSwap(old, old&^bit) {
			return old&^bit&pauseMask == 0
		}
	}
}

// run executes one handler event: a mailbox item on a worker, or, with
// Config.InlineHandlers, the event itself on the loop.
func (e *Engine) run(t *task) {
	c := t.c
	defer func() {
		if r := recover(); r != nil {
			e.cfg.Logger.Error("handler panic", "remote", c.remote, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			if t.kind != taskClosed && c.startClosing() {
				_ = c.writeClose(errHandlerPanic.Code, errHandlerPanic.Reason, thenDrop)
			}
		}
	}()
	switch t.kind {
	case taskOpen:
		// A copy, not the pooled task's own: a goroutine that read
		// ext during OnOpen may still read it after the task is reused.
		x := t.open
		c.ext.Store(&x)
		defer c.endOpen(e.cfg.KeepRequest)
		e.handler.OnOpen(c)
	case taskMessage:
		buf := t.buf
		defer codec.PutBuffer(buf)
		if c.has(flagInflateFailed) {
			return
		}
		if t.compressed {
			out, ce := inflate(t.op, buf.B, e.cfg.MaxMessageSize)
			if ce != nil {
				codec.PutBufferTo(&inflated, out)
				c.failWorker(ce)
				return
			}
			defer codec.PutBufferTo(&inflated, out)
			buf = out
		}
		if !t.timed {
			e.handler.OnMessage(c, Message{Type: MessageType(t.op), Data: buf.B})
			return
		}
		start := time.Now()
		e.handler.OnMessage(c, Message{Type: MessageType(t.op), Data: buf.B})
		e.stats.observeHandler(time.Since(start), handlerSample)
	case taskClose:
		c.sendClose(t.arg.(*codec.CloseError), t.then)
	case taskClosed:
		e.handler.OnClose(c, t.arg.(*codec.CloseError))
	case taskAuth:
		e.runAuth(t.arg.(*authReply))
	}
}

// done runs on the worker after an item finished: it releases the item's
// share of the global bound and resumes decoding where it paused.
func (e *Engine) done(t *task, left workpool.Load) {
	c := t.c
	if t.kind == taskMessage {
		q := e.queuedBytes.Add(-t.size)
		if e.waiting.Load() > 0 && q <= e.cfg.MaxQueuedBytes/2 {
			e.wakeWaiters()
		}
	}
	if !e.mailboxFull(left) && c.has(pauseMailbox) && c.unpause(pauseMailbox) {
		_ = c.gc.Wake(nil)
	}
}
