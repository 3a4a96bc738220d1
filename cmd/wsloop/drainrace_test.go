package main

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"os"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsloop/wsloop/server"
)

// TestDrainRace reproduces a defect of poller.Engine.Shutdown, reported
// for the poller's owner (it fails; run it with WSLOOP_REPRO_DRAIN_RACE=1):
// a connection whose upgrade completes at about the moment Shutdown begins
// gets neither the answer to its first message nor the 1001 close frame;
// it stays silent until the close timeout and is then dropped without a
// close frame. Here 50 clients each dial, send one message and wait 1.5 s
// for the echo or a close frame, in a loop, while the server shuts down.
// It is what makes a few clients of a -procs rolling restart wait for
// their own read timeout before reconnecting.
func TestDrainRace(t *testing.T) {
	if os.Getenv("WSLOOP_REPRO_DRAIN_RACE") == "" {
		t.Skip("reproduces a known poller defect; set WSLOOP_REPRO_DRAIN_RACE=1")
	}
	for round := 0; round < 20; round++ {
		srv := server.New(server.Echo(), server.WithCloseTimeout(3*time.Second))
		if err := srv.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		addr := srv.Addr()
		var stuck, closed, refused, echoed atomic.Int64
		var wg sync.WaitGroup
		stopDial := make(chan struct{})
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stopDial:
						return
					default:
					}
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					conn, _, _, err := ws.Dial(ctx, "ws://"+addr+"/")
					cancel()
					if err != nil {
						refused.Add(1)
						time.Sleep(time.Millisecond)
						continue
					}
					_ = conn.SetDeadline(time.Now().Add(1500 * time.Millisecond))
					_ = wsutil.WriteClientText(conn, []byte("hi"))
					_, err = wsutil.ReadServerText(conn)
					var ce wsutil.ClosedError
					switch {
					case err == nil:
						echoed.Add(1)
					case errors.As(err, &ce):
						closed.Add(1)
					default:
						stuck.Add(1)
					}
					conn.Close()
				}
			}()
		}
		time.Sleep(50 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		go func() { time.Sleep(2500 * time.Millisecond); close(stopDial) }()
		start := time.Now()
		err := srv.Shutdown(ctx)
		cancel()
		took := time.Since(start)
		wg.Wait()
		if stuck.Load() > 0 {
			t.Errorf("round %d: shutdown %v (%v); echoed %d closed %d refused %d stuck %d", round, took, err, echoed.Load(), closed.Load(), refused.Load(), stuck.Load())
		}
	}
}
