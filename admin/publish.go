package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/wsloop/wsloop/pubsub"
)

// MaxPublishBody is the largest body POST /publish/{topic} accepts, bytes
// (413 past it).
const MaxPublishBody = 1 << 20

// Publisher is what POST /publish/{topic} publishes through; *pubsub.Hub
// is one. Publish is called from the HTTP server's goroutines, several at
// a time, and must be safe for that; it must not retain data.
type Publisher interface {
	Publish(topic, key string, data []byte) (pubsub.Position, error)
}

// KindPublisher is a Publisher that also publishes deletes and events
// (?kind=); *pubsub.Hub is one.
type KindPublisher interface {
	PublishKind(topic string, kind pubsub.Kind, key string, data []byte) (pubsub.Position, error)
}

// publishResult is the answer to a successful publish.
type publishResult struct {
	Topic string `json:"topic"`
	Epoch string `json:"epoch"` // 16 hex digits, as in the wire protocol
	Seq   uint64 `json:"seq"`
}

// PublishHandler serves POST /publish/{topic} (mount it on
// "/publish/{topic...}" of a ServeMux, so that topics may contain '/'):
// the request body, up to MaxPublishBody bytes, is published as is on
// topic (percent-decoded), with the key of the optional query parameter
// "key" (the topic's state key and conflation key) and the kind of the
// optional "kind": "update" (the default), "delete" (the key leaves the
// topic's state; no body needed) or "event" (a keyed message that is not
// state: a trade). Answers are JSON: 200 {"topic":…,"epoch":"<16 hex>",
// "seq":N}, the message's position; otherwise {"error":…} with 400 for a
// bad topic name, a key over pubsub.MaxKeyLen bytes, an unknown kind or a
// delete without key, 405 (Allow: POST) for another method, 409 when the
// topic's state holds as many keys as allowed, 413 for a body too large
// for this endpoint or the publisher, 501 for a kind the publisher cannot
// publish, 503 when the publisher is closed or its broker fails. It is
// safe for concurrent requests.
func PublishHandler(p Publisher) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeJSONError(w, http.StatusMethodNotAllowed, "use POST")
			return
		}
		topic := r.PathValue("topic")
		if !pubsub.ValidTopic(topic) {
			writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("bad topic name %q", topic))
			return
		}
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPublishBody))
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				writeJSONError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", MaxPublishBody))
				return
			}
			writeJSONError(w, http.StatusBadRequest, "reading body: "+err.Error())
			return
		}
		key := r.URL.Query().Get("key")
		var pos pubsub.Position
		switch kind := r.URL.Query().Get("kind"); kind {
		case "", "update":
			pos, err = p.Publish(topic, key, data)
		case "delete", "event":
			kp, ok := p.(KindPublisher)
			if !ok {
				writeJSONError(w, http.StatusNotImplemented, "this publisher publishes updates only")
				return
			}
			k := pubsub.Event
			if kind == "delete" {
				k = pubsub.Delete
			}
			pos, err = kp.PublishKind(topic, k, key, data)
		default:
			writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("unknown kind %q (want update, delete or event)", kind))
			return
		}
		switch {
		case err == nil:
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(publishResult{Topic: topic, Epoch: fmt.Sprintf("%016x", pos.Epoch), Seq: pos.Seq})
		case errors.Is(err, pubsub.ErrBadTopic), errors.Is(err, pubsub.ErrBadKey):
			writeJSONError(w, http.StatusBadRequest, err.Error())
		case errors.Is(err, pubsub.ErrTooLarge):
			writeJSONError(w, http.StatusRequestEntityTooLarge, err.Error())
		case errors.Is(err, pubsub.ErrTooManyKeys):
			writeJSONError(w, http.StatusConflict, err.Error())
		case errors.Is(err, pubsub.ErrUnsupported):
			writeJSONError(w, http.StatusNotImplemented, err.Error())
		default:
			writeJSONError(w, http.StatusServiceUnavailable, err.Error())
		}
	})
}

// writeJSONError answers {"error":msg} with status.
func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
	}{msg})
}
