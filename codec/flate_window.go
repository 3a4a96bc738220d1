package codec

import "compress/flate"

// HuffmanOnly is the Deflate level for a peer whose LZ77 window is smaller
// than compress/flate's 32 KiB (server_max_window_bits below 15,
// https://www.rfc-editor.org/rfc/rfc7692#section-7.1.2.1). It is
// compress/flate's HuffmanOnly: every byte is coded as a literal, in
// Huffman-coded or stored blocks, and the output never refers back to
// earlier data (https://www.rfc-editor.org/rfc/rfc1951#section-3.2.5), so
// it decompresses with any window size from 8 to 15 bits. It removes only
// the redundancy of skewed byte frequencies, not repeated strings: on
// JSON-like market data its output is 1.8 (1 KiB messages) to 2.7 (64 KiB)
// times the size of level 1's, for 15-20% less CPU
// (BenchmarkDeflateWindow).
const HuffmanOnly = flate.HuffmanOnly

// DeflateLevelFor returns the level at which to Deflate messages for a peer
// that may keep only a window of windowBits bits
// (FlateNegotiator.ServerWindowBits): level itself for a 15-bit window,
// which is what compress/flate compresses with at every level, and
// HuffmanOnly below 15.
func DeflateLevelFor(level, windowBits int) int {
	if windowBits < flateMaxWindowBits {
		return HuffmanOnly
	}
	return level
}
