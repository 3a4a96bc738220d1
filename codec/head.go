package codec

import "bytes"

// DefaultMaxHeadSize is the request head limit used when HeadScanner.Scan is
// given a non-positive max.
const DefaultMaxHeadSize = 8 << 10

// headEnd terminates an HTTP/1.1 request head:
// https://www.rfc-editor.org/rfc/rfc9112#section-2.1
var headEnd = []byte("\r\n\r\n")

// HeadScanner finds the end of an HTTP request head ("\r\n\r\n") in a growing
// buffer. Each call resumes where the previous one stopped (backing off 3
// bytes for a terminator split between calls), so feeding a head one byte at a
// time costs O(n) in total, not O(n^2).
//
// The zero value is ready to use. Reset it before scanning a new buffer.
type HeadScanner struct {
	scanned int // bytes of the buffer already searched
}

// Scan searches b, the whole input buffered so far (the same prefix as at the
// last call, possibly longer), for the end of the request head. It returns the
// index just past "\r\n\r\n", or 0 if the head is not complete yet. If no
// head of at most max bytes is possible it returns ErrHeadTooLarge and the
// caller should answer 431
// (https://www.rfc-editor.org/rfc/rfc6585#section-5). max <= 0 means
// DefaultMaxHeadSize. b is not retained.
func (s *HeadScanner) Scan(b []byte, max int) (end int, err error) {
	if max <= 0 {
		max = DefaultMaxHeadSize
	}
	limit := len(b)
	if limit > max {
		limit = max
	}
	start := s.scanned - (len(headEnd) - 1)
	if start < 0 {
		start = 0
	}
	if start < limit {
		if i := bytes.Index(b[start:limit], headEnd); i >= 0 {
			end = start + i + len(headEnd)
			s.scanned = end
			return end, nil
		}
	}
	if limit > s.scanned {
		s.scanned = limit
	}
	if limit >= max {
		return 0, ErrHeadTooLarge
	}
	return 0, nil
}

// Reset forgets the scanned offset so s can scan a new buffer.
func (s *HeadScanner) Reset() { s.scanned = 0 }
