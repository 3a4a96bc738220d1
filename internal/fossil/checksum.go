package fossil

import "encoding/binary"

// Checksum returns the format's 32-bit checksum of b: the sum, modulo 2^32,
// of b read as big-endian 32-bit words, the last word padded with zero
// bytes when len(b) is not a multiple of 4.
func Checksum(b []byte) uint32 {
	var sum uint32
	for len(b) >= 16 {
		sum += binary.BigEndian.Uint32(b) + binary.BigEndian.Uint32(b[4:]) +
			binary.BigEndian.Uint32(b[8:]) + binary.BigEndian.Uint32(b[12:])
		b = b[16:]
	}
	for len(b) >= 4 {
		sum += binary.BigEndian.Uint32(b)
		b = b[4:]
	}
	var last [4]byte
	copy(last[:], b)
	return sum + binary.BigEndian.Uint32(last[:])
}
