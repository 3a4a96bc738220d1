package server

import "github.com/wsloop/wsloop/poller"

// Broadcast sends one data message to every connection in conns: it is
// encoded once, and each event loop writes the same bytes to its own
// connections in one task. Per connection, order with Send is kept and the
// slow-consumer policy applies; no completion is reported. conns must come
// from this server. Safe from any goroutine; p is copied.
func (s *Server) Broadcast(t MessageType, p []byte, conns []Conn) {
	pc := make([]*poller.Conn, 0, len(conns))
	for _, c := range conns {
		if c, ok := c.(*poller.Conn); ok {
			pc = append(pc, c)
		}
	}
	s.eng.Broadcast(poller.NewFrame(t, p), pc)
}
