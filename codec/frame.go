package codec

import (
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// maxCloseReason is the longest close reason that fits in a control frame
// next to the 2-byte code: https://www.rfc-editor.org/rfc/rfc6455#section-5.5
const maxCloseReason = ws.MaxControlFramePayloadSize - 2

// AppendFrame appends an unmasked server frame (header and payload) to dst and
// returns the extended slice. Server frames are never masked:
// https://www.rfc-editor.org/rfc/rfc6455#section-5.1. It does not allocate
// when dst has enough spare capacity. payload is copied, not retained.
func AppendFrame(dst []byte, fin bool, op ws.OpCode, payload []byte) []byte {
	dst = AppendHeader(dst, ws.Header{Fin: fin, OpCode: op, Length: int64(len(payload))})
	return append(dst, payload...)
}

// AppendClose appends an unmasked close frame to dst and returns the extended
// slice. code == 0 produces an empty close body; otherwise the body is the
// code followed by reason, cut to at most 123 bytes at a UTF-8 rune boundary
// (https://www.rfc-editor.org/rfc/rfc6455#section-5.5.1). The caller is
// responsible for code being valid on the wire and for reason being UTF-8.
func AppendClose(dst []byte, code ws.StatusCode, reason string) []byte {
	if code == 0 {
		return AppendHeader(dst, ws.Header{Fin: true, OpCode: ws.OpClose})
	}
	reason = cutReason(reason)
	dst = AppendHeader(dst, ws.Header{Fin: true, OpCode: ws.OpClose, Length: int64(2 + len(reason))})
	dst = append(dst, byte(code>>8), byte(code))
	return append(dst, reason...)
}

// cutReason shortens s to at most maxCloseReason bytes without splitting a
// rune.
func cutReason(s string) string {
	if len(s) <= maxCloseReason {
		return s
	}
	n := maxCloseReason
	for n > maxCloseReason-utf8.UTFMax && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
