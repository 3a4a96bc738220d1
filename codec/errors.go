package codec

import (
	"errors"
	"strconv"

	"github.com/gobwas/ws"
)

// CloseError is a protocol failure together with the close code the server
// must send before closing the connection. See
// https://www.rfc-editor.org/rfc/rfc6455#section-7.4.1.
//
// Errors returned by this package are the package-level sentinels below, so
// returning them allocates nothing; compare them with == or errors.Is. Do not
// modify them.
type CloseError struct {
	// Code is the status code to put in the close frame.
	Code ws.StatusCode
	// Reason is a short ASCII description, suitable as a close reason.
	Reason string
}

// Error implements the error interface.
func (e *CloseError) Error() string {
	return "websocket: " + e.Reason + " (" + strconv.Itoa(int(e.Code)) + ")"
}

// Protocol errors reported by Decoder and ParseClose.
var (
	// ErrProtocol: any other violation of the framing rules.
	// https://www.rfc-editor.org/rfc/rfc6455#section-5
	ErrProtocol = &CloseError{ws.StatusProtocolError, "protocol error"}
	// ErrUnmaskedFrame: a client frame without the mask bit.
	// https://www.rfc-editor.org/rfc/rfc6455#section-5.1
	ErrUnmaskedFrame = &CloseError{ws.StatusProtocolError, "unmasked client frame"}
	// ErrReservedBits: RSV bits that no negotiated extension defines.
	// https://www.rfc-editor.org/rfc/rfc6455#section-5.2
	ErrReservedBits = &CloseError{ws.StatusProtocolError, "reserved bits set"}
	// ErrReservedOpcode: opcodes 0x3-0x7 and 0xB-0xF.
	// https://www.rfc-editor.org/rfc/rfc6455#section-5.2
	ErrReservedOpcode = &CloseError{ws.StatusProtocolError, "reserved opcode"}
	// ErrControlTooLong: a control frame with more than 125 payload bytes.
	// https://www.rfc-editor.org/rfc/rfc6455#section-5.5
	ErrControlTooLong = &CloseError{ws.StatusProtocolError, "control frame too long"}
	// ErrControlFragmented: a control frame without FIN.
	// https://www.rfc-editor.org/rfc/rfc6455#section-5.5
	ErrControlFragmented = &CloseError{ws.StatusProtocolError, "fragmented control frame"}
	// ErrUnexpectedContinuation: a continuation frame outside a fragmented message.
	// https://www.rfc-editor.org/rfc/rfc6455#section-5.4
	ErrUnexpectedContinuation = &CloseError{ws.StatusProtocolError, "unexpected continuation frame"}
	// ErrExpectedContinuation: a text or binary frame inside a fragmented message.
	// https://www.rfc-editor.org/rfc/rfc6455#section-5.4
	ErrExpectedContinuation = &CloseError{ws.StatusProtocolError, "expected continuation frame"}
	// ErrInvalidFrameLength: a 64-bit payload length with its most significant bit set.
	// https://www.rfc-editor.org/rfc/rfc6455#section-5.2
	ErrInvalidFrameLength = &CloseError{ws.StatusProtocolError, "invalid frame length"}
	// ErrMessageTooBig: the message would exceed DecoderConfig.MaxMessageSize.
	// https://www.rfc-editor.org/rfc/rfc6455#section-7.4.1
	ErrMessageTooBig = &CloseError{ws.StatusMessageTooBig, "message too big"}
	// ErrInvalidUTF8: a text message that is not valid UTF-8.
	// https://www.rfc-editor.org/rfc/rfc6455#section-8.1
	ErrInvalidUTF8 = &CloseError{ws.StatusInvalidFramePayloadData, "invalid UTF-8 in text message"}
	// ErrInvalidCloseCode: a close code that must not appear on the wire.
	// https://www.rfc-editor.org/rfc/rfc6455#section-7.4
	ErrInvalidCloseCode = &CloseError{ws.StatusProtocolError, "invalid close code"}
	// ErrInvalidClosePayload: a close body of exactly one byte.
	// https://www.rfc-editor.org/rfc/rfc6455#section-5.5.1
	ErrInvalidClosePayload = &CloseError{ws.StatusProtocolError, "invalid close payload"}
	// ErrInvalidCloseReason: a close reason that is not valid UTF-8.
	// https://www.rfc-editor.org/rfc/rfc6455#section-5.5.1
	ErrInvalidCloseReason = &CloseError{ws.StatusInvalidFramePayloadData, "invalid UTF-8 in close reason"}
)

// ErrHeadTooLarge is returned by HeadScanner.Scan when no complete request
// head fits in the limit; the server should answer 431.
var ErrHeadTooLarge = errors.New("websocket: request head too large")
