package workpool

import (
	"sync"
	"sync/atomic"
)

// Box is one owner's handle on its FIFO of pending items (for wsloop, one
// per connection). Items pushed through a Box are handled in push order and
// never concurrently with each other: at most one worker drains them at a
// time.
//
// A Box is 8 bytes and holds nothing while its owner is idle: the queue
// itself (a Mailbox) is taken from a pool on the first push and given back
// when a worker finds it drained, so a million idle owners cost a million
// nil pointers. The zero value is ready to use; a Box must not be copied
// after first use.
type Box[T any] struct {
	m atomic.Pointer[Mailbox[T]]
}

// Load is what an owner has in the pool: the items pushed and not finished
// yet, counting the one a worker may be handling right now, and the sum of
// their weights (what the pusher said each costs, e.g. bytes).
type Load struct {
	Items  int
	Weight int64
}

// Load reports b's items and their weight. It is exact when called by the
// only goroutine that pushes to b; from elsewhere it is a snapshot. Safe
// from any goroutine.
func (b *Box[T]) Load() Load {
	m := b.m.Load()
	if m == nil {
		return Load{}
	}
	m.mu.Lock()
	var l Load
	if m.box == b {
		l = Load{Items: int(m.pending.Load()), Weight: m.weight.Load()}
	}
	m.mu.Unlock()
	return l
}

// Pending reports b's items (Load().Items). Safe from any goroutine.
func (b *Box[T]) Pending() int { return b.Load().Items }

// Mailbox is the queue behind a Box while it has work. It is owned by one
// Box at a time; a drained mailbox is retired (detached from its Box) and
// recycled.
type Mailbox[T any] struct {
	mu        sync.Mutex
	box       *Box[T] // owner; nil once retired; guarded by mu
	head      *node[T]
	tail      *node[T]
	scheduled bool         // on the run queue or being drained; guarded by mu
	pending   atomic.Int32 // pushed and not yet finished (queued + in flight)
	weight    atomic.Int64 // their weights
	next      *Mailbox[T]  // run-queue link; guarded by its shard's mutex
	shard     int          // the run queue it goes on (its Box's shard)
}

type node[T any] struct {
	item   T
	weight int64
	next   *node[T]
}

// push appends n if m still belongs to b and returns m's load with it. It
// reports ok == false for a retired or recycled mailbox, and schedule ==
// true when m must be put on the run queue (it was neither queued nor
// being drained).
func (m *Mailbox[T]) push(b *Box[T], n *node[T]) (load Load, schedule, ok bool) {
	m.mu.Lock()
	if m.box != b {
		m.mu.Unlock()
		return Load{}, false, false
	}
	load = Load{Items: int(m.pending.Add(1)), Weight: m.weight.Add(n.weight)}
	if m.tail == nil {
		m.head = n
	} else {
		m.tail.next = n
	}
	m.tail = n
	if !m.scheduled {
		m.scheduled = true
		schedule = true
	}
	m.mu.Unlock()
	return load, schedule, true
}

// pop removes the first item. When the mailbox is empty (every earlier
// item has finished, since one worker drains it in sequence) it retires the
// mailbox, detaching it from its Box, and returns nil.
func (m *Mailbox[T]) pop() *node[T] {
	m.mu.Lock()
	n := m.head
	if n == nil {
		m.scheduled = false
		if b := m.box; b != nil {
			m.box = nil
			b.m.CompareAndSwap(m, nil)
		}
		m.mu.Unlock()
		return nil
	}
	m.head = n.next
	if m.head == nil {
		m.tail = nil
	}
	m.mu.Unlock()
	n.next = nil
	return n
}
