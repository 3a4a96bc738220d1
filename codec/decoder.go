package codec

import (
	"github.com/gobwas/ws"
	"github.com/valyala/bytebufferpool"
)

// DefaultMaxMessageSize is the message size limit used when
// DecoderConfig.MaxMessageSize is not positive.
const DefaultMaxMessageSize = 16 << 20

// Event is what a Decode call produced.
type Event uint8

// Events returned by Decoder.Decode.
const (
	// EventMore means nothing is complete yet; feed more bytes.
	EventMore Event = iota
	// EventMessage means a data message is complete: take it with TakeMessage.
	EventMessage
	// EventPing means a ping arrived; its payload is Control().
	EventPing
	// EventPong means a pong arrived; its payload is Control().
	EventPong
	// EventClose means a valid close frame arrived: see CloseCode and
	// CloseReason (already validated by ParseClose).
	EventClose
)

// String returns the event name.
func (e Event) String() string {
	switch e {
	case EventMore:
		return "more"
	case EventMessage:
		return "message"
	case EventPing:
		return "ping"
	case EventPong:
		return "pong"
	case EventClose:
		return "close"
	}
	return "unknown"
}

// DecoderConfig configures a Decoder.
type DecoderConfig struct {
	// MaxMessageSize bounds the payload of a whole (possibly fragmented)
	// message. It is checked against each frame's declared length plus the
	// bytes already in the message before anything is buffered; exceeding
	// it is ErrMessageTooBig (1009). Zero or negative means
	// DefaultMaxMessageSize. With compression it bounds the compressed size.
	MaxMessageSize int64
	// Compression reports that permessage-deflate was negotiated: RSV1 is
	// then allowed on the first frame of a data message only, and compressed
	// text messages are not UTF-8 checked here (the caller must check the
	// inflated text). https://www.rfc-editor.org/rfc/rfc7692#section-6
	Compression bool
}

// Decoder is a resumable server-side frame decoder: client frames must be
// masked (https://www.rfc-editor.org/rfc/rfc6455#section-5.1).
//
// Decode consumes a prefix b[:n] of its input. Unconsumed bytes must be
// presented again at the start of the next call, followed by any new bytes,
// which is exactly how gnet's Peek and Discard work. A partial header or a
// partial control frame is never consumed. Data-frame payload is consumed as
// it arrives: it is copied into the message buffer and unmasked in place
// there, which is the only copy of each payload byte.
//
// The zero value is a Decoder with the default configuration. A Decoder is not
// safe for concurrent use; after an error it stays failed until Reset.
type Decoder struct {
	max         int64
	compression bool

	// Current data frame; left > 0 while its payload is still arriving.
	left    int64
	fin     bool
	maskPos uint8
	mask    [4]byte

	// Current message; op != 0 while one is in progress or ready.
	op         ws.OpCode
	compressed bool
	ready      bool
	buf        *bytebufferpool.ByteBuffer
	utf8       UTF8Validator

	err *CloseError

	closeCode ws.StatusCode
	ctrlLen   uint8
	ctrl      [ws.MaxControlFramePayloadSize]byte
}

// NewDecoder returns a Decoder configured by cfg.
func NewDecoder(cfg DecoderConfig) *Decoder {
	d := new(Decoder)
	d.Init(cfg)
	return d
}

// Init resets d and applies cfg, so a pooled Decoder can be reused for a new
// connection.
func (d *Decoder) Init(cfg DecoderConfig) {
	d.Reset()
	d.max = cfg.MaxMessageSize
	d.compression = cfg.Compression
}

// Config returns d's configuration.
func (d *Decoder) Config() DecoderConfig {
	return DecoderConfig{MaxMessageSize: d.max, Compression: d.compression}
}

// Reset drops any partial or untaken message (returning its buffer with
// PutBuffer) and clears all state except the configuration.
func (d *Decoder) Reset() {
	PutBuffer(d.buf)
	*d = Decoder{max: d.max, compression: d.compression}
}

// Idle reports that d is between messages and holds no buffer, so the caller
// may return it to a pool.
func (d *Decoder) Idle() bool { return d.buf == nil }

// Control returns the unmasked payload of the last control frame. It aliases
// d and is valid until the next Decode or Reset.
func (d *Decoder) Control() []byte { return d.ctrl[:d.ctrlLen] }

// CloseCode returns the code of the last close frame, 0 if its body was empty.
func (d *Decoder) CloseCode() ws.StatusCode { return d.closeCode }

// CloseReason returns the UTF-8 reason of the last close frame. It aliases d
// and is valid until the next Decode or Reset.
func (d *Decoder) CloseReason() []byte {
	if d.closeCode == 0 {
		return nil
	}
	return d.ctrl[2:d.ctrlLen]
}

// TakeMessage hands over the message announced by EventMessage. The caller
// owns buf (return it with PutBuffer or bytebufferpool.Put); buf is never nil
// after EventMessage, even for an empty message. compressed reports RSV1 on
// the message's first frame. Called at any other time it returns (0, nil,
// false). A message that is not taken is dropped by the next Decode.
func (d *Decoder) TakeMessage() (op ws.OpCode, buf *bytebufferpool.ByteBuffer, compressed bool) {
	if !d.ready {
		return 0, nil, false
	}
	op, buf, compressed = d.op, d.buf, d.compressed
	d.op, d.buf, d.compressed, d.ready = 0, nil, false, false
	return op, buf, compressed
}

// Decode consumes a prefix b[:n] of b and returns after at most one event.
// b is not retained. On a protocol failure err is one of the *CloseError
// sentinels, n counts the bytes consumed before the offending frame or chunk,
// and every later call returns the same error until Reset.
func (d *Decoder) Decode(b []byte) (n int, ev Event, err error) {
	if d.err != nil {
		return 0, EventMore, d.err
	}
	if d.ready {
		d.dropMessage()
	}
	for {
		if d.left > 0 {
			if n == len(b) {
				return n, EventMore, nil
			}
			if e := d.readPayload(b[n:], &n); e != nil {
				return n, EventMore, d.fail(e)
			}
			if d.left > 0 {
				return n, EventMore, nil
			}
			if d.fin {
				ev, e := d.finishMessage()
				return n, ev, e
			}
			continue
		}

		h, hn, perr := ParseHeader(b[n:])
		if perr != nil {
			return n, EventMore, d.fail(ErrInvalidFrameLength)
		}
		if hn == 0 {
			return n, EventMore, nil
		}
		if e := d.check(h); e != nil {
			return n, EventMore, d.fail(e)
		}

		if h.OpCode.IsControl() {
			end := n + hn + int(h.Length)
			if end > len(b) {
				return n, EventMore, nil
			}
			ev, e := d.control(h, b[n+hn:end])
			if e != nil {
				return n, EventMore, d.fail(e)
			}
			return end, ev, nil
		}

		if e := d.startFrame(h); e != nil {
			return n, EventMore, d.fail(e)
		}
		n += hn
		if d.left == 0 && d.fin {
			ev, e := d.finishMessage()
			return n, ev, e
		}
	}
}

// check applies the frame rules of
// https://www.rfc-editor.org/rfc/rfc6455#section-5.2 to h, on top of
// ws.CheckHeader: RSV1 only on the first frame of a data message when
// compression is on (https://www.rfc-editor.org/rfc/rfc7692#section-6), and
// never RSV2/RSV3.
func (d *Decoder) check(h ws.Header) *CloseError {
	state := ws.StateServerSide
	if d.compression {
		state |= ws.StateExtended
	}
	if d.op != 0 {
		state |= ws.StateFragmented
	}
	switch ws.CheckHeader(h, state) {
	case nil:
	case ws.ErrProtocolOpCodeReserved:
		return ErrReservedOpcode
	case ws.ErrProtocolControlPayloadOverflow:
		return ErrControlTooLong
	case ws.ErrProtocolControlNotFinal:
		return ErrControlFragmented
	case ws.ErrProtocolNonZeroRsv:
		return ErrReservedBits
	case ws.ErrProtocolMaskRequired:
		return ErrUnmaskedFrame
	case ws.ErrProtocolContinuationExpected:
		return ErrExpectedContinuation
	case ws.ErrProtocolContinuationUnexpected:
		return ErrUnexpectedContinuation
	default:
		return ErrProtocol
	}
	if h.Rsv == 0 {
		return nil
	}
	if h.Rsv2() || h.Rsv3() || h.OpCode.IsControl() || h.OpCode == ws.OpContinuation {
		return ErrReservedBits
	}
	return nil
}

// control handles a complete control frame whose masked payload is p.
func (d *Decoder) control(h ws.Header, p []byte) (Event, *CloseError) {
	d.closeCode = 0
	d.ctrlLen = uint8(copy(d.ctrl[:], p))
	ws.Cipher(d.ctrl[:d.ctrlLen], h.Mask, 0)
	switch h.OpCode {
	case ws.OpPing:
		return EventPing, nil
	case ws.OpPong:
		return EventPong, nil
	}
	code, _, err := ParseClose(d.ctrl[:d.ctrlLen])
	if err != nil {
		return EventMore, err.(*CloseError)
	}
	d.closeCode = code
	return EventClose, nil
}

// startFrame begins a data frame after its header has been checked. The size
// limit is enforced before any buffer is touched.
func (d *Decoder) startFrame(h ws.Header) *CloseError {
	var have int64
	if d.buf != nil {
		have = int64(len(d.buf.B))
	}
	if h.Length > d.limit()-have {
		return ErrMessageTooBig
	}
	if h.OpCode != ws.OpContinuation {
		d.op = h.OpCode
		d.compressed = h.Rsv1()
		d.buf = bytebufferpool.Get()
		d.utf8.Reset()
	}
	d.left = h.Length
	d.fin = h.Fin
	d.mask = h.Mask
	d.maskPos = 0
	return nil
}

// readPayload appends as much of the current frame's payload from p as is
// available, unmasks it in place and validates text incrementally.
func (d *Decoder) readPayload(p []byte, n *int) *CloseError {
	k := len(p)
	if int64(k) > d.left {
		k = int(d.left)
	}
	start := len(d.buf.B)
	d.buf.B = append(d.buf.B, p[:k]...)
	chunk := d.buf.B[start:]
	ws.Cipher(chunk, d.mask, int(d.maskPos))
	d.maskPos = uint8((int(d.maskPos) + k) & 3)
	d.left -= int64(k)
	*n += k
	if d.op == ws.OpText && !d.compressed && !d.utf8.Feed(chunk) {
		return ErrInvalidUTF8
	}
	return nil
}

// finishMessage ends the message at a FIN frame.
func (d *Decoder) finishMessage() (Event, error) {
	if d.op == ws.OpText && !d.compressed && !d.utf8.Complete() {
		return EventMore, d.fail(ErrInvalidUTF8)
	}
	d.ready = true
	return EventMessage, nil
}

func (d *Decoder) limit() int64 {
	if d.max <= 0 {
		return DefaultMaxMessageSize
	}
	return d.max
}

func (d *Decoder) dropMessage() {
	PutBuffer(d.buf)
	d.buf, d.op, d.compressed, d.ready, d.left = nil, 0, false, false, 0
}

func (d *Decoder) fail(e *CloseError) error {
	d.dropMessage()
	d.err = e
	return e
}
