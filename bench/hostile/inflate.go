package hostile

import (
	"errors"
	"fmt"
)

// Distances decodes a raw DEFLATE stream (RFC 1951; a permessage-deflate
// payload with its 00 00 ff ff tail put back) far enough to find the
// longest back-reference it makes: a server that accepted
// server_max_window_bits=N must never refer further back than 2^N bytes
// (RFC 7692 §7.1.2.1), which compress/flate's reader does not check. It
// returns the decoded bytes and that distance. history is how many bytes
// of earlier messages the window holds (a reference into them is legal
// when the server keeps its context).
func Distances(data []byte, history int) (out []byte, maxDist int, err error) {
	br := &bitReader{b: data}
	for {
		final, err := br.bits(1)
		if err != nil {
			return out, maxDist, err
		}
		kind, err := br.bits(2)
		if err != nil {
			return out, maxDist, err
		}
		switch kind {
		case 0:
			br.align()
			if br.pos+4 > len(br.b) {
				return out, maxDist, errors.New("deflate: short stored block")
			}
			n := int(br.b[br.pos]) | int(br.b[br.pos+1])<<8
			nn := int(br.b[br.pos+2]) | int(br.b[br.pos+3])<<8
			if n != ^nn&0xffff {
				return out, maxDist, errors.New("deflate: stored length check")
			}
			br.pos += 4
			if br.pos+n > len(br.b) {
				return out, maxDist, errors.New("deflate: short stored data")
			}
			out = append(out, br.b[br.pos:br.pos+n]...)
			br.pos += n
		case 1, 2:
			lit, dist := fixedLit, fixedDist
			if kind == 2 {
				if lit, dist, err = dynamicTables(br); err != nil {
					return out, maxDist, err
				}
			}
			if out, maxDist, err = inflateBlock(br, lit, dist, out, maxDist, history); err != nil {
				return out, maxDist, err
			}
		default:
			return out, maxDist, errors.New("deflate: reserved block type")
		}
		if final == 1 || (br.pos >= len(br.b) && br.n == 0) {
			return out, maxDist, nil
		}
	}
}

// bitReader reads DEFLATE's least-significant-bit-first bit stream.
type bitReader struct {
	b   []byte
	pos int
	acc uint32
	n   uint
}

var errShort = errors.New("deflate: stream ends early")

func (r *bitReader) bits(n uint) (uint32, error) {
	for r.n < n {
		if r.pos >= len(r.b) {
			return 0, errShort
		}
		r.acc |= uint32(r.b[r.pos]) << r.n
		r.pos++
		r.n += 8
	}
	v := r.acc & (1<<n - 1)
	r.acc >>= n
	r.n -= n
	return v, nil
}

func (r *bitReader) align() { r.acc, r.n = 0, 0 }

// huffman is a canonical Huffman code: symbols by (length, code).
type huffman struct {
	count  [16]int // codes of each length
	symbol []int   // symbols in canonical order
}

func newHuffman(lengths []int) huffman {
	var h huffman
	for _, l := range lengths {
		h.count[l]++
	}
	h.count[0] = 0
	var offs [16]int
	for l := 1; l < 16; l++ {
		offs[l] = offs[l-1] + h.count[l-1]
	}
	h.symbol = make([]int, len(lengths))
	for s, l := range lengths {
		if l != 0 {
			h.symbol[offs[l]] = s
			offs[l]++
		}
	}
	return h
}

// decode reads one symbol, bit by bit (slow and simple: the suite
// decodes a few KiB).
func (h huffman) decode(r *bitReader) (int, error) {
	code, first, index := 0, 0, 0
	for l := 1; l < 16; l++ {
		b, err := r.bits(1)
		if err != nil {
			return 0, err
		}
		code |= int(b)
		count := h.count[l]
		if code-count < first {
			return h.symbol[index+(code-first)], nil
		}
		index += count
		first = (first + count) << 1
		code <<= 1
	}
	return 0, errors.New("deflate: bad Huffman code")
}

var (
	lenBase   = [...]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra  = [...]uint{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase  = [...]int{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra = [...]uint{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	clOrder   = [...]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

	fixedLit, fixedDist = fixedTables()
)

func fixedTables() (huffman, huffman) {
	l := make([]int, 288)
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	d := make([]int, 30)
	for i := range d {
		d[i] = 5
	}
	return newHuffman(l), newHuffman(d)
}

// dynamicTables reads a dynamic block's code definitions.
func dynamicTables(r *bitReader) (huffman, huffman, error) {
	var h [3]uint32
	for i, n := range []uint{5, 5, 4} {
		v, err := r.bits(n)
		if err != nil {
			return huffman{}, huffman{}, err
		}
		h[i] = v
	}
	nlit, ndist, nclen := int(h[0])+257, int(h[1])+1, int(h[2])+4
	cl := make([]int, 19)
	for i := range nclen {
		v, err := r.bits(3)
		if err != nil {
			return huffman{}, huffman{}, err
		}
		cl[clOrder[i]] = int(v)
	}
	clh := newHuffman(cl)
	lengths := make([]int, 0, nlit+ndist)
	for len(lengths) < nlit+ndist {
		sym, err := clh.decode(r)
		if err != nil {
			return huffman{}, huffman{}, err
		}
		rep, val := 1, sym
		switch sym {
		case 16:
			if len(lengths) == 0 {
				return huffman{}, huffman{}, errors.New("deflate: repeat with no length")
			}
			v, err := r.bits(2)
			rep, val = 3+int(v), lengths[len(lengths)-1]
			if err != nil {
				return huffman{}, huffman{}, err
			}
		case 17:
			v, err := r.bits(3)
			rep, val = 3+int(v), 0
			if err != nil {
				return huffman{}, huffman{}, err
			}
		case 18:
			v, err := r.bits(7)
			rep, val = 11+int(v), 0
			if err != nil {
				return huffman{}, huffman{}, err
			}
		}
		for range rep {
			lengths = append(lengths, val)
		}
	}
	if len(lengths) > nlit+ndist {
		return huffman{}, huffman{}, errors.New("deflate: code lengths overflow")
	}
	return newHuffman(lengths[:nlit]), newHuffman(lengths[nlit:]), nil
}

// inflateBlock decodes one Huffman-coded block.
func inflateBlock(r *bitReader, lit, dist huffman, out []byte, maxDist, history int) ([]byte, int, error) {
	for {
		sym, err := lit.decode(r)
		if err != nil {
			return out, maxDist, err
		}
		switch {
		case sym < 256:
			out = append(out, byte(sym))
			continue
		case sym == 256:
			return out, maxDist, nil
		case sym > 285:
			return out, maxDist, fmt.Errorf("deflate: length symbol %d", sym)
		}
		i := sym - 257
		e, err := r.bits(lenExtra[i])
		if err != nil {
			return out, maxDist, err
		}
		length := lenBase[i] + int(e)
		ds, err := dist.decode(r)
		if err != nil {
			return out, maxDist, err
		}
		if ds >= 30 {
			return out, maxDist, fmt.Errorf("deflate: distance symbol %d", ds)
		}
		e, err = r.bits(distExtra[ds])
		if err != nil {
			return out, maxDist, err
		}
		d := distBase[ds] + int(e)
		maxDist = max(maxDist, d)
		if d > len(out)+history {
			return out, maxDist, fmt.Errorf("deflate: distance %d before the start of the window", d)
		}
		for range length {
			if d > len(out) {
				out = append(out, 0) // a byte of an earlier message, not kept here
			} else {
				out = append(out, out[len(out)-d])
			}
		}
	}
}
