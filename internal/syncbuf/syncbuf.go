// Package syncbuf is a byte buffer that a child process's output can be
// written to from exec's goroutine while a test reads it.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer is an io.Writer whose String is safe to call while writes go on.
// The zero value is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p. Safe from any goroutine.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far. Safe from any goroutine.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
