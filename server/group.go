package server

import "github.com/wsloop/wsloop/poller"

// Group is a set of connections that receive the same messages: a chat
// room, a topic's subscribers. Publish encodes a message once (and
// compresses it once for the members that negotiated permessage-deflate)
// and hands it to each event loop with members as one item on the loop's
// outbound queue; each loop writes it to its members, with whatever else
// is pending for a connection in the same write. Members leave by
// themselves when their connection closes, in O(1).
//
// Every method is safe from any goroutine. Messages reach each member in
// the order of the Publish, Join and Leave calls and of the connection's
// own Send calls, when the caller orders them (for example under a lock).
type Group struct{ f *poller.Fanout }

// Outgoing is a data message for one member, sent in order with a Group's
// messages: the answer to a subscription and its replay.
type Outgoing = poller.Outgoing

// Member is one connection's membership of a Group.
type Member struct{ m *poller.Member }

// NewGroup returns an empty group.
func NewGroup() *Group { return &Group{f: poller.NewFanout()} }

// Len is the number of members (joined and not yet left). Safe from any
// goroutine.
func (g *Group) Len() int { return g.f.Len() }

// Publish queues one message for every member. key, if not empty, is its
// conflation key: a member that joined with conflate and is behind (more
// than WithConflateAbove bytes unsent) gets only the newest message of each
// key. A message without a key is never conflated, and reaches such a
// member after the newest values pending for it, so the member sees every
// message in the order published. p is copied before Publish returns. Safe
// from any goroutine.
func (g *Group) Publish(t MessageType, p []byte, key string) { g.f.Publish(t, p, key) }

// Join adds c to the group, after sending it first (in order). With
// conflate, keyed messages are conflated while c is behind. It returns nil
// if c is closing or closed. Each
// Outgoing's Data is copied. Safe from any goroutine.
func (g *Group) Join(c *Conn, conflate bool, first ...Outgoing) *Member {
	m := g.f.Join(c.conn(), conflate, first...)
	if m == nil {
		return nil
	}
	return &Member{m: m}
}

// Leave removes the member, then sends last to its connection (in order
// after the member's messages). Leaving twice, or after the connection
// closed, does nothing more. Safe from any goroutine.
func (m *Member) Leave(last ...Outgoing) { m.m.Leave(last...) }
