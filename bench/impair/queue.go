package impair

// bufSize holds any packet of the link (MTU 1500) with room to spare.
const bufSize = 2048

// packet is one IP packet waiting for its release time.
type packet struct {
	buf *[bufSize]byte
	n   int
	at  int64  // release time, nanoseconds since the forwarder's start
	seq uint64 // admission order: ties on at are released FIFO
}

func (p *packet) bytes() []byte { return p.buf[:p.n] }

// packetQueue is a min-heap of packets by (at, seq). It is a hand-written
// heap of values so that pushing and popping allocate nothing once the
// slice has grown. Not safe for concurrent use.
type packetQueue []packet

func (q packetQueue) less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}

func (q *packetQueue) push(p packet) {
	*q = append(*q, p)
	h := *q
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

// pop removes and returns the earliest packet; the queue must not be
// empty.
func (q *packetQueue) pop() packet {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = packet{}
	h = h[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h.less(l, m) {
			m = l
		}
		if r < len(h) && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}
