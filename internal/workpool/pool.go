// Package workpool runs work items on a fixed number of goroutines while
// keeping per-owner order: every owner (a connection) has a Box, its items
// run one at a time in the order they were pushed, and different owners' items
// run in parallel on the pool's workers.
//
// There is no goroutine per owner: a mailbox with work sits on one run queue
// shared by all workers, at most once, so the run queue never holds more
// entries than there are owners with pending work. Bounding the total work is
// the pusher's job: Push never blocks and reports the mailbox's length, and
// Pending/Queued give the figures a pusher needs to apply backpressure.
package workpool

import (
	"sync"
	"sync/atomic"
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

	mu     sync.Mutex
	cond   sync.Cond
	head   *Mailbox[T]
	tail   *Mailbox[T]
	closed bool

	queued    atomic.Int64
	nodes     sync.Pool
	mailboxes sync.Pool
	wg        sync.WaitGroup
}

// New starts a pool of workers goroutines (at least 1) calling handle for
// each item and then done, if not nil.
func New[T any](workers int, handle Handler[T], done DoneFunc[T]) *Pool[T] {
	if workers < 1 {
		workers = 1
	}
	p := &Pool[T]{handle: handle, done: done, batch: DefaultBatch}
	p.cond.L = &p.mu
	p.nodes.New = func() any { return new(node[T]) }
	p.mailboxes.New = func() any { return new(Mailbox[T]) }
	p.wg.Add(workers)
	for range workers {
		go p.work()
	}
	return p
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
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cond.Broadcast()
	p.wg.Wait()
}

// next blocks until a mailbox is runnable or the pool is closed and empty.
func (p *Pool[T]) next() *Mailbox[T] {
	p.mu.Lock()
	for p.head == nil {
		if p.closed {
			p.mu.Unlock()
			return nil
		}
		p.cond.Wait()
	}
	m := p.head
	p.head = m.next
	if p.head == nil {
		p.tail = nil
	}
	m.next = nil
	p.mu.Unlock()
	return m
}

// enqueue puts a mailbox that holds items at the back of the run queue.
func (p *Pool[T]) enqueue(m *Mailbox[T]) {
	p.mu.Lock()
	if p.tail == nil {
		p.head = m
	} else {
		p.tail.next = m
	}
	p.tail = m
	p.mu.Unlock()
	p.cond.Signal()
}

func (p *Pool[T]) work() {
	defer p.wg.Done()
	var zero T
	for {
		m := p.next()
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
