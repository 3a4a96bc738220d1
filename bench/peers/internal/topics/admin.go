package topics

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
)

// MaxPublish is the largest publication body the endpoint accepts.
const MaxPublish = 1 << 20

// PublishFunc delivers data to topic's subscribers and returns how many
// there were. It is called from the HTTP server's goroutines, one request
// at a time per keep-alive connection.
type PublishFunc func(topic string, data []byte) int

// ServeAdmin listens on addr and serves POST /publish/{topic} (the body is
// the publication) with publish in the background: 200 and
// {"topic":…,"subscribers":N}; 400 for a bad topic, 413 for a body over
// MaxPublish, 405 for another method. It returns once the listener is
// bound; close the returned listener to stop.
func ServeAdmin(addr string, publish PublishFunc) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /publish/{topic}", func(w http.ResponseWriter, r *http.Request) {
		topic := r.PathValue("topic")
		if !ValidTopic(topic) {
			http.Error(w, "bad topic", http.StatusBadRequest)
			return
		}
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPublish))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "publication too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
			return
		}
		n := publish(topic, data)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"topic":`+strconv.Quote(topic)+`,"subscribers":`+strconv.Itoa(n)+"}\n")
	})
	srv := &http.Server{Handler: mux, ErrorLog: log.Default()}
	go func() { _ = srv.Serve(ln) }()
	return ln, nil
}
