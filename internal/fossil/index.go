package fossil

import (
	"encoding/binary"
	"math/bits"
)

// nHash is the width of the rolling-hash window and the spacing of the
// source blocks the encoder indexes, as in delta.c.
const nHash = 16

// maxChain bounds how many indexed source blocks the encoder tries for one
// target window (delta.c's limit), so that sources of many identical blocks
// stay linear.
const maxChain = 250

// maxPooledBlocks is the largest index (in source blocks, 1 MiB of source)
// an encoder keeps when it goes back to the pool.
const maxPooledBlocks = 1 << 16

// rolling is the hash of an nHash-byte window, kept up to date as the
// window slides one byte at a time: a is the sum of the window's bytes and
// b the sum of byte i times nHash-i, both taken modulo 2^16 when the hash
// is read (the hash of delta.c's hash_init and hash_next).
type rolling struct {
	a, b uint32
}

// init sets h to the hash of w[:nHash]. It sums the bytes in 16-bit lanes
// of two 64-bit words: a multiplication by a constant with lanes (l3, l2,
// l1, l0) leaves in the top lane the sum of lane i times l(3-i), which
// gives both the plain and the weighted sum of a word's bytes without a
// carry between lanes (no lane exceeds 255*36).
func (h *rolling) init(w []byte) {
	const (
		lanes  = 0x00ff00ff00ff00ff
		ones   = 0x0001000100010001
		evenWt = 8<<48 | 6<<32 | 4<<16 | 2 // bytes 0, 2, 4, 6 weigh 8, 6, 4, 2
		oddWt  = 7<<48 | 5<<32 | 3<<16 | 1 // bytes 1, 3, 5, 7 weigh 7, 5, 3, 1
	)
	lo, hi := binary.LittleEndian.Uint64(w), binary.LittleEndian.Uint64(w[8:nHash])
	loEven, loOdd := lo&lanes, lo>>8&lanes
	hiEven, hiOdd := hi&lanes, hi>>8&lanes
	loSum := uint32((loEven + loOdd) * ones >> 48)
	hiSum := uint32((hiEven + hiOdd) * ones >> 48)
	loWt := uint32((loEven*evenWt + loOdd*oddWt) >> 48)
	hiWt := uint32((hiEven*evenWt + hiOdd*oddWt) >> 48)
	// Byte i of the window weighs nHash-i: 8 plus its weight within the
	// word for the first word, its weight within the word for the second.
	h.a = loSum + hiSum
	h.b = 8*loSum + loWt + hiWt
}

// roll slides the window one byte: out leaves at the front, in enters at
// the back.
func (h *rolling) roll(out, in byte) {
	h.a += uint32(in) - uint32(out)
	h.b += h.a - nHash*uint32(out)
}

// sum returns the window's 32-bit hash.
func (h *rolling) sum() uint32 {
	return h.a&0xffff | h.b<<16
}

// sourceIndex finds the source blocks (nHash bytes at multiples of nHash)
// whose hash equals a target window's. It is the encoder's reusable state.
// Blocks are numbered from 1 so that 0, the zero value, ends a chain.
type sourceIndex struct {
	head  []int32  // per bucket, the last block inserted into it
	next  []int32  // per block, the previous block of its bucket
	sums  []uint32 // per block, its hash, to skip other blocks of a bucket
	shift uint     // turns a mixed hash into a bucket number
}

// build indexes every whole nHash-byte block of src, reusing x's tables,
// in at least twice as many buckets as blocks.
func (x *sourceIndex) build(src []byte) {
	blocks := len(src) / nHash
	order := bits.Len(uint(blocks)) + 1
	x.shift = uint(32 - order)
	x.head = resize(x.head, 1<<order)
	clear(x.head)
	x.next = resize(x.next, blocks+1)
	x.sums = resize(x.sums, blocks+1)
	var h rolling
	for blk := 1; blk <= blocks; blk++ {
		h.init(src[(blk-1)*nHash:])
		sum := h.sum()
		b := x.bucket(sum)
		x.sums[blk] = sum
		x.next[blk] = x.head[b]
		x.head[b] = int32(blk)
	}
}

// bucket maps a window hash to its bucket.
func (x *sourceIndex) bucket(sum uint32) uint32 {
	return (sum * 0x9e3779b1) >> x.shift
}

// resize returns s with length n, reusing its array when large enough.
func resize[T int32 | uint32](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
