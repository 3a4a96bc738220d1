// Message compression for permessage-deflate
// (https://www.rfc-editor.org/rfc/rfc7692#section-7), always without context
// takeover: every message is compressed and decompressed with fresh state.
//
// Costs (BenchmarkNewFlateWriter, BenchmarkNewFlateReader, Go 1.26). A
// compress/flate writer is large at every level: 1.2 MB at level 1
// (BestSpeed, whose token buffer and match table are bigger), 0.81 MB at
// levels 2-9 and 0.73 MB at HuffmanOnly (the match tables are part of the
// writer even where unused). Resetting it for a new message is cheap at
// level 1 and HuffmanOnly, but at levels 2-9 it clears 640 KB of hash
// chains, which is most of the cost of compressing a short message.
// HuffmanOnly, for peers with a window below 32 KiB, is 15-20% faster than
// level 1 on JSON-like text but its output is 1.8 to 2.7 times larger
// (BenchmarkDeflateWindow). A flate reader is 40 KB. Both live in
// package-level pools and are held only during one Deflate or Inflate call, so
// memory grows with the number of goroutines compressing at the same moment,
// not with the number of connections: an idle connection with compression
// negotiated holds nothing. The pools are sync.Pools, so the garbage collector
// may empty them and the next call then builds a new writer or reader.

package codec

import (
	"bytes"
	"compress/flate"
	"io"
	"sync"

	"github.com/gobwas/ws"
)

// ErrInvalidCompressedData: a compressed message that is not a valid DEFLATE
// stream once 0x00 0x00 0xff 0xff is appended. RFC 7692 names no close code
// for this; it is 1007 ("Invalid frame payload data" in the registry of
// https://www.rfc-editor.org/rfc/rfc6455#section-11.7, "data within a message
// that was not consistent with the type of the message",
// https://www.rfc-editor.org/rfc/rfc6455#section-7.4.1), which is also what
// zlib-based peers send.
var ErrInvalidCompressedData = &CloseError{ws.StatusInvalidFramePayloadData, "invalid compressed data"}

// flateTail is the empty stored block a sync flush ends with. The sender
// strips it and the receiver appends it again:
// https://www.rfc-editor.org/rfc/rfc7692#section-7.2.1 and
// https://www.rfc-editor.org/rfc/rfc7692#section-7.2.2.
var flateTail = [...]byte{0x00, 0x00, 0xff, 0xff}

// flateTerminator is flateTail followed by an empty stored block with BFINAL
// set. The final block makes the reader stop with io.EOF on a complete
// message, so a message cut short inside a block is reported as corrupt
// instead of being mistaken for the end of the data.
var flateTerminator = [...]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// Deflate appends to dst the permessage-deflate payload of the whole message
// p, compressed at level, and returns the extended slice
// (https://www.rfc-editor.org/rfc/rfc7692#section-7.2.1). The message is
// compressed with fresh state (no context takeover), ended with a sync flush
// whose trailing 0x00 0x00 0xff 0xff is removed, and never contains a block
// with BFINAL set. Send it with RSV1 set on the first frame of the message.
//
// level follows compress/flate: 1 (BestSpeed) to 9 (BestCompression), or
// HuffmanOnly, which never refers back and so suits any window (see
// DeflateLevelFor); any other level <= 0 means BestSpeed and level > 9
// means BestCompression. Level 1 is the fastest of 1-9 by far (levels 2-9
// clear 640 KB per message); see the costs at the top of flate.go.
//
// The result is not always shorter than p (incompressible data grows by a few
// bytes); a caller may then send p uncompressed with RSV1 clear instead
// (https://www.rfc-editor.org/rfc/rfc7692#section-6). Deflate is safe for
// concurrent use. p is not retained; the result aliases dst when dst has
// enough capacity. In steady state it allocates only when dst must grow.
func Deflate(dst, p []byte, level int) []byte {
	level = deflateLevel(level)
	pool := &deflaters[deflaterSlot(level)]
	d, _ := pool.Get().(*deflater)
	if d == nil {
		d = new(deflater)
		// NewWriter fails only for an invalid level.
		d.fw, _ = flate.NewWriter(&d.out, level)
	} else {
		d.fw.Reset(&d.out)
	}
	d.out.b = dst
	start := len(dst)
	// appendWriter never fails, so neither do Write and Flush.
	_, _ = d.fw.Write(p)
	_ = d.fw.Flush()
	out := d.out.b
	d.out.b = nil
	pool.Put(d)
	if bytes.HasSuffix(out[start:], flateTail[:]) {
		out = out[:len(out)-len(flateTail)]
	}
	return out
}

// deflater is a pooled flate.Writer writing into out.
type deflater struct {
	fw  *flate.Writer
	out appendWriter
}

// deflaters holds one pool per compression level, indexed by
// deflaterSlot: HuffmanOnly in slot 0, levels 1-9 in slots 1-9.
var deflaters [flate.BestCompression + 1]sync.Pool

// deflateLevel returns the level Deflate compresses at for level: level
// itself for HuffmanOnly and 1-9, else the nearest of 1 and 9.
func deflateLevel(level int) int {
	switch {
	case level == HuffmanOnly:
		return level
	case level < flate.BestSpeed:
		return flate.BestSpeed
	case level > flate.BestCompression:
		return flate.BestCompression
	}
	return level
}

// deflaterSlot returns the index in deflaters of a level returned by
// deflateLevel.
func deflaterSlot(level int) int {
	if level == HuffmanOnly {
		return 0
	}
	return level
}

// appendWriter is an io.Writer appending to b.
type appendWriter struct{ b []byte }

// Write appends p to w.b.
func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// Inflate appends to dst the message whose permessage-deflate payload is p and
// returns the extended slice
// (https://www.rfc-editor.org/rfc/rfc7692#section-7.2.2): 0x00 0x00 0xff 0xff
// is appended to p and the result is decompressed with fresh state (no context
// takeover), so the peer must have agreed to client_no_context_takeover (see
// FlateNegotiator). An empty p inflates to an empty message, as zlib-based
// peers do, and data after a block with BFINAL set is ignored.
//
// The inflated message may be at most max bytes; max <= 0 means
// DefaultMaxMessageSize. Decompression stops with ErrMessageTooBig (1009) as
// soon as the output would exceed max, so a compression bomb costs at most
// about max bytes of memory. A stream that is not valid DEFLATE, or that ends
// inside a block, fails with ErrInvalidCompressedData (1007). On error the
// returned slice has dst's original length (its array may have grown, and
// bytes past its length may have been overwritten).
//
// Inflate does not check that text is UTF-8; the caller must. It is safe for
// concurrent use. p is not retained; the result aliases dst when dst has
// enough capacity. In steady state it allocates only when dst must grow and
// when a block uses Huffman codes longer than 9 bits (compress/flate builds
// link tables for those).
func Inflate(dst, p []byte, max int64) ([]byte, error) {
	if max <= 0 {
		max = DefaultMaxMessageSize
	}
	if len(p) == 0 {
		return dst, nil
	}
	f, _ := inflaters.Get().(*inflater)
	if f == nil {
		f = new(inflater)
		f.src.p = p
		f.fr = flate.NewReader(&f.src)
	} else {
		f.src = flateSource{p: p}
		// Reset cannot fail for compress/flate's reader; it keeps the
		// reader's tables and window.
		_ = f.fr.(flate.Resetter).Reset(&f.src, nil)
	}
	out, err := f.inflate(dst, int64(len(p)), max)
	f.src = flateSource{}
	inflaters.Put(f)
	return out, err
}

// inflater is a pooled flate reader reading from src.
type inflater struct {
	src   flateSource
	fr    io.ReadCloser // also a flate.Resetter
	probe [1]byte
}

var inflaters sync.Pool

// minInflateGrow is the least spare capacity Inflate adds when dst is full.
const minInflateGrow = 512

// inflate reads the whole message into dst, growing it at most to max bytes
// past its original length. n is the compressed size, used as a first guess.
func (f *inflater) inflate(dst []byte, n, max int64) ([]byte, error) {
	start := len(dst)
	for {
		produced := int64(len(dst) - start)
		if produced == max || len(dst) == cap(dst) {
			// Read one byte before growing dst, so a message that fits
			// exactly needs no more room and one that fills max stops here.
			k, err := f.fr.Read(f.probe[:])
			if k > 0 {
				if produced == max {
					return dst[:start], ErrMessageTooBig
				}
				dst = growInflated(dst, produced, n, max)
				dst = append(dst, f.probe[0])
			}
			switch {
			case err == io.EOF:
				return dst, nil
			case err != nil:
				return dst[:start], ErrInvalidCompressedData
			}
			continue
		}
		room := int64(cap(dst) - len(dst))
		if room > max-produced {
			room = max - produced
		}
		k, err := f.fr.Read(dst[len(dst) : len(dst)+int(room)])
		dst = dst[:len(dst)+k]
		switch {
		case err == io.EOF:
			return dst, nil
		case err != nil:
			return dst[:start], ErrInvalidCompressedData
		}
	}
}

// growInflated returns dst with more spare capacity: twice the output so far
// (first twice the compressed size n), at least minInflateGrow, and never more
// than the max - produced bytes the message may still grow.
func growInflated(dst []byte, produced, n, max int64) []byte {
	more := produced
	if more == 0 {
		more = 2 * n
	}
	if more < minInflateGrow {
		more = minInflateGrow
	}
	if more > max-produced {
		more = max - produced
	}
	grown := make([]byte, len(dst), len(dst)+int(more))
	copy(grown, dst)
	return grown
}

// flateSource feeds p followed by flateTerminator to the flate reader. It
// implements io.ByteReader so the reader consumes exactly the bytes it needs
// and does not wrap it in a bufio.Reader.
type flateSource struct {
	p    []byte
	tail int // bytes of flateTerminator consumed
}

// Read implements io.Reader.
func (s *flateSource) Read(b []byte) (int, error) {
	n := copy(b, s.p)
	s.p = s.p[n:]
	if n < len(b) && s.tail < len(flateTerminator) {
		k := copy(b[n:], flateTerminator[s.tail:])
		s.tail += k
		n += k
	}
	if n == 0 && len(b) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// ReadByte implements io.ByteReader.
func (s *flateSource) ReadByte() (byte, error) {
	if len(s.p) > 0 {
		c := s.p[0]
		s.p = s.p[1:]
		return c, nil
	}
	if s.tail < len(flateTerminator) {
		c := flateTerminator[s.tail]
		s.tail++
		return c, nil
	}
	return 0, io.EOF
}
