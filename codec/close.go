package codec

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// ValidCloseCode reports whether code may appear in a close frame on the wire:
// 1000-1003, 1007-1014 and 3000-4999. Codes 0-999, 1004-1006, 1015,
// 1016-2999 and 5000 and above are protocol errors.
// See https://www.rfc-editor.org/rfc/rfc6455#section-7.4.1 and
// https://www.rfc-editor.org/rfc/rfc6455#section-7.4.2.
func ValidCloseCode(code ws.StatusCode) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// ParseClose validates an unmasked close frame payload
// (https://www.rfc-editor.org/rfc/rfc6455#section-5.5.1).
//
// An empty payload gives (0, nil, nil). A 1-byte payload is
// ErrInvalidClosePayload, a code rejected by ValidCloseCode is
// ErrInvalidCloseCode, and a reason that is not UTF-8 is ErrInvalidCloseReason
// (1007). reason aliases p.
func ParseClose(p []byte) (code ws.StatusCode, reason []byte, err error) {
	switch len(p) {
	case 0:
		return 0, nil, nil
	case 1:
		return 0, nil, ErrInvalidClosePayload
	}
	code = ws.StatusCode(binary.BigEndian.Uint16(p))
	if !ValidCloseCode(code) {
		return 0, nil, ErrInvalidCloseCode
	}
	reason = p[2:]
	if !utf8.Valid(reason) {
		return 0, nil, ErrInvalidCloseReason
	}
	return code, reason, nil
}
