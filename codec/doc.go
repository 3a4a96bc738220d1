// Package codec holds the byte-level parts of the WebSocket protocol used by
// wsloop: frame headers, a resumable server-side frame decoder, close frame
// handling, incremental UTF-8 validation, and incremental parsing of the HTTP
// upgrade request.
//
// Everything here works on byte slices handed in by the caller. The package
// performs no I/O, starts no goroutines and never blocks, so it can run on a
// gnet event loop. Unless a doc comment says otherwise, input slices are not
// retained after a call returns.
//
// The protocol is specified in RFC 6455: https://www.rfc-editor.org/rfc/rfc6455
package codec
