package wire

import (
	"encoding/json"
	"errors"
	"strconv"
)

// Request is a client's message: subscribe, unsubscribe, publish or
// refresh.
type Request struct {
	Op       string
	ID       json.RawMessage // a JSON number or string, echoed in the answer; nil when absent
	Topic    string
	Since    *Position       // subscribe: recover the messages after this position
	Conflate bool            // subscribe: latest per key while the connection is behind
	Snapshot bool            // subscribe: the current value of every key first
	Delta    string          // subscribe: DeltaFossil for keyed values as deltas ("": full values)
	Key      string          // publish: the key of the topic's state and of conflation ("" for none: not state, never conflated)
	Data     json.RawMessage // publish: the payload, a JSON value (a JSON string is published as its text)
	Token    string          // refresh: the new token
}

// RequestError is why ParseRequest refused a request: the error answer's
// code and message. ID is the request's id when it was readable.
type RequestError struct {
	Code    string
	Message string
	ID      json.RawMessage
}

func (e *RequestError) Error() string { return e.Code + ": " + e.Message }

// jsonRequest is a Request as JSON.
type jsonRequest struct {
	Op       string          `json:"op"`
	ID       json.RawMessage `json:"id,omitempty"`
	Topic    string          `json:"topic"`
	Since    *jsonPosition   `json:"since,omitempty"`
	Conflate bool            `json:"conflate,omitempty"`
	Snapshot bool            `json:"snapshot,omitempty"`
	Delta    string          `json:"delta,omitempty"`
	Key      string          `json:"key,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	Token    string          `json:"token,omitempty"`
}

type jsonPosition struct {
	Epoch string `json:"epoch"`
	Seq   uint64 `json:"seq"`
}

// ParseRequest parses a JSON request. It checks the form (a JSON object,
// an id that is a number or a string, an epoch of 16 hex digits), not the
// op or the topic, which are the server's to judge. A refusal is a
// *RequestError. The Request does not keep b.
func ParseRequest(b []byte) (Request, error) {
	var j jsonRequest
	if err := json.Unmarshal(b, &j); err != nil {
		return Request{}, &RequestError{Code: CodeBadRequest, Message: "not a JSON request object"}
	}
	if !validID(j.ID) {
		return Request{}, &RequestError{Code: CodeBadRequest, Message: "id must be a number or a string"}
	}
	r := Request{Op: j.Op, ID: j.ID, Topic: j.Topic, Conflate: j.Conflate, Snapshot: j.Snapshot, Delta: j.Delta, Key: j.Key, Data: j.Data, Token: j.Token}
	if j.Since != nil {
		e, ok := ParseEpoch(j.Since.Epoch)
		if !ok {
			return Request{}, &RequestError{Code: CodeBadPosition, Message: "since.epoch must be 16 hex digits", ID: j.ID}
		}
		r.Since = &Position{Epoch: e, Seq: j.Since.Seq}
	}
	return r, nil
}

// validID accepts an absent id, a JSON number or a JSON string.
func validID(id json.RawMessage) bool {
	if len(id) == 0 {
		return true
	}
	switch id[0] {
	case '"', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return true
	}
	return false
}

// AppendRequest's refusals.
var (
	ErrBadID   = errors.New("wire: id must be a JSON number or string")
	ErrBadData = errors.New("wire: data must be a JSON value")
)

// AppendRequest appends r as JSON. Empty fields are left out (the topic
// only in a refresh). On error dst may hold part of the request.
func AppendRequest(dst []byte, r *Request) ([]byte, error) {
	if !validID(r.ID) {
		return dst, ErrBadID
	}
	dst = append(dst, `{"op":`...)
	dst = AppendJSONString(dst, r.Op)
	if r.Topic != "" || r.Op != OpRefresh {
		dst = append(dst, `,"topic":`...)
		dst = AppendJSONString(dst, r.Topic)
	}
	if r.Since != nil {
		dst = append(dst, `,"since":{"epoch":"`...)
		dst = AppendEpoch(dst, r.Since.Epoch)
		dst = append(dst, `","seq":`...)
		dst = strconv.AppendUint(dst, r.Since.Seq, 10)
		dst = append(dst, '}')
	}
	if r.Conflate {
		dst = append(dst, `,"conflate":true`...)
	}
	if r.Snapshot {
		dst = append(dst, `,"snapshot":true`...)
	}
	if r.Delta != "" {
		dst = append(dst, `,"delta":`...)
		dst = AppendJSONString(dst, r.Delta)
	}
	if r.Key != "" {
		dst = append(dst, `,"key":`...)
		dst = AppendJSONString(dst, r.Key)
	}
	if len(r.Data) > 0 {
		if !json.Valid(r.Data) {
			return dst, ErrBadData
		}
		dst = append(dst, `,"data":`...)
		dst = append(dst, r.Data...)
	}
	if r.Token != "" {
		dst = append(dst, `,"token":`...)
		dst = AppendJSONString(dst, r.Token)
	}
	dst = appendID(dst, r.ID)
	return append(dst, '}'), nil
}
