// Package fossil creates and applies deltas in the Fossil SCM delta format,
// the format Centrifugo uses for its "fossil" delta compression of
// publications. The format is specified by the Fossil project in "Fossil
// Delta Format" (https://fossil-scm.org/home/doc/trunk/www/delta_format.wiki)
// and the encoder follows the approach of "Fossil Delta Encoding Algorithm"
// (https://fossil-scm.org/home/doc/trunk/www/delta_encoder_algorithm.wiki);
// the reference implementation is fossil-scm's src/delta.c.
//
// # Format
//
// All numbers are unsigned and written in base 64, most significant digit
// first, with the digits "0-9A-Z_a-z~" (see [Digits]). A delta is:
//
//	LEN "\n"        header: LEN is the length of the target
//	N "@" OFF ","   segment: copy N bytes of the source from offset OFF
//	N ":" BYTES     segment: insert the N literal BYTES that follow
//	SUM ";"         trailer: SUM is the target's checksum (below)
//
// with any number of segments, in target order, between header and trailer.
//
// The checksum is the sum, modulo 2^32, of the target read as big-endian
// 32-bit words, the last word padded with zero bytes (delta.c's checksum()).
//
// The clients in clients/js/src/fossil.js and
// clients/python/wsloop_client/fossil.py apply the same format; the vectors
// in testdata/vectors.json and testdata/corrupt.json hold all three to the
// same results and the same error messages.
//
// # Encoder
//
// Delta indexes the source's whole 16-byte blocks by a rolling hash, slides
// a 16-byte window over the target and, where the window's hash finds
// source blocks, extends each candidate backwards and forwards and takes
// the longest, as delta.c does. Unlike delta.c it indexes the source's last
// whole block too, lets a match reach back to source offset 0, keeps the
// block hashes to skip bucket collisions, and emits a copy only when it is
// shorter than the bytes it stands for. Any decoder of the format applies
// its deltas; the deltas of other encoders may differ byte for byte.
//
// # Contract
//
// Every function is pure: it keeps no observable state between calls (the
// encoder's scratch tables are pooled), retains no argument and never modifies src, dst or delta, so all of them are safe
// for concurrent use. Returned slices belong to the caller.
package fossil
