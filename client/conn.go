package client

import (
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/valyala/bytebufferpool"
)

// conn is one WebSocket connection of a Client; a reconnection makes a
// new one.
type conn struct {
	c       *Client
	nc      net.Conn
	proto   string
	deflate bool
	rd      frameReader
	wr      writer
	hb      heartbeat
	opened  time.Time
	closing atomic.Bool // our close frame was sent
}

func newConn(c *Client, nc net.Conn, proto string, deflate bool, extra []byte) *conn {
	cn := &conn{c: c, nc: nc, proto: proto, deflate: deflate, opened: time.Now()}
	cn.rd.nc = nc
	cn.rd.prime(extra)
	cn.wr.nc, cn.wr.timeout, cn.wr.max = nc, c.cfg.writeTimeout, c.cfg.maxQueued
	return cn
}

// sendData frames, (maybe) compresses and queues a data message.
func (cn *conn) sendData(t MessageType, p []byte, done func(error)) error {
	if cn.deflate && len(p) >= cn.c.cfg.compressMin {
		z := bytebufferpool.Get()
		err := compress(z, p, cn.c.cfg.compressLevel)
		if err == nil {
			b := newFrame(ws.OpCode(t), true, z.B)
			putBuffer(z)
			return cn.wr.send(b, done, false)
		}
		putBuffer(z)
	}
	return cn.wr.send(newFrame(ws.OpCode(t), false, p), done, false)
}

// sendClose sends a close frame with code and reason.
func (cn *conn) sendClose(code int, reason string) {
	if cn.closing.Swap(true) {
		return
	}
	var body [125]byte
	body[0], body[1] = byte(code>>8), byte(code)
	n := 2 + copy(body[2:], reason)
	_ = cn.wr.send(newFrame(ws.OpClose, false, body[:n]), nil, true)
}

// closeGracefully starts the closing handshake (1000); the server
// answers with its close frame and FIN, and the connection is dropped
// after closeWait if it does not.
func (cn *conn) closeGracefully() {
	cn.sendClose(1000, "")
	time.AfterFunc(closeWait, func() { _ = cn.nc.Close() })
}

const closeWait = 2 * time.Second

// readLoop reads and dispatches messages until the connection fails or
// closes, and returns why.
func (cn *conn) readLoop() error {
	cfg := &cn.c.cfg
	msg := bytebufferpool.Get()
	defer func() { putBuffer(msg) }()
	var (
		inMsg      bool
		msgOp      ws.OpCode
		compressed bool
	)
	for {
		cn.rd.rest()
		cn.hb.touch(cn.nc)
		h, err := cn.rd.readHeader()
		if err != nil {
			return cn.readErr(err)
		}
		if h.masked || h.rsv23 || (h.rsv1 && (!cn.deflate || h.op == ws.OpContinuation || h.op.IsControl())) {
			return cn.fail(1002, "bad frame header")
		}
		if h.op.IsControl() {
			if err := cn.control(h); err != nil {
				return err
			}
			continue
		}
		switch h.op {
		case ws.OpContinuation:
			if !inMsg {
				return cn.fail(1002, "unexpected continuation")
			}
		case ws.OpText, ws.OpBinary:
			if inMsg {
				return cn.fail(1002, "expected continuation")
			}
			inMsg, msgOp, compressed = true, h.op, h.rsv1
			msg.B = msg.B[:0]
		default:
			return cn.fail(1002, "bad opcode")
		}
		if int64(len(msg.B))+h.length > cfg.maxMessage {
			return cn.fail(1009, "message too big")
		}
		if err := cn.rd.readPayload(msg, h.length); err != nil {
			return cn.readErr(err)
		}
		if !h.fin {
			continue
		}
		inMsg = false
		if err := cn.deliver(MessageType(msgOp), msg.B, compressed); err != nil {
			return err
		}
		if cap(msg.B) > 1<<20 { // do not keep a huge buffer at rest
			putBuffer(msg)
			msg = bytebufferpool.Get()
		}
	}
}

// control handles one control frame (RFC 6455 §5.5); a non-nil error
// ends the connection. Kept out of readLoop, like deliver, so that the
// frame of readLoop, in which an idle client waits, stays small enough
// for the goroutine's initial 2 KiB stack.
func (cn *conn) control(h header) error {
	if h.length > 125 || !h.fin {
		return cn.fail(1002, "bad control frame")
	}
	if err := cn.rd.fill(int(h.length)); err != nil {
		return cn.readErr(err)
	}
	p := (*cn.rd.buf)[cn.rd.r : cn.rd.r+int(h.length)]
	cn.rd.r += int(h.length)
	switch h.op {
	case ws.OpPing:
		_ = cn.wr.send(newFrame(ws.OpPong, false, p), nil, true)
	case ws.OpPong:
	case ws.OpClose:
		ce := &CloseError{Code: 1005}
		if len(p) >= 2 {
			ce.Code = int(p[0])<<8 | int(p[1])
			ce.Reason = string(p[2:])
		}
		if cn.closing.Load() {
			return ce
		}
		code := ce.Code
		if code == 1005 {
			code = 1000
		}
		cn.sendClose(code, "")
		return ce
	default:
		return cn.fail(1002, "bad opcode")
	}
	return nil
}

// deliver hands a complete message to the client, inflating it first if
// it was compressed (RFC 7692 §6.2).
func (cn *conn) deliver(t MessageType, data []byte, compressed bool) error {
	if !compressed {
		cn.c.dispatch(cn, t, data)
		return nil
	}
	z := bytebufferpool.Get()
	defer putBuffer(z)
	if err := decompress(z, data, cn.c.cfg.maxMessage); err != nil {
		if errors.Is(err, ErrTooLarge) {
			return cn.fail(1009, "message too big")
		}
		return cn.fail(1007, "bad compressed data")
	}
	cn.c.dispatch(cn, t, z.B)
	return nil
}

// readErr maps a read error: a timeout with the heartbeat on is a missing
// pong.
func (cn *conn) readErr(err error) error {
	if werr := cn.wr.failure(); werr != nil && werr != ErrClosed {
		return werr // the writer failed and closed the socket
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && cn.c.cfg.pingInterval > 0 && !cn.closing.Load() {
		return ErrPongTimeout
	}
	return err
}

// fail closes the connection with a protocol error code.
func (cn *conn) fail(code int, reason string) error {
	cn.sendClose(code, reason)
	return &CloseError{Code: code, Reason: reason}
}

// shutdown releases the connection after readLoop returned.
func (cn *conn) shutdown(err error) {
	cn.hb.stop()
	cn.wr.fail(ErrClosed)
	_ = cn.nc.Close()
	cn.rd.release()
}
