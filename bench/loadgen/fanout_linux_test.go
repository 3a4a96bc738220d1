//go:build linux

package loadgen

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// pubServer is a small topic server for the tests: gorilla/websocket
// connections subscribe with the wire protocol's JSON request; POST
// /publish/{topic} sends the body to every subscriber in the form its
// subprotocol asks for: wsloop.bin (binary header), wsloop.json (JSON
// envelope) or none (the body as it is). Its answers carry a position
// only in the wsloop forms, like wsloop and unlike the peers. It refuses
// the topic "refused" with an error answer.
type pubServer struct {
	mu   sync.Mutex
	subs map[string][]*subConn
	seq  map[string]uint64
	// skip, when > 0, makes the server leave out every skip-th
	// publication of each topic (to test gap counting).
	skip uint64
}

type subConn struct {
	mu    sync.Mutex
	c     *websocket.Conn
	proto string
}

func (s *subConn) write(mt int, p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.c.WriteMessage(mt, p)
}

func startPubServer(t *testing.T, skip uint64) (*pubServer, string) {
	t.Helper()
	ps := &pubServer{subs: map[string][]*subConn{}, seq: map[string]uint64{}, skip: skip}
	up := websocket.Upgrader{Subprotocols: []string{"wsloop.bin", "wsloop.json"}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /publish/{topic}", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ps.publish(r.PathValue("topic"), body)
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		sc := &subConn{c: c, proto: c.Subprotocol()}
		defer c.Close()
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			var req struct{ Op, Topic string }
			if json.Unmarshal(msg, &req) != nil || req.Op != "subscribe" || req.Topic == "refused" {
				sc.write(websocket.TextMessage, []byte(`{"op":"error","code":"bad_request","message":"x"}`))
				continue
			}
			ps.mu.Lock()
			ps.subs[req.Topic] = append(ps.subs[req.Topic], sc)
			seq := ps.seq[req.Topic]
			ps.mu.Unlock()
			ack := fmt.Sprintf(`{"op":"subscribed","topic":%q}`, req.Topic)
			if sc.proto != "" {
				ack = fmt.Sprintf(`{"op":"subscribed","topic":%q,"epoch":"00000000000000aa","seq":%d}`, req.Topic, seq)
			}
			sc.write(websocket.TextMessage, []byte(ack))
		}
	})
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ps, ln.Addr().String()
}

func (ps *pubServer) publish(topic string, data []byte) {
	ps.mu.Lock()
	ps.seq[topic]++
	seq := ps.seq[topic]
	subs := append([]*subConn(nil), ps.subs[topic]...)
	ps.mu.Unlock()
	if ps.skip > 0 && seq%ps.skip == 0 {
		return
	}
	for _, s := range subs {
		switch s.proto {
		case "wsloop.bin":
			m := []byte{0x01, byte(len(topic))}
			m = append(m, topic...)
			m = binary.BigEndian.AppendUint64(m, 0xaa)
			m = binary.BigEndian.AppendUint64(m, seq)
			m = append(m, 0)
			s.write(websocket.BinaryMessage, append(m, data...))
		case "wsloop.json":
			m := `{"op":"msg","topic":` + strconv.Quote(topic) + `,"epoch":"00000000000000aa","seq":` +
				strconv.FormatUint(seq, 10) + `,"data":` + string(data) + `}`
			s.write(websocket.TextMessage, []byte(m))
		default:
			s.write(websocket.TextMessage, data)
		}
	}
}

// runFanout subscribes conns connections to topics, publishes at rate for
// the window and returns the subscribers' result and the publisher's.
func runFanout(t *testing.T, addr, proto, src string, conns int, topics []string, rate float64) (*Result, PublishResult) {
	t.Helper()
	windows, stop := make(chan Window, 1), make(chan time.Time, 1)
	var pub PublishResult
	var pubErr error
	done := make(chan struct{})
	cfg := Config{
		Addr: addr, Conns: conns, Mode: ModeFanout, Topics: topics, Subprotocol: proto, Src: src,
		Schedule: windows, Stop: stop, Hold: 20 * time.Second, Log: logTo(t),
		Ready: func(ok, failed int, _ float64) {
			if ok != conns || failed != 0 {
				t.Errorf("ready: %d connected, %d failed", ok, failed)
			}
			start := time.Now().Add(50 * time.Millisecond)
			w := Window{MeasureStart: start.Add(200 * time.Millisecond), MeasureEnd: start.Add(time.Second)}
			windows <- w
			go func() {
				defer close(done)
				pub, pubErr = Publish(context.Background(), PublishConfig{
					Endpoints: []string{addr}, Topics: topics, Size: 100, Rate: rate,
					Start: start, End: w.MeasureEnd,
					// What is tested is the counting, not the publisher's
					// punctuality: a publication due just before End still
					// goes out on a loaded machine (under -race, beside the
					// other packages) instead of being skipped.
					Cutoff: w.MeasureEnd.Add(5 * time.Second),
				})
				stop <- time.Now().Add(500 * time.Millisecond)
			}()
		},
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	<-done
	if pubErr != nil || pub.Errors != 0 {
		t.Fatalf("publisher: %+v %v", pub, pubErr)
	}
	return res, pub
}

func TestFanoutForms(t *testing.T) {
	topics := []string{"t0", "t1", "t2"}
	for _, proto := range []string{"", "wsloop.json", "wsloop.bin"} {
		t.Run("form="+proto, func(t *testing.T) {
			_, addr := startPubServer(t, 0)
			const conns = 40
			res, pub := runFanout(t, addr, proto, "127.0.0.100", conns, topics, 300)
			h, err := res.Histogram()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d publications, %d received, %d in window, p50 %dµs p99 %dµs, seq checked %d",
				proto, pub.Publications, res.MsgsRecv, res.Deliveries, h.ValueAtQuantile(50), h.ValueAtQuantile(99), res.SeqChecked)
			if pub.Publications < 250 || pub.Posts != pub.Publications || pub.Posted != pub.Publications || pub.Skipped != 0 {
				t.Fatalf("publisher: %+v", pub)
			}
			if want := pub.Publications * conns; res.MsgsRecv != want {
				t.Fatalf("received %d, want %d (publications × subscribers)", res.MsgsRecv, want)
			}
			if res.Gaps != 0 || res.Dups != 0 || res.SeqGaps != 0 || res.SeqDups != 0 || res.Errors != 0 {
				t.Fatalf("gaps/dups/errors: %+v", res)
			}
			if res.Deliveries == 0 || res.Deliveries > res.MsgsRecv || h.TotalCount() == 0 || h.ValueAtQuantile(50) <= 0 {
				t.Fatalf("window figures: deliveries %d, latencies %d", res.Deliveries, h.TotalCount())
			}
			if res.DurationSeconds < 0.79 || res.DurationSeconds > 0.81 {
				t.Fatalf("window %.3fs, want 0.8s", res.DurationSeconds)
			}
			switch proto {
			case "":
				if res.SeqChecked != 0 || res.BinaryMsgs != 0 {
					t.Fatalf("raw form: seq checked %d, binary %d", res.SeqChecked, res.BinaryMsgs)
				}
			case "wsloop.json":
				if res.SeqChecked != res.MsgsRecv || res.BinaryMsgs != 0 {
					t.Fatalf("json form: seq checked %d of %d, binary %d", res.SeqChecked, res.MsgsRecv, res.BinaryMsgs)
				}
			case "wsloop.bin":
				if res.SeqChecked != res.MsgsRecv || res.BinaryMsgs != res.MsgsRecv {
					t.Fatalf("binary form: seq checked %d, binary %d of %d", res.SeqChecked, res.BinaryMsgs, res.MsgsRecv)
				}
			}
		})
	}
}

func TestFanoutCountsGaps(t *testing.T) {
	_, addr := startPubServer(t, 10) // every 10th publication of a topic is lost
	res, pub := runFanout(t, addr, "wsloop.bin", "127.0.0.110", 5, []string{"t0"}, 100)
	lost := pub.Publications / 10
	// A loss at the very end is no gap (nothing follows it).
	if res.Gaps < 5*(lost-1) || res.Gaps > 5*lost || res.SeqGaps != res.Gaps || res.Dups != 0 {
		t.Fatalf("%d publications, every 10th lost: gaps %d, seq gaps %d, dups %d", pub.Publications, res.Gaps, res.SeqGaps, res.Dups)
	}
}

func TestFanoutRefusals(t *testing.T) {
	_, addr := startPubServer(t, 0)
	res, err := Run(context.Background(), Config{Addr: addr, Conns: 4, Mode: ModeFanout, Topics: []string{"t0", "refused"},
		Src: "127.0.0.115", Schedule: make(chan Window), Stop: make(chan time.Time), Hold: 100 * time.Millisecond})
	if err != nil || res.ConnsOK != 0 || res.ConnsFailed != 4 {
		t.Fatalf("refused subscription: %+v %v", res, err)
	}
	if _, err := Run(context.Background(), Config{Addr: addr, Conns: 1, Mode: ModeFanout, Topics: []string{`a"b`}, Schedule: make(chan Window), Stop: make(chan time.Time)}); err == nil {
		t.Fatal("a topic with a quote was accepted")
	}
	if _, err := Run(context.Background(), Config{Addr: addr, Conns: 1, Mode: ModeFanout, Topics: []string{"t0"}}); err == nil {
		t.Fatal("fanout without a schedule was accepted")
	}
	// No window ever comes: the run ends at the hold with an error.
	start := time.Now()
	res, err = Run(context.Background(), Config{Addr: addr, Conns: 3, Mode: ModeFanout, Topics: []string{"t0"},
		Src: "127.0.0.120", Schedule: make(chan Window), Stop: make(chan time.Time), Hold: 300 * time.Millisecond})
	if err == nil || res.ConnsOK != 3 || time.Since(start) > 5*time.Second {
		t.Fatalf("no window: %+v %v after %v", res, err, time.Since(start))
	}
}
