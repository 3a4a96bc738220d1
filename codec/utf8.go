package codec

import "unicode/utf8"

// utf8Failed marks a UTF8Validator that has seen an invalid sequence.
const utf8Failed = 0xff

// UTF8Validator checks that a byte stream delivered in arbitrary chunks is
// valid UTF-8 (RFC 3629), failing at the first chunk that contains an invalid
// sequence rather than at the end. A rune may be split across chunks. Text
// messages must be valid UTF-8:
// https://www.rfc-editor.org/rfc/rfc6455#section-8.1.
//
// The zero value is ready to use.
type UTF8Validator struct {
	need   uint8 // continuation bytes still expected, or utf8Failed
	lo, hi uint8 // allowed range of the next continuation byte
}

// Reset prepares v for a new stream.
func (v *UTF8Validator) Reset() { *v = UTF8Validator{} }

// Complete reports whether everything fed so far is valid UTF-8 that does not
// end inside a rune.
func (v *UTF8Validator) Complete() bool { return v.need == 0 }

// Feed validates the next chunk p of the stream. It reports false once the
// stream can no longer be valid UTF-8; an incomplete rune at the end of p is
// accepted if it is a valid prefix. After a false result Feed keeps reporting
// false until Reset. p is not retained.
func (v *UTF8Validator) Feed(p []byte) bool {
	for v.need != 0 && len(p) > 0 {
		if v.need == utf8Failed || !v.step(p[0]) {
			return false
		}
		p = p[1:]
	}
	if v.need == utf8Failed {
		return false
	}
	if len(p) == 0 {
		return true
	}
	// Validate the complete runes with the standard library and only the
	// last, possibly incomplete, rune byte by byte.
	cut := len(p)
	for i := len(p) - 1; i >= 0 && i >= len(p)-utf8.UTFMax; i-- {
		if utf8.RuneStart(p[i]) {
			cut = i
			break
		}
	}
	if !utf8.Valid(p[:cut]) {
		v.need = utf8Failed
		return false
	}
	for _, c := range p[cut:] {
		if !v.step(c) {
			return false
		}
	}
	return true
}

// step advances the validator by one byte, following the well-formed byte
// sequences table of https://www.rfc-editor.org/rfc/rfc3629#section-4.
func (v *UTF8Validator) step(c byte) bool {
	if v.need != 0 {
		if c < v.lo || c > v.hi {
			v.need = utf8Failed
			return false
		}
		v.need--
		v.lo, v.hi = 0x80, 0xbf
		return true
	}
	v.lo, v.hi = 0x80, 0xbf
	switch {
	case c < 0x80:
		return true
	case c >= 0xc2 && c <= 0xdf:
		v.need = 1
	case c == 0xe0:
		v.need, v.lo = 2, 0xa0
	case c == 0xed:
		v.need, v.hi = 2, 0x9f
	case c >= 0xe1 && c <= 0xef:
		v.need = 2
	case c == 0xf0:
		v.need, v.lo = 3, 0x90
	case c >= 0xf1 && c <= 0xf3:
		v.need = 3
	case c == 0xf4:
		v.need, v.hi = 3, 0x8f
	default:
		v.need = utf8Failed
		return false
	}
	return true
}
