package client_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsloop/wsloop/client"
)

// The seeds' "many clients from a thread pool": N connections, driven by
// a few worker goroutines that take jobs from a queue and may use any
// connection.
func TestPoolOfClients(t *testing.T) {
	srv := startEcho(t, "127.0.0.1:0")
	const N, workers, perClient = 200, 8, 20
	type slot struct {
		c    *client.Client
		mu   sync.Mutex
		seen map[int]int
	}
	slots := make([]*slot, N)
	var received atomic.Int64
	for i := range slots {
		s := &slot{seen: make(map[int]int)}
		c, err := client.Dial(context.Background(), "ws://"+srv.Addr()+"/",
			client.OnMessage(func(_ *client.Client, m client.Message) {
				// "client/job"; check it came back on the right client.
				who, job, _ := strings.Cut(string(m.Data), "/")
				n, _ := strconv.Atoi(job)
				s.mu.Lock()
				if who == strconv.Itoa(i) {
					s.seen[n]++
				} else {
					s.seen[-1]++
				}
				s.mu.Unlock()
				received.Add(1)
			}))
		if err != nil {
			t.Fatal(err)
		}
		s.c = c
		slots[i] = s
		t.Cleanup(func() { _ = c.Close() })
	}

	type job struct{ client, n int }
	jobs := make(chan job, 64)
	var sendErrs, doneErrs atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var buf []byte
			for j := range jobs {
				buf = fmt.Appendf(buf[:0], "%d/%d", j.client, j.n)
				if err := slots[j.client].c.Send(client.Text, buf, func(err error) {
					if err != nil {
						doneErrs.Add(1)
					}
				}); err != nil {
					sendErrs.Add(1)
				}
			}
		})
	}
	start := time.Now()
	for n := range perClient {
		for i := range N {
			jobs <- job{i, n}
		}
	}
	close(jobs)
	wg.Wait()
	waitFor(t, "every echo", 10*time.Second, func() bool { return received.Load() == N*perClient })
	t.Logf("%d messages over %d clients from %d workers in %v", N*perClient, N, workers, time.Since(start))
	if sendErrs.Load()+doneErrs.Load() != 0 {
		t.Fatalf("send errors %d, completion errors %d", sendErrs.Load(), doneErrs.Load())
	}
	for i, s := range slots {
		s.mu.Lock()
		for n := range perClient {
			if s.seen[n] != 1 {
				t.Fatalf("client %d job %d echoed %d times (misrouted %d)", i, n, s.seen[n], s.seen[-1])
			}
		}
		s.mu.Unlock()
	}
}
