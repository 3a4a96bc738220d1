// Package workpool runs work items on a fixed number of goroutines while
// keeping per-owner order: every owner (a connection) has a Box, its items
// run one at a time in the order they were pushed, and different owners' items
// run in parallel on the pool's workers.
//
// There is no goroutine per owner: a mailbox with work sits on one of the
// pool's run queues (shards, picked by the owner's Box, so an owner always
// uses the same one), at most once, so the run queues never hold more
// entries than there are owners with pending work. Each worker drains its
// own shard first and steals from the others before it parks; a push
// wakes a parked worker only when there is one. Bounding the total work is
// the pusher's job: Push never blocks and reports the mailbox's length, and
// Pending/Queued give the figures a pusher needs to apply backpressure.
package workpool

import (
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Handler handles one item. It runs on a pool worker goroutine. item
// points into the pool's own storage: it is valid only until the Handler
// and the DoneFunc have returned.
type Handler[T any] func(item *T)

// DoneFunc, when given to New, runs on the worker right after an item's
// Handler returned and the item stopped counting in its owner's load; left
// is that load at that moment. It is where a pusher that paused on a full
// mailbox learns that there is room again.
type DoneFunc[T any] func(item *T, left Load)

// DefaultBatch is how many items a worker takes from one mailbox before it
// moves that mailbox to the back of the run queue, so that one busy owner
// cannot starve the others.
const DefaultBatch = 16

// Pool is a fixed set of worker goroutines draining mailboxes.
type Pool[T any] struct {
	handle Handler[T]
	done   DoneFunc[T]
	batch  int

	shards []shard[T]
	shift  uint // 64 - log2(len(shards)), for the Box hash

	parkMu sync.Mutex
	park   sync.Cond
	idle   atomic.Int32 // workers parked or about to park
	closed atomic.Bool

	queued    atomic.Int64
	nodes     sync.Pool
	mailboxes sync.Pool
	wg        sync.WaitGroup
}

// shard is one run queue of mailboxes, padded to its own cache lines so
// that pushers and workers on different shards do not share one.
type shard[T any] struct {
	mu   sync.Mutex
	head *Mailbox[T]
	tail *Mailbox[T]
	n    atomic.Int32 // mailboxes queued
	_    [64 - 8 - 8 - 8 - 4]byte
}

// New starts a pool of workers goroutines (at least 1) calling handle for
// each item and then done, if not nil. The run queue is split into as many
// shards as there are CPUs, at most one per worker (a power of two).
func New[T any](workers int, handle Handler[T], done DoneFunc[T]) *Pool[T] {
	if workers < 1 {
		workers = 1
	}
	n := 1
	for n*2 <= min(workers, runtime.GOMAXPROCS(0)) {
		n *= 2
	}
	p := &Pool[T]{handle: handle, done: done, batch: DefaultBatch, shards: make([]shard[T], n)}
	p.shift = uint(64 - bits.TrailingZeros(uint(n)))
	p.park.L = &p.parkMu
	p.nodes.New = func() any { return new(node[T]) }
	p.mailboxes.New = func() any { return new(Mailbox[T]) }
	p.wg.Add(workers)
	for i := range workers {
		go p.work(i % n)
	}
	return p
}

// shardOf picks b's shard: a Fibonacci hash of its address, so that an
// owner always queues on the same shard.
func (p *Pool[T]) shardOf(b *Box[T]) int {
	if len(p.shards) == 1 {
		return 0
	}
	return int((uint64(uintptr(unsafe.Pointer(b))) * 0x9E3779B97F4A7C15) >> p.shift)
}

// Push appends item, which weighs weight (e.g. its bytes; 0 for none), to
// b's queue and schedules it on a worker if it was idle. It never waits for
// a worker and returns b's load after the push. Safe from any goroutine, but b's order is the order of its pushes,
// so an owner normally pushes from one goroutine. Items pushed after Close
// has finished draining are dropped; owners must stop pushing before Close.
func (p *Pool[T]) Push(b *Box[T], item T, weight int64) Load {
	n := p.nodes.Get().(*node[T])
	n.item, n.weight = item, weight
	p.queued.Add(1)
	for {
		m := b.m.Load()
		if m == nil {
			m = p.mailboxes.Get().(*Mailbox[T])
			m.mu.Lock()
			m.box = b
			m.shard = p.shardOf(b)
			m.mu.Unlock()
			if !b.m.CompareAndSwap(nil, m) {
				m.mu.Lock()
				m.box = nil
				m.mu.Unlock()
				p.mailboxes.Put(m)
				continue
			}
		}
		load, schedule, ok := m.push(b, n)
		if !ok {
			// Retired by a worker since we loaded it.
			b.m.CompareAndSwap(m, nil)
			continue
		}
		if schedule {
			p.enqueue(m)
		}
		return load
	}
}

// Queued reports the number of items pushed to any mailbox and not finished.
// Safe from any goroutine.
func (p *Pool[T]) Queued() int64 {
	return p.queued.Load()
}

// Close lets the workers finish every queued item, then stops them and waits
// for them to exit. Safe from any goroutine; call it once.
func (p *Pool[T]) Close() {
	p.parkMu.Lock()
	p.closed.Store(true)
	p.park.Broadcast()
	p.parkMu.Unlock()
	p.wg.Wait()
}

// enqueue puts a mailbox that holds items at the back of its shard's run
// queue and wakes a parked worker, if any.
func (p *Pool[T]) enqueue(m *Mailbox[T]) {
	s := &p.shards[m.shard]
	s.mu.Lock()
	if s.tail == nil {
		s.head = m
	} else {
		s.tail.next = m
	}
	s.tail = m
	s.n.Add(1)
	s.mu.Unlock()
	// A worker going to park counts itself idle before it looks at the
	// shards a last time: either it sees this mailbox, or this sees it.
	if p.idle.Load() > 0 {
		p.parkMu.Lock()
		p.park.Signal()
		p.parkMu.Unlock()
	}
}

// pop takes the first mailbox of shard i, or nil.
func (p *Pool[T]) pop(i int) *Mailbox[T] {
	s := &p.shards[i]
	if s.n.Load() == 0 {
		return nil
	}
	s.mu.Lock()
	m := s.head
	if m != nil {
		s.head = m.next
		if s.head == nil {
			s.tail = nil
		}
		m.next = nil
		s.n.Add(-1)
	}
	s.mu.Unlock()
	return m
}

// next returns a runnable mailbox: from the worker's home shard, else
// stolen from another; it parks while every shard is empty, and returns
// nil once the pool is closed and empty.
func (p *Pool[T]) next(home int) *Mailbox[T] {
	for {
		for k := range p.shards {
			if m := p.pop((home + k) & (len(p.shards) - 1)); m != nil {
				return m
			}
		}
		p.parkMu.Lock()
		p.idle.Add(1)
		for !p.runnable() && !p.closed.Load() {
			p.park.Wait()
		}
		p.idle.Add(-1)
		stop := p.closed.Load() && !p.runnable()
		p.parkMu.Unlock()
		if stop {
			return nil
		}
	}
}

// runnable reports whether any shard holds a mailbox.
func (p *Pool[T]) runnable() bool {
	for i := range p.shards {
		if p.shards[i].n.Load() > 0 {
			return true
		}
	}
	return false
}

func (p *Pool[T]) work(home int) {
	defer p.wg.Done()
	var zero T
	for {
		m := p.next(home)
		if m == nil {
			return
		}
		drained := false
		for range p.batch {
			n := m.pop()
			if n == nil {
				drained = true
				break
			}
			p.handle(&n.item)
			// Weight first: a pusher that reads both sees no item
			// gone whose weight still counts.
			left := Load{Weight: m.weight.Add(-n.weight)}
			left.Items = int(m.pending.Add(-1))
			p.queued.Add(-1)
			if p.done != nil {
				p.done(&n.item, left)
			}
			n.item, n.weight = zero, 0
			p.nodes.Put(n)
		}
		if drained {
			p.mailboxes.Put(m)
		} else {
			p.enqueue(m)
		}
	}
}
