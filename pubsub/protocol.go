package pubsub

import (
	"github.com/wsloop/wsloop/internal/fossil"
	"github.com/wsloop/wsloop/pubsub/wire"
	"github.com/wsloop/wsloop/server"
)

// Subprotocols of the wire protocol (see the package documentation). A
// client that negotiates none speaks SubprotocolJSON.
const (
	SubprotocolJSON   = wire.SubprotocolJSON
	SubprotocolBinary = wire.SubprotocolBinary
)

// Wire forms of publications: JSON, binary, and binary with keyed values
// as Fossil deltas.
const (
	formJSON = iota
	formBinary
	formDelta
	forms
)

// formType is the WebSocket message type of a form.
func formType(form int) server.MessageType {
	if form == formJSON {
		return server.Text
	}
	return server.Binary
}

// encode appends m in the given wire form as the given kind: m's own, or
// wire.Snapshot for a snapshot entry. The delta form encodes full values
// here; deltas are deliver's.
func encode(dst []byte, form int, kind wire.Kind, m *Message) []byte {
	if form == formJSON {
		return wire.AppendJSONPublication(dst, kind, m.Topic, m.Position, m.Key, m.Data)
	}
	return wire.AppendBinaryPublication(dst, kind, m.Topic, m.Position, m.Key, m.Data)
}

// encodeDelta appends m, an Update of a key whose previous value is prev,
// as a wire.Delta: the Fossil delta from prev's data to m's.
func encodeDelta(dst, scratch []byte, m *Message, prev []byte) ([]byte, []byte) {
	scratch = fossil.AppendDelta(scratch[:0], prev, m.Data)
	return wire.AppendBinaryPublication(dst, wire.Delta, m.Topic, m.Position, m.Key, scratch), scratch
}

// conflationKey is the key a message is published to a group with: none
// for events and keyless messages, which are never conflated.
func conflationKey(m *Message) string {
	if m.kind() == Event {
		return ""
	}
	return m.Key
}
