package fossil

import (
	"errors"
	"fmt"
	"math"
)

// ErrCorrupt is wrapped by every error Apply and OutputSize return. The
// wrapping error says what is wrong and at which byte of the delta; its
// text is the same as the JavaScript and Python clients' messages.
var ErrCorrupt = errors.New("fossil: corrupt delta")

// corrupt returns an error wrapping ErrCorrupt for a fault at byte pos of
// the delta.
func corrupt(pos int, format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", ErrCorrupt, pos, fmt.Sprintf(format, args...))
}

// OutputSize returns the target length a delta's header declares, after
// checking the header's syntax only. Callers facing untrusted deltas can
// use it to refuse a large target before calling Apply.
func OutputSize(delta []byte) (int, error) {
	n, _, err := readHeader(delta)
	return n, err
}

// Apply returns the target that delta describes against src. It checks
// the whole delta: the header, every segment (a copy must lie inside src,
// a literal inside the delta, neither may go past the declared length),
// the target's length and checksum, and that nothing follows the trailer
// (delta.c ignores trailing bytes and reads a number without digits as 0;
// Apply rejects both, which no encoder writes). Any fault is an error wrapping ErrCorrupt; Apply never panics. The
// result is a new slice owned by the caller (empty, not nil, for an empty
// target); src and delta are only read. Apply is safe for concurrent use.
// A hostile header may declare up to 4 GiB: Apply allocates at most
// len(src)+len(delta) bytes ahead and grows the target only as its
// segments fill it.
func Apply(src, delta []byte) ([]byte, error) {
	limit, pos, err := readHeader(delta)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, min(limit, len(src)+len(delta)))
	for pos < len(delta) {
		start := pos
		n, next, err := readNumber(delta, pos)
		if err != nil {
			return nil, err
		}
		pos = next
		if pos == len(delta) {
			return nil, corrupt(pos, "unterminated delta: number not followed by '@', ':' or ';'")
		}
		switch op := delta[pos]; op {
		case '@':
			off, next, err := readNumber(delta, pos+1)
			if err != nil {
				return nil, err
			}
			pos = next
			if pos == len(delta) || delta[pos] != ',' {
				return nil, corrupt(pos, "copy command not terminated by ','")
			}
			pos++
			if n > uint64(limit-len(out)) {
				return nil, corrupt(start, "copy of %d bytes exceeds the declared target length %d", n, limit)
			}
			if n > uint64(len(src)) || off > uint64(len(src))-n {
				return nil, corrupt(start, "copy of %d bytes from source offset %d extends past the end of the source (%d bytes)", n, off, len(src))
			}
			out = append(out, src[off:off+n]...)
		case ':':
			pos++
			if n > uint64(limit-len(out)) {
				return nil, corrupt(start, "literal of %d bytes exceeds the declared target length %d", n, limit)
			}
			if n > uint64(len(delta)-pos) {
				return nil, corrupt(start, "literal of %d bytes extends past the end of the delta", n)
			}
			out = append(out, delta[pos:pos+int(n)]...)
			pos += int(n)
		case ';':
			pos++
			if len(out) != limit {
				return nil, corrupt(start, "target is %d bytes but the header declares %d", len(out), limit)
			}
			if sum := Checksum(out); uint32(n) != sum {
				return nil, corrupt(start, "checksum mismatch: the delta says %d, the target sums to %d", n, sum)
			}
			if pos != len(delta) {
				return nil, corrupt(pos, "%d bytes of trailing data after the checksum", len(delta)-pos)
			}
			return out, nil
		default:
			return nil, corrupt(pos, "unknown operator 0x%02x", op)
		}
	}
	return nil, corrupt(pos, "unterminated delta: no checksum trailer")
}

// readHeader parses the header: the target length and the newline after
// it. It returns the length and the position after the newline.
func readHeader(delta []byte) (int, int, error) {
	n, pos, err := readNumber(delta, 0)
	if err != nil {
		return 0, 0, err
	}
	if pos == len(delta) || delta[pos] != '\n' {
		return 0, 0, corrupt(pos, "target length not terminated by a newline")
	}
	if n > math.MaxInt {
		return 0, 0, corrupt(0, "target length %d does not fit in memory", n)
	}
	return int(n), pos + 1, nil
}

// readNumber parses the base-64 number at delta[pos:], which must have at
// least one digit and fit in 32 bits, and returns it with the position
// after its last digit.
func readNumber(delta []byte, pos int) (uint64, int, error) {
	start := pos
	var v uint64
	for pos < len(delta) {
		d := digitValue[delta[pos]]
		if d == noDigit {
			break
		}
		v = v<<6 | uint64(d)
		if v > math.MaxUint32 {
			return 0, 0, corrupt(start, "number larger than 2^32-1")
		}
		pos++
	}
	if pos == start {
		if pos == len(delta) {
			return 0, 0, corrupt(pos, "unterminated delta: expected a number")
		}
		return 0, 0, corrupt(pos, "expected a number, found 0x%02x", delta[pos])
	}
	return v, pos, nil
}
