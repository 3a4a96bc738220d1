package pubsub_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsloop/wsloop/pubsub"
	"github.com/wsloop/wsloop/pubsub/wire"
)

// sub is a test client of the wire protocol, on gobwas/ws's client side.
type sub struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	bin  bool
	// compressed counts messages that arrived compressed (RSV1).
	compressed int
}

// event is one server message, decoded from either form.
type event struct {
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
	Reason   string          `json:"reason"`
	Exp      int64           `json:"exp"`
	Kind     string          `json:"kind"`
	Snapshot *int            `json:"snapshot"`
}

func dialSub(t testing.TB, addr string, bin bool) *sub {
	t.Helper()
	return dialSubWith(t, addr, bin, nil)
}

// dialSubWith dials with netDial (nil: the default).
func dialSubWith(t testing.TB, addr string, bin bool, netDial func(ctx context.Context, network, addr string) (net.Conn, error), ext ...httphead.Option) *sub {
	t.Helper()
	proto := pubsub.SubprotocolJSON
	if bin {
		proto = pubsub.SubprotocolBinary
	}
	d := ws.Dialer{Protocols: []string{proto}, Timeout: 5 * time.Second, NetDial: netDial, Extensions: ext}
	conn, br, hs, err := d.Dial(context.Background(), "ws://"+addr+"/")
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if hs.Protocol != proto {
		t.Fatalf("negotiated subprotocol %q, want %q", hs.Protocol, proto)
	}
	if br == nil {
		br = bufio.NewReader(conn)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &sub{t: t, conn: conn, r: br, bin: bin}
}

func (s *sub) send(v any) {
	s.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := wsutil.WriteClientText(s.conn, b); err != nil {
		s.t.Fatalf("send: %v", err)
	}
}

// next reads one server message within d.
func (s *sub) next(d time.Duration) (event, error) {
	_ = s.conn.SetReadDeadline(time.Now().Add(d))
	for {
		h, err := ws.ReadHeader(s.r)
		if err != nil {
			return event{}, err
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(s.r, p); err != nil {
			return event{}, err
		}
		if h.Rsv1() {
			// permessage-deflate (RFC 7692 §7.2.2): the tail is restored.
			fr := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff})))
			if p, err = io.ReadAll(fr); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				return event{}, fmt.Errorf("inflate: %v", err)
			}
			s.compressed++
		}
		switch h.OpCode {
		case ws.OpText:
			var e event
			if err := json.Unmarshal(p, &e); err != nil {
				return event{}, fmt.Errorf("bad JSON %q: %v", p, err)
			}
			return e, nil
		case ws.OpBinary:
			return decodeBinary(p)
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(p)
			return event{}, &closed{code, reason}
		case ws.OpPing:
			_ = wsutil.WriteClientMessage(s.conn, ws.OpPong, p)
		}
	}
}

// must reads one message or fails the test.
func (s *sub) must(d time.Duration) event {
	s.t.Helper()
	e, err := s.next(d)
	if err != nil {
		s.t.Fatalf("read: %v", err)
	}
	return e
}

type closed struct {
	code   ws.StatusCode
	reason string
}

func (c *closed) Error() string { return fmt.Sprintf("closed %d %q", c.code, c.reason) }

// decodeBinary reads a wsloop.bin publication (any kind).
func decodeBinary(p []byte) (event, error) {
	f, ok := wire.ParseBinaryPublication(p)
	if !ok {
		return event{}, fmt.Errorf("not a binary publication: % x", p)
	}
	return event{Op: "msg", Topic: string(f.Topic), Epoch: fmt.Sprintf("%016x", f.Epoch), Seq: f.Seq,
		Key: string(f.Key), Data: json.RawMessage(f.Data), Kind: f.Kind.String()}, nil
}

// subscribe sends a subscribe and returns the "subscribed" answer.
func (s *sub) subscribe(topic string, extra map[string]any) event {
	s.t.Helper()
	req := map[string]any{"op": "subscribe", "topic": topic, "id": 1}
	for k, v := range extra {
		req[k] = v
	}
	s.send(req)
	e := s.must(5 * time.Second)
	if e.Op != "subscribed" || e.Topic != topic {
		s.t.Fatalf("subscribe %s: got %+v", topic, e)
	}
	return e
}

func since(epoch string, seq uint64) map[string]any {
	return map[string]any{"since": map[string]any{"epoch": epoch, "seq": seq}}
}

func payload(i int) []byte { return []byte(`{"i":` + strconv.Itoa(i) + `}`) }
