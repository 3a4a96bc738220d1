package hostile

import (
	"encoding/binary"
	"fmt"
)

// Opcodes (RFC 6455 §5.2).
const (
	OpCont   byte = 0x0
	OpText   byte = 0x1
	OpBinary byte = 0x2
	OpClose  byte = 0x8
	OpPing   byte = 0x9
	OpPong   byte = 0xA
)

// Frame header bits (RFC 6455 §5.2).
const (
	bitFIN  byte = 0x80
	bitRSV1 byte = 0x40
	bitRSV2 byte = 0x20
	bitRSV3 byte = 0x10
)

// F describes one frame a client sends. The zero value of the optional
// fields gives an ordinary final, masked frame with the minimal length
// encoding.
type F struct {
	Op      byte
	Payload []byte
	More    bool   // FIN clear: more fragments follow
	RSV     byte   // any of bitRSV1|bitRSV2|bitRSV3
	Unmask  bool   // send the payload unmasked (a protocol error from a client)
	Len     uint64 // when non-zero, the declared length (the payload sent may differ)
	Len64   bool   // force the 8-byte length encoding
	MaskKey [4]byte
}

// defaultMask is the masking key of frames that do not set one: not zero,
// so that a server that forgets to unmask sees garbage.
var defaultMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// Frame encodes one client frame (RFC 6455 §5.2): masked unless f.Unmask.
func Frame(f F) []byte {
	n := uint64(len(f.Payload))
	if f.Len != 0 {
		n = f.Len
	}
	b := make([]byte, 0, 14+len(f.Payload))
	b0 := f.Op&0x0f | f.RSV
	if !f.More {
		b0 |= bitFIN
	}
	var mask byte = 0x80
	if f.Unmask {
		mask = 0
	}
	switch {
	case f.Len64 || n > 0xffff:
		b = append(b, b0, mask|127)
		b = binary.BigEndian.AppendUint64(b, n)
	case n > 125:
		b = append(b, b0, mask|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, b0, mask|byte(n))
	}
	if f.Unmask {
		return append(b, f.Payload...)
	}
	key := f.MaskKey
	if key == ([4]byte{}) {
		key = defaultMask
	}
	b = append(b, key[:]...)
	for i, c := range f.Payload {
		b = append(b, c^key[i&3])
	}
	return b
}

// Text is a final masked text frame.
func Text(s string) []byte { return Frame(F{Op: OpText, Payload: []byte(s)}) }

// Binary is a final masked binary frame.
func Binary(p []byte) []byte { return Frame(F{Op: OpBinary, Payload: p}) }

// Ping is a masked ping.
func Ping(p []byte) []byte { return Frame(F{Op: OpPing, Payload: p}) }

// Pong is a masked (unsolicited) pong.
func Pong(p []byte) []byte { return Frame(F{Op: OpPong, Payload: p}) }

// CloseBody is a close frame's payload: the code, big-endian, and reason.
func CloseBody(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// Close is a masked close frame with code and reason.
func Close(code uint16, reason string) []byte {
	return Frame(F{Op: OpClose, Payload: CloseBody(code, reason)})
}

// Join concatenates frames into one write.
func Join(frames ...[]byte) []byte {
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	out := make([]byte, 0, n)
	for _, f := range frames {
		out = append(out, f...)
	}
	return out
}

// Repeat returns n copies of frame, back to back.
func Repeat(frame []byte, n int) []byte {
	out := make([]byte, 0, len(frame)*n)
	for range n {
		out = append(out, frame...)
	}
	return out
}

// Got is a frame received from the server.
type Got struct {
	Fin     bool
	RSV     byte
	Op      byte
	Masked  bool
	Payload []byte
}

// CloseCode returns the code of a close frame's payload: 1005 (no status)
// when it has none, and whether the payload is well formed (empty, or at
// least two bytes).
func (g Got) CloseCode() (code uint16, ok bool) {
	switch len(g.Payload) {
	case 0:
		return 1005, true
	case 1:
		return 0, false
	}
	return binary.BigEndian.Uint16(g.Payload), true
}

// CloseReason is the reason text of a close frame.
func (g Got) CloseReason() string {
	if len(g.Payload) < 2 {
		return ""
	}
	return string(g.Payload[2:])
}

func (g Got) String() string {
	name := map[byte]string{OpCont: "cont", OpText: "text", OpBinary: "binary", OpClose: "close", OpPing: "ping", OpPong: "pong"}[g.Op]
	if name == "" {
		name = fmt.Sprintf("op%d", g.Op)
	}
	if g.Op == OpClose {
		if len(g.Payload) == 0 {
			return "close (no code)"
		}
		code, _ := g.CloseCode()
		if r := g.CloseReason(); r != "" {
			return fmt.Sprintf("close %d %q", code, r)
		}
		return fmt.Sprintf("close %d", code)
	}
	return fmt.Sprintf("%s(%d bytes)", name, len(g.Payload))
}
