package wire

import (
	"encoding/binary"
	"encoding/json"
)

// AppendJSONPublication appends a publication in SubprotocolJSON:
// {"op":"msg","topic":…,"epoch":…,"seq":…,"key":…,"data":…,"kind":…},
// "key" left out when empty, "kind" for kinds other than Publication,
// "data" left out for Delete; data embedded as is when it is JSON, else as a JSON
// string. Delta has no JSON form.
func AppendJSONPublication(dst []byte, kind Kind, topic string, pos Position, key string, data []byte) []byte {
	dst = append(dst, `{"op":"msg"`...)
	dst = appendTopicPosition(dst, topic, pos)
	if key != "" {
		dst = append(dst, `,"key":`...)
		dst = AppendJSONString(dst, key)
	}
	if kind != Delete {
		dst = append(dst, `,"data":`...)
		if json.Valid(data) {
			dst = append(dst, data...)
		} else {
			dst = AppendJSONString(dst, string(data))
		}
	}
	if kind != Publication {
		dst = append(dst, `,"kind":"`...)
		dst = append(dst, kind.String()...)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// MaxNameLen is the longest topic or key the binary form carries (one
// byte of length each).
const MaxNameLen = 255

// AppendBinaryPublication appends a publication in SubprotocolBinary: its
// kind (1 byte), the topic's length (1 byte) and bytes, the epoch and the
// sequence (8 bytes each, big endian), the key's length (1 byte) and
// bytes, then the data to the end of the message (for Delta, the Fossil
// delta). topic and key must be at most MaxNameLen bytes (the Hub's rules
// keep them so).
func AppendBinaryPublication(dst []byte, kind Kind, topic string, pos Position, key string, data []byte) []byte {
	dst = append(dst, byte(kind), byte(len(topic)))
	dst = append(dst, topic...)
	dst = binary.BigEndian.AppendUint64(dst, pos.Epoch)
	dst = binary.BigEndian.AppendUint64(dst, pos.Seq)
	dst = append(dst, byte(len(key)))
	dst = append(dst, key...)
	return append(dst, data...)
}

// BinaryFields is a SubprotocolBinary publication taken apart; Topic, Key
// and Data are slices of the parsed message.
type BinaryFields struct {
	Kind  Kind
	Topic []byte
	Position
	Key  []byte
	Data []byte
}

// ParseBinaryPublication takes a SubprotocolBinary publication apart,
// without allocating. It reports false when b is not one (an unknown
// kind, or too short for its lengths).
func ParseBinaryPublication(b []byte) (BinaryFields, bool) {
	if len(b) < 2 || b[0] < byte(Publication) || b[0] > byte(Event) {
		return BinaryFields{}, false
	}
	tl := int(b[1])
	if len(b) < 2+tl+17 {
		return BinaryFields{}, false
	}
	f := BinaryFields{Kind: Kind(b[0]), Topic: b[2 : 2+tl]}
	p := b[2+tl:]
	f.Epoch, f.Seq = binary.BigEndian.Uint64(p), binary.BigEndian.Uint64(p[8:])
	kl := int(p[16])
	if len(p) < 17+kl {
		return BinaryFields{}, false
	}
	f.Key, f.Data = p[17:17+kl], p[17+kl:]
	return f, true
}
