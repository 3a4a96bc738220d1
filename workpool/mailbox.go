package workpool

import (
	"sync"
	"sync/atomic"
)

// Mailbox is one owner's FIFO of pending items (for wsloop, one per
// connection). Items pushed to a mailbox are handled in push order and never
// concurrently with each other: at most one worker drains a mailbox at a time.
//
// The zero value is an empty mailbox ready to use. A Mailbox must not be
// copied after first use. An empty mailbox holds no memory beyond its own
// fields, so an idle connection pays only for those.
type Mailbox[T any] struct {
	mu        sync.Mutex
	head      *node[T]
	tail      *node[T]
	scheduled bool        // on the run queue or being drained; guarded by mu
	pending   atomic.Int32 // pushed and not yet finished (queued + in flight)
	next      *Mailbox[T] // run-queue link; guarded by the Pool's mutex
}

type node[T any] struct {
	item T
	next *node[T]
}

// Pending reports how many items were pushed and have not finished yet,
// counting the one a worker may be handling right now. Safe from any
// goroutine.
func (m *Mailbox[T]) Pending() int {
	return int(m.pending.Load())
}

// push appends item and reports whether the mailbox must be put on the run
// queue (it was neither queued nor being drained).
func (m *Mailbox[T]) push(n *node[T]) (schedule bool) {
	m.pending.Add(1)
	m.mu.Lock()
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
	return schedule
}

// pop removes the first item. When the mailbox is empty it clears the
// scheduled flag, so the next push schedules it again, and returns nil.
func (m *Mailbox[T]) pop() *node[T] {
	m.mu.Lock()
	n := m.head
	if n == nil {
		m.scheduled = false
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
