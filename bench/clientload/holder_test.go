//go:build linux

package clientload

import (
	"context"
	"testing"
	"time"

	"github.com/wsloop/wsloop/server"
)

// TestHoldEveryKind holds a few connections of every kind against an
// in-process wsloop with a fast heartbeat, and checks that they all stay
// up past the silence limit (so pongs came back), that the sampled
// connections carried heartbeat bytes, and that Close ends them all.
func TestHoldEveryKind(t *testing.T) {
	srv := server.New(server.Echo())
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	const n = 20
	for _, kind := range Kinds {
		t.Run(kind, func(t *testing.T) {
			h, err := New(Config{Kind: kind, URL: "ws://" + srv.Addr() + "/", Conns: n, Src: "127.0.0.2", SrcCount: 3,
				Inflight: 4, Heartbeat: 50 * time.Millisecond, HeartbeatTimeout: 50 * time.Millisecond, SampleEvery: 5})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			ok, failed, _, err := h.Connect(ctx)
			if ok != n || failed != 0 {
				t.Fatalf("connected %d, failed %d: %v", ok, failed, err)
			}
			before := h.Snapshot()
			time.Sleep(400 * time.Millisecond) // more than three silence limits (125 ms)
			s := h.Snapshot()
			if s.Alive != n || s.Ended != 0 || s.Reconnects != 0 {
				t.Errorf("after the hold: %+v", s)
			}
			if s.SampledOpen != n/5 || s.SampledSent <= before.SampledSent || s.SampledRecv <= before.SampledRecv {
				t.Errorf("sampled traffic did not grow: before %+v, after %+v", before, s)
			}
			if !h.Close(10 * time.Second) {
				t.Error("connections still open 10 s after Close")
			}
		})
	}
}

func TestConfigRefusesOtherAddresses(t *testing.T) {
	for _, c := range []Config{
		{Kind: "wsloop", URL: "ws://10.0.0.1:80/", Conns: 1},
		{Kind: "wsloop", URL: "ws://127.0.0.1:80/", Conns: 1, Src: "10.0.0.1"},
		{Kind: "nope", URL: "ws://127.0.0.1:80/", Conns: 1},
		{Kind: "gorilla", URL: "ws://127.0.0.1:80/", Conns: MaxConns + 1},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}
