package pubsub

import "github.com/wsloop/wsloop/pubsub/wire"

// Subprotocols of the wire protocol (see the package documentation). A
// client that negotiates none speaks SubprotocolJSON.
const (
	SubprotocolJSON   = wire.SubprotocolJSON
	SubprotocolBinary = wire.SubprotocolBinary
)

// encode appends m in the given wire form.
func encode(dst []byte, form int, m *Message) []byte {
	if form == formBinary {
		return wire.AppendBinaryPublication(dst, m.Topic, m.Position, m.Key, m.Data)
	}
	return wire.AppendJSONPublication(dst, m.Topic, m.Position, m.Key, m.Data)
}
