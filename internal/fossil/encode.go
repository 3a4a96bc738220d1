package fossil

import (
	"math"
	"slices"
	"sync"
)

// encoders holds idle encoders, so that building a delta allocates nothing
// beyond its output.
var encoders = sync.Pool{New: func() any { return new(sourceIndex) }}

// Delta returns a delta that turns src into dst: Apply(src, Delta(src, dst))
// returns dst. The delta is a new slice, owned by the caller, of capacity
// MaxDeltaLen(len(dst)); src and dst are only read. Delta is safe for
// concurrent use. It panics if src or dst is 2^32 bytes or longer, which
// the format cannot describe.
func Delta(src, dst []byte) []byte {
	return AppendDelta(make([]byte, 0, MaxDeltaLen(len(dst))), src, dst)
}

// AppendDelta appends to out a delta that turns src into dst and returns
// the extended slice, like [Delta]. When out has MaxDeltaLen(len(dst))
// bytes of spare capacity it allocates nothing; otherwise it grows out once.
// out must not overlap src or dst.
func AppendDelta(out, src, dst []byte) []byte {
	if uint64(len(src)) > math.MaxUint32 || uint64(len(dst)) > math.MaxUint32 {
		panic("fossil: source or target of 2^32 bytes or more")
	}
	out = slices.Grow(out, MaxDeltaLen(len(dst)))
	out = appendNumber(out, uint64(len(dst)))
	out = append(out, '\n')
	if len(src) >= nHash && len(dst) >= nHash {
		x := encoders.Get().(*sourceIndex)
		out = x.appendSegments(out, src, dst)
		if cap(x.next) <= maxPooledBlocks {
			encoders.Put(x)
		}
	} else if len(dst) > 0 {
		out = appendLiteral(out, dst)
	}
	out = appendNumber(out, uint64(Checksum(dst)))
	return append(out, ';')
}

// MaxDeltaLen is the most bytes Delta writes for a target of n bytes: the
// header and trailer, and at most n bytes plus one literal header for the
// segments, as a copy is only used where it is shorter than the bytes it
// stands for.
func MaxDeltaLen(n int) int {
	d := digitCount(uint64(n))
	return n + 2*(d+1) + 7
}

// appendSegments appends the segments of the delta from src to dst, both
// at least nHash bytes long. It slides an nHash-byte window over dst; where
// the window's hash matches indexed blocks of src it extends each
// candidate match backwards (into the bytes not yet encoded) and forwards,
// and emits the longest one as pending literal bytes plus a copy, if the
// copy is shorter than the bytes it replaces. It then restarts the window
// after the copied bytes. Whatever no copy covers ends in a literal.
func (x *sourceIndex) appendSegments(out, src, dst []byte) []byte {
	x.build(src)
	base := 0 // dst[:base] is encoded
	var h rolling
scan:
	for base+nHash <= len(dst) {
		h.init(dst[base:])
		for p := base; ; p++ {
			if n, off, lit := x.bestMatch(src, dst, base, p, h.sum()); n > 0 {
				if lit > 0 {
					out = appendLiteral(out, dst[base:base+lit])
				}
				out = appendNumber(out, uint64(n))
				out = append(out, '@')
				out = appendNumber(out, uint64(off))
				out = append(out, ',')
				base += lit + n
				continue scan
			}
			if p+nHash >= len(dst) {
				break scan
			}
			h.roll(dst[p], dst[p+nHash])
		}
	}
	if base < len(dst) {
		out = appendLiteral(out, dst[base:])
	}
	return out
}

// bestMatch returns the longest worthwhile match for the window at dst[p:]
// whose hash is sum: n bytes of src from off equal dst[base+lit:], where
// dst[base:base+lit] are the literal bytes before it. n is 0 when no
// candidate saves bytes.
func (x *sourceIndex) bestMatch(src, dst []byte, base, p int, sum uint32) (n, off, lit int) {
	tries := maxChain
	for blk := x.head[x.bucket(sum)]; blk > 0 && tries > 0; blk, tries = x.next[blk], tries-1 {
		if x.sums[blk] != sum {
			continue
		}
		s := int(blk-1) * nHash
		fwd := matchForward(src[s:], dst[p:])
		if fwd == 0 {
			continue
		}
		back := matchBackward(src[:s], dst[base:p])
		if back+fwd <= n {
			continue
		}
		l := p - back - base
		if back+fwd <= copyCost(back+fwd, s-back, l) {
			continue
		}
		n, off, lit = back+fwd, s-back, l
		if l == 0 && p+fwd == len(dst) {
			break
		}
	}
	return n, off, lit
}

// copyCost is how many delta bytes a copy of n bytes from off takes,
// counting the header of the lit literal bytes it splits off.
func copyCost(n, off, lit int) int {
	c := digitCount(uint64(n)) + digitCount(uint64(off)) + 2
	if lit > 0 {
		c += digitCount(uint64(lit)) + 1
	}
	return c
}

// appendLiteral appends a literal segment of b.
func appendLiteral(out, b []byte) []byte {
	out = appendNumber(out, uint64(len(b)))
	out = append(out, ':')
	return append(out, b...)
}
