package wire

import "strconv"

// Position is a place in a topic's stream. Epoch names one run of the
// topic's history: it changes when that history is lost (a restart of the
// in-process broker, a NATS stream recreated), so a position from another
// epoch cannot be recovered. Seq counts the topic's messages from 1; 0 is
// "before the first message".
type Position struct {
	Epoch uint64
	Seq   uint64
}

// AppendEpoch appends an epoch as 16 lowercase hex digits, its JSON form
// (a uint64 does not fit a JavaScript number).
func AppendEpoch(dst []byte, e uint64) []byte {
	const hex = "0123456789abcdef"
	for i := 60; i >= 0; i -= 4 {
		dst = append(dst, hex[(e>>uint(i))&0xf])
	}
	return dst
}

// ParseEpoch parses the JSON form of an epoch: exactly 16 hex digits.
func ParseEpoch(s string) (uint64, bool) {
	if len(s) != 16 {
		return 0, false
	}
	e, err := strconv.ParseUint(s, 16, 64)
	return e, err == nil
}
