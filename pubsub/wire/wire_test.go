package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/wsloop/wsloop/pubsub/wire"
)

func TestRequestRoundTrip(t *testing.T) {
	for _, r := range []wire.Request{
		{Op: wire.OpSubscribe, Topic: "md.AAPL"},
		{Op: wire.OpSubscribe, Topic: "md.AAPL", ID: json.RawMessage(`7`), Conflate: true},
		{Op: wire.OpSubscribe, Topic: "md.AAPL", Snapshot: true, Delta: wire.DeltaFossil},
		{Op: wire.OpSubscribe, Topic: "t\"q", ID: json.RawMessage(`"a"`), Since: &wire.Position{Epoch: 0x9f86d081884c7d65, Seq: 41}},
		{Op: wire.OpUnsubscribe, Topic: "x", ID: json.RawMessage(`-1`)},
	} {
		b, err := wire.AppendRequest(nil, &r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := wire.ParseRequest(b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if got.Op != r.Op || got.Topic != r.Topic || got.Conflate != r.Conflate || got.Snapshot != r.Snapshot || got.Delta != r.Delta || !bytes.Equal(got.ID, r.ID) ||
			(got.Since == nil) != (r.Since == nil) || (r.Since != nil && *got.Since != *r.Since) {
			t.Errorf("%s: got %+v, want %+v", b, got, r)
		}
	}
	if _, err := wire.AppendRequest(nil, &wire.Request{Op: wire.OpSubscribe, Topic: "x", ID: json.RawMessage(`{}`)}); !errors.Is(err, wire.ErrBadID) {
		t.Errorf("object id: %v", err)
	}
}

func TestParseRequestRefusals(t *testing.T) {
	for _, tc := range []struct{ in, code, id string }{
		{`nope`, wire.CodeBadRequest, ""},
		{`[1]`, wire.CodeBadRequest, ""},
		{`{"op":"subscribe","topic":"x","id":{}}`, wire.CodeBadRequest, ""},
		{`{"op":"subscribe","topic":"x","id":3,"since":{"epoch":"12","seq":1}}`, wire.CodeBadPosition, "3"},
		{`{"op":"subscribe","topic":"x","since":{"epoch":"zzzzzzzzzzzzzzzz","seq":1}}`, wire.CodeBadPosition, ""},
	} {
		_, err := wire.ParseRequest([]byte(tc.in))
		var re *wire.RequestError
		if !errors.As(err, &re) || re.Code != tc.code || string(re.ID) != tc.id {
			t.Errorf("%s: %v, want code %s id %q", tc.in, err, tc.code, tc.id)
		}
	}
}

func TestAnswers(t *testing.T) {
	pos := wire.Position{Epoch: 0x0123456789abcdef, Seq: 42}
	for _, tc := range []struct {
		b    []byte
		want wire.Answer
	}{
		{wire.AppendSubscribed(nil, json.RawMessage(`1`), "md.AAPL", pos, wire.RecoveryOK, -1),
			wire.Answer{Op: wire.OpSubscribed, ID: json.RawMessage(`1`), Topic: "md.AAPL", Position: pos, Recovery: wire.RecoveryOK, Snapshot: -1}},
		{wire.AppendSubscribed(nil, nil, "x", pos, wire.RecoverySnapshot, 3), wire.Answer{Op: wire.OpSubscribed, Topic: "x", Position: pos, Recovery: wire.RecoverySnapshot, Snapshot: 3}},
		{wire.AppendUnsubscribed(nil, json.RawMessage(`"u"`), "x"), wire.Answer{Op: wire.OpUnsubscribed, ID: json.RawMessage(`"u"`), Topic: "x", Snapshot: -1}},
		{wire.AppendJSONPublication(nil, wire.Delete, "t", pos, "k", nil), wire.Answer{Op: wire.OpMsg, Topic: "t", Position: pos, Key: "k", Kind: wire.Delete, Snapshot: -1}},
		{wire.AppendError(nil, json.RawMessage(`3`), wire.CodeBadTopic, "invalid \"topic\""),
			wire.Answer{Op: wire.OpError, ID: json.RawMessage(`3`), Code: wire.CodeBadTopic, Message: "invalid \"topic\"", Snapshot: -1}},
		{wire.AppendJSONPublication(nil, wire.Snapshot, "md.AAPL", pos, "bid", []byte(`{"px":1.5}`)),
			wire.Answer{Op: wire.OpMsg, Topic: "md.AAPL", Position: pos, Key: "bid", Data: json.RawMessage(`{"px":1.5}`), Kind: wire.Snapshot, Snapshot: -1}},
		{wire.AppendJSONPublication(nil, wire.Publication, "t", pos, "", []byte("not json\x01")),
			wire.Answer{Op: wire.OpMsg, Topic: "t", Position: pos, Data: json.RawMessage(`"not json\u0001"`), Kind: wire.Publication, Snapshot: -1}},
	} {
		got, ok := wire.ParseAnswer(tc.b)
		if !ok || got.Op != tc.want.Op || got.Topic != tc.want.Topic || got.Position != tc.want.Position ||
			got.Recovery != tc.want.Recovery || got.Key != tc.want.Key || got.Code != tc.want.Code ||
			got.Message != tc.want.Message || got.Snapshot != tc.want.Snapshot || got.Kind != tc.want.Kind || !bytes.Equal(got.ID, tc.want.ID) || !bytes.Equal(got.Data, tc.want.Data) {
			t.Errorf("%s: got %+v (%v)", tc.b, got, ok)
		}
	}
	if _, ok := wire.ParseAnswer([]byte(`{"op":"msg","topic":"t","epoch":"1","seq":1}`)); ok {
		t.Error("a msg with a short epoch parsed")
	}
}

// TestBinaryPublication: a round trip, and every prefix of a publication
// refused, never a panic.
func TestBinaryPublication(t *testing.T) {
	pos := wire.Position{Epoch: 7, Seq: 1 << 40}
	b := wire.AppendBinaryPublication(nil, wire.Event, "md.AAPL", pos, "bid.1", []byte{0, 1, 2})
	f, ok := wire.ParseBinaryPublication(b)
	if !ok || f.Kind != wire.Event || string(f.Topic) != "md.AAPL" || f.Position != pos || string(f.Key) != "bid.1" || !bytes.Equal(f.Data, []byte{0, 1, 2}) {
		t.Fatalf("got %+v %v", f, ok)
	}
	header := 2 + len("md.AAPL") + 16 + 1 + len("bid.1")
	for i := range header {
		if _, ok := wire.ParseBinaryPublication(b[:i]); ok {
			t.Errorf("a prefix of %d bytes parsed", i)
		}
	}
	for i := header; i <= len(b); i++ {
		if f, ok := wire.ParseBinaryPublication(b[:i]); !ok || len(f.Data) != i-header {
			t.Errorf("%d bytes: %+v %v", i, f, ok)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"op":"subscribe","topic":"x","since":{"epoch":"0000000000000001","seq":1},"id":1}`))
	f.Add(wire.AppendBinaryPublication(nil, wire.Delta, "t", wire.Position{Epoch: 1, Seq: 2}, "k", []byte("d")))
	f.Add(wire.AppendJSONPublication(nil, wire.Event, "t", wire.Position{Epoch: 1, Seq: 2}, "k", []byte(`{"a":1}`)))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := wire.ParseRequest(b); err == nil {
			if _, err := wire.AppendRequest(nil, &r); err != nil {
				t.Errorf("a parsed request does not encode: %v", err)
			}
		}
		_, _ = wire.ParseAnswer(b)
		if f, ok := wire.ParseBinaryPublication(b); ok && len(f.Topic)+len(f.Key)+len(f.Data)+19 != len(b) {
			t.Errorf("lengths do not add up: %+v of %d bytes", f, len(b))
		}
	})
}

func BenchmarkAppendBinaryPublication(b *testing.B) {
	b.ReportAllocs()
	dst := make([]byte, 0, 256)
	data := bytes.Repeat([]byte{'x'}, 100)
	for range b.N {
		dst = wire.AppendBinaryPublication(dst[:0], wire.Publication, "md.AAPL", wire.Position{Epoch: 1, Seq: 2}, "bid", data)
	}
}

func BenchmarkAppendJSONPublication(b *testing.B) {
	b.ReportAllocs()
	dst := make([]byte, 0, 256)
	data := []byte(`{"px":101.5,"qty":300,"side":"bid","lvl":1}`)
	for range b.N {
		dst = wire.AppendJSONPublication(dst[:0], wire.Publication, "md.AAPL", wire.Position{Epoch: 1, Seq: 2}, "bid", data)
	}
}
