package wire

import (
	"encoding/json"
	"strconv"
)

// AppendSubscribed appends the answer to a subscribe: the position the
// stream continues from (the next message has pos.Seq+1), when recovery
// was asked its outcome (RecoveryOK, RecoveryFailed or RecoverySnapshot),
// and when a snapshot follows (snapshot >= 0) how many entries it has.
func AppendSubscribed(dst []byte, id json.RawMessage, topic string, pos Position, recovery string, snapshot int) []byte {
	dst = append(dst, `{"op":"subscribed"`...)
	dst = appendID(dst, id)
	dst = appendTopicPosition(dst, topic, pos)
	if recovery != "" {
		dst = append(dst, `,"recovery":`...)
		dst = AppendJSONString(dst, recovery)
	}
	if snapshot >= 0 {
		dst = append(dst, `,"snapshot":`...)
		dst = strconv.AppendInt(dst, int64(snapshot), 10)
	}
	return append(dst, '}')
}

// AppendUnsubscribed appends the answer to an unsubscribe.
func AppendUnsubscribed(dst []byte, id json.RawMessage, topic string) []byte {
	return AppendUnsubscribedReason(dst, id, topic, "")
}

// AppendUnsubscribedReason appends an unsubscribed message with a reason
// (a Code constant) when the server ended the subscription itself, as
// CodeForbidden after a refreshed token no longer allows the topic; ""
// leaves it out.
func AppendUnsubscribedReason(dst []byte, id json.RawMessage, topic, reason string) []byte {
	dst = append(dst, `{"op":"unsubscribed"`...)
	dst = appendID(dst, id)
	dst = append(dst, `,"topic":`...)
	dst = AppendJSONString(dst, topic)
	if reason != "" {
		dst = append(dst, `,"reason":`...)
		dst = AppendJSONString(dst, reason)
	}
	return append(dst, '}')
}

// AppendPublished appends the answer to a publish: the publication's
// position.
func AppendPublished(dst []byte, id json.RawMessage, topic string, pos Position) []byte {
	dst = append(dst, `{"op":"published"`...)
	dst = appendID(dst, id)
	dst = appendTopicPosition(dst, topic, pos)
	return append(dst, '}')
}

// AppendRefreshed appends the answer to a refresh: the new token's
// expiry, in seconds since the Unix epoch.
func AppendRefreshed(dst []byte, id json.RawMessage, exp int64) []byte {
	dst = append(dst, `{"op":"refreshed"`...)
	dst = appendID(dst, id)
	dst = append(dst, `,"exp":`...)
	dst = strconv.AppendInt(dst, exp, 10)
	return append(dst, '}')
}

// AppendError appends an error answer with one of the Code constants.
func AppendError(dst []byte, id json.RawMessage, code, msg string) []byte {
	dst = append(dst, `{"op":"error"`...)
	dst = appendID(dst, id)
	dst = append(dst, `,"code":`...)
	dst = AppendJSONString(dst, code)
	dst = append(dst, `,"message":`...)
	dst = AppendJSONString(dst, msg)
	return append(dst, '}')
}

// Answer is a JSON message from the server: an answer (subscribed,
// unsubscribed, error) or, in SubprotocolJSON, a publication (msg).
type Answer struct {
	Op    string
	ID    json.RawMessage // the request's id; nil when it had none
	Topic string
	Position
	Recovery string          // subscribed: RecoveryOK, RecoveryFailed or ""
	Key      string          // msg: the publisher's key, "" when none
	Data     json.RawMessage // msg: the payload as a JSON value (a string when it was not JSON)
	Code     string          // error: one of the Code constants
	Message  string          // error: for people
	Exp      int64           // refreshed: the token's expiry, Unix seconds
	Reason   string          // unsubscribed: why the server ended it (a Code), "" when asked
	Snapshot int             // subscribed: entries of the snapshot that follows, -1 when none
	Kind     Kind            // msg: the publication's kind
}

type jsonAnswer struct {
	Op       string          `json:"op"`
	ID       json.RawMessage `json:"id"`
	Topic    string          `json:"topic"`
	Epoch    string          `json:"epoch"`
	Seq      uint64          `json:"seq"`
	Key      string          `json:"key"`
	Data     json.RawMessage `json:"data"`
	Recovery string          `json:"recovery"`
	Code     string          `json:"code"`
	Message  string          `json:"message"`
	Exp      int64           `json:"exp"`
	Reason   string          `json:"reason"`
	Snapshot *int            `json:"snapshot"`
	Kind     string          `json:"kind"`
}

// ParseAnswer parses a JSON message from the server. It reports false when
// b is not one: not a JSON object with a string "op", or, for subscribed
// and msg, without a valid epoch. ID and Data are slices of b.
func ParseAnswer(b []byte) (Answer, bool) {
	var j jsonAnswer
	if json.Unmarshal(b, &j) != nil || j.Op == "" {
		return Answer{}, false
	}
	a := Answer{Op: j.Op, ID: j.ID, Topic: j.Topic, Recovery: j.Recovery, Key: j.Key, Data: j.Data, Code: j.Code, Message: j.Message, Exp: j.Exp, Reason: j.Reason, Snapshot: -1}
	if j.Snapshot != nil {
		a.Snapshot = *j.Snapshot
	}
	if j.Op == OpMsg {
		k, ok := ParseKind(j.Kind)
		if !ok {
			return Answer{}, false
		}
		a.Kind = k
	}
	if j.Op == OpSubscribed || j.Op == OpMsg || j.Op == OpPublished {
		e, ok := ParseEpoch(j.Epoch)
		if !ok {
			return Answer{}, false
		}
		a.Position = Position{Epoch: e, Seq: j.Seq}
	}
	return a, true
}

func appendID(dst []byte, id json.RawMessage) []byte {
	if len(id) == 0 {
		return dst
	}
	dst = append(dst, `,"id":`...)
	return append(dst, id...)
}

// appendTopicPosition appends the members ,"topic":…,"epoch":"…","seq":N
// that answers and publications share.
func appendTopicPosition(dst []byte, topic string, pos Position) []byte {
	dst = append(dst, `,"topic":`...)
	dst = AppendJSONString(dst, topic)
	dst = append(dst, `,"epoch":"`...)
	dst = AppendEpoch(dst, pos.Epoch)
	dst = append(dst, `","seq":`...)
	return strconv.AppendUint(dst, pos.Seq, 10)
}
