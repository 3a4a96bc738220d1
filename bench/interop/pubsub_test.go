package interop

import (
	"strconv"
	"testing"
	"time"

	"github.com/wsloop/wsloop/pubsub"
	"github.com/wsloop/wsloop/server"
)

// Clients of other stacks speak wsloop's pubsub wire protocol: they
// subscribe in both forms, lose their connection while the feed goes on,
// and recover exactly the messages they missed.

func TestPubsubPythonWebsockets(t *testing.T) {
	needPython(t, "websockets")
	runScriptURL(t, startPublishing(t, "md.py"), systemPython, "pubsub_websockets.py", "md.py")
}

func TestPubsubNodeWs(t *testing.T) {
	runScriptURL(t, startPublishing(t, "md.node"), needNodeWs(t), "pubsub_ws.js", "md.node")
}

// startPublishing serves a pubsub hub and publishes {"i":seq} on topic
// every millisecond until the test ends (at most two minutes' worth).
func startPublishing(t *testing.T, topic string) string {
	t.Helper()
	hub := pubsub.New(pubsub.WithHistory(10000, time.Minute))
	srv := server.New(hub, server.WithSubprotocols(pubsub.SubprotocolJSON, pubsub.SubprotocolBinary))
	serve(t, srv)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for i := 1; i <= 120000; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			data := []byte(`{"i":` + strconv.Itoa(i) + `}`)
			if _, err := hub.Publish(topic, "K"+strconv.Itoa(i%5), data); err != nil {
				t.Errorf("publish: %v", err)
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		_ = hub.Close()
	})
	return "ws://" + srv.Addr() + "/"
}
