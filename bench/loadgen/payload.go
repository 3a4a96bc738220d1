package loadgen

import (
	"bytes"
	"strconv"

	"github.com/wsloop/wsloop/pubsub/wire"
)

// Fan-out payloads. A publication's body is a JSON object padded to the
// requested size:
//
//	{"t":1732262400123456789,"i":3,"n":17,"p":"xxxx…"}
//
// t is the publish time in Unix nanoseconds (the time the publisher meant
// to send it), i the topic's index in the subscriber's topic list, n the
// publication's number within its topic (1, 2, 3, …; the same on every
// endpoint it is posted to). A server may forward the body as it is (the
// peers), embed it in a JSON envelope (wsloop.json: ..."data":{...}}) or
// append it to a binary header (wsloop.bin): the subscriber finds `{"t":`
// and reads on from there, so no server needs a parser of its own.

// MinPayload is the smallest fan-out payload: the header with every number
// at its widest, plus the padding field's quotes.
const MinPayload = len(`{"t":`) + 19 + len(`,"i":`) + 5 + len(`,"n":`) + 10 + len(`,"p":""}`)

var (
	payloadStart = []byte(`{"t":`)
	payloadI     = []byte(`,"i":`)
	payloadN     = []byte(`,"n":`)
)

// AppendPayload appends a fan-out payload of exactly max(size, its header
// plus padding) bytes. topic must be below 100000.
func AppendPayload(dst []byte, size int, t int64, topic int, n uint32) []byte {
	start := len(dst)
	dst = append(dst, payloadStart...)
	dst = strconv.AppendInt(dst, t, 10)
	dst = append(dst, payloadI...)
	dst = strconv.AppendInt(dst, int64(topic), 10)
	dst = append(dst, payloadN...)
	dst = strconv.AppendUint(dst, uint64(n), 10)
	dst = append(dst, `,"p":"`...)
	for pad := size - (len(dst) - start) - 2; pad > 0; pad-- {
		dst = append(dst, 'x')
	}
	return append(dst, '"', '}')
}

// Stamp is what a subscriber reads from a received publication.
type Stamp struct {
	T      int64  // publish time, Unix ns
	Topic  int    // index in the topic list
	N      uint32 // number within the topic
	Seq    uint64 // the server's per-topic sequence (wsloop forms only)
	HasSeq bool   // Seq was present
	Binary bool   // the wsloop.bin form
}

// ParsePublication reads a publication in any of the three forms: a
// wsloop.bin binary frame (kind, topic, epoch, seq, key, data), a
// wsloop.json text frame ({"op":"msg",…,"seq":N,…,"data":{payload}}) or
// the payload itself. ok is false when no payload is found.
func ParsePublication(binaryFrame bool, p []byte) (s Stamp, ok bool) {
	data := p
	switch {
	case binaryFrame:
		f, ok := wire.ParseBinaryPublication(p)
		if !ok {
			return s, false
		}
		s.Seq, s.HasSeq, s.Binary = f.Seq, true, true
		data = f.Data
	case bytes.HasPrefix(p, []byte(`{"op":"msg"`)):
		// wire.AppendJSONPublication's order: op first, seq before data;
		// scanned rather than decoded, at millions of messages a second.
		j := bytes.Index(p, []byte(`,"seq":`))
		if j < 0 {
			return s, false
		}
		v, _, ok := parseUint(p[j+len(`,"seq":`):])
		if !ok {
			return s, false
		}
		s.Seq, s.HasSeq = v, true
		data = p[j:]
	}
	k := bytes.Index(data, payloadStart)
	if k < 0 {
		return s, false
	}
	data = data[k+len(payloadStart):]
	t, data, ok := parseUint(data)
	if !ok || !bytes.HasPrefix(data, payloadI) {
		return s, false
	}
	topic, data, ok := parseUint(data[len(payloadI):])
	if !ok || !bytes.HasPrefix(data, payloadN) || topic > 1<<20 {
		return s, false
	}
	n, _, ok := parseUint(data[len(payloadN):])
	if !ok || n > 1<<32-1 || t > 1<<63-1 {
		return s, false
	}
	s.T, s.Topic, s.N = int64(t), int(topic), uint32(n)
	return s, true
}

// parseUint reads the decimal digits at the start of b (at most 19).
func parseUint(b []byte) (v uint64, rest []byte, ok bool) {
	i := 0
	for ; i < len(b) && i < 20 && b[i] >= '0' && b[i] <= '9'; i++ {
		v = v*10 + uint64(b[i]-'0')
	}
	if i == 0 || i > 19 {
		return 0, b, false
	}
	return v, b[i:], true
}

// Subscription answers.
var (
	ackPrefix   = []byte(`{"op":"subscribed"`)
	errorPrefix = []byte(`{"op":"error"`)
)

// parseAck reads the topic and (when present, as wsloop sends it) the
// position of a {"op":"subscribed",...} answer.
func parseAck(p []byte) (topic string, seq uint64, hasSeq, ok bool) {
	const tk = `"topic":"`
	i := bytes.Index(p, []byte(tk))
	if i < 0 {
		return "", 0, false, false
	}
	rest := p[i+len(tk):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "", 0, false, false
	}
	topic = string(rest[:j])
	if k := bytes.Index(p, []byte(`"seq":`)); k >= 0 {
		seq, _, hasSeq = parseUint(p[k+len(`"seq":`):])
	}
	return topic, seq, hasSeq, true
}

// appendSubscribe appends the wire protocol's subscribe request for topic.
func appendSubscribe(dst []byte, topic string) []byte {
	dst, _ = wire.AppendRequest(dst, &wire.Request{Op: wire.OpSubscribe, Topic: topic})
	return dst
}
