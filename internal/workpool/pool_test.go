package workpool

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type item struct {
	owner int
	seq   int
}

// TestPerOwnerOrder pushes interleaved items for many owners from one
// goroutine per owner and checks that each owner's items run in order and
// never two at a time, while owners run in parallel.
func TestPerOwnerOrder(t *testing.T) {
	const owners, perOwner = 64, 500
	var (
		boxes   [owners]Box[item]
		next    [owners]int
		running [owners]atomic.Int32
		failed  atomic.Value
		wg      sync.WaitGroup
	)
	wg.Add(owners * perOwner)
	p := New(8, func(it *item) {
		if running[it.owner].Add(1) != 1 {
			failed.Store("two items of one owner ran at once")
		}
		if next[it.owner] != it.seq {
			failed.Store("out of order")
		}
		next[it.owner]++
		if it.seq%97 == 0 {
			time.Sleep(50 * time.Microsecond)
		}
		running[it.owner].Add(-1)
		wg.Done()
	}, nil)
	defer p.Close()
	var pushers sync.WaitGroup
	for o := range owners {
		pushers.Add(1)
		go func() {
			defer pushers.Done()
			for s := range perOwner {
				p.Push(&boxes[o], item{o, s}, 0)
			}
		}()
	}
	pushers.Wait()
	wg.Wait()
	if f := failed.Load(); f != nil {
		t.Fatal(f)
	}
	for o := range owners {
		if next[o] != perOwner {
			t.Fatalf("owner %d ran %d items, want %d", o, next[o], perOwner)
		}
	}
	if q := p.Queued(); q != 0 {
		t.Fatalf("Queued = %d after all done", q)
	}
}

// TestPendingAndDone checks the counts a pusher uses for backpressure: Push
// returns the load (items and weight) including the item in flight, and
// DoneFunc sees it drop.
func TestPendingAndDone(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	var seen []int
	var weights []int64
	var mu sync.Mutex
	var box Box[int]
	p := New(2, func(*int) {
		select {
		case started <- struct{}{}:
		default:
		}
		<-release
	}, func(_ *int, left Load) {
		mu.Lock()
		seen = append(seen, left.Items)
		weights = append(weights, left.Weight)
		mu.Unlock()
	})
	defer p.Close()
	for i := 1; i <= 3; i++ {
		if got := p.Push(&box, i, int64(10*i)); got.Items != i || got.Weight != int64(5*i*(i+1)) {
			t.Fatalf("Push #%d returned %+v", i, got)
		}
	}
	<-started
	if got := box.Load(); got.Items != 3 || got.Weight != 60 {
		t.Fatalf("Load with one in flight and two queued = %+v, want 3 items of weight 60", got)
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for box.Pending() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	p.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 || seen[0] != 2 || seen[1] != 1 || seen[2] != 0 {
		t.Fatalf("DoneFunc saw pending %v, want [2 1 0]", seen)
	}
	if len(weights) != 3 || weights[0] != 50 || weights[1] != 30 || weights[2] != 0 {
		t.Fatalf("DoneFunc saw weights %v, want [50 30 0]", weights)
	}
}

// TestIdleBoxHoldsNothing checks that a drained box lets go of its mailbox
// and that a later push gets a working one again.
func TestIdleBoxHoldsNothing(t *testing.T) {
	var box Box[int]
	done := make(chan int, 10)
	p := New(1, func(i *int) { done <- *i }, nil)
	defer p.Close()
	for round := range 3 {
		p.Push(&box, round, 0)
		if got := <-done; got != round {
			t.Fatalf("got %d want %d", got, round)
		}
		deadline := time.Now().Add(5 * time.Second)
		for box.m.Load() != nil && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if box.m.Load() != nil {
			t.Fatal("drained box still holds a mailbox")
		}
	}
}

// TestCloseDrains checks that Close runs everything queued before it.
func TestCloseDrains(t *testing.T) {
	var n atomic.Int64
	var boxes [10]Box[int]
	p := New(3, func(*int) { n.Add(1) }, nil)
	for i := range 1000 {
		p.Push(&boxes[i%10], i, 0)
	}
	p.Close()
	if n.Load() != 1000 {
		t.Fatalf("ran %d of 1000 before Close returned", n.Load())
	}
}

func BenchmarkPush(b *testing.B) {
	b.ReportAllocs()
	var boxes [64]Box[int]
	p := New(4, func(*int) {}, nil)
	defer p.Close()
	for i := 0; b.Loop(); i++ {
		p.Push(&boxes[i&63], i, 0)
	}
}
