//go:build linux

package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"time"
)

// fanState is one loop's fan-out bookkeeping. It belongs to the loop's
// goroutine, like the connections it describes.
type fanState struct {
	topics int
	acks   []uint16 // per connection: subscriptions answered
	// Per connection and topic (index conn*topics+topic): the last
	// payload number seen (0: none yet) and the last server sequence
	// plus one (0: unknown).
	lastN   []uint32
	lastSeq []uint64

	deliveries, gaps, dups       int64
	seqChecked, seqGaps, seqDups int64
	binaryMsgs                   int64
	subscribeReq                 [][]byte // the subscribe request of each topic
}

func newFanState(conns, topics int) *fanState {
	return &fanState{
		topics:  topics,
		acks:    make([]uint16, conns),
		lastN:   make([]uint32, conns*topics),
		lastSeq: make([]uint64, conns*topics),
	}
}

// live reports whether the connection is upgraded (subscribing or open).
func (c *conn) live() bool { return c.state == stSubscribing || c.state == stOpen }

// subscribe sends connection i's subscribe requests, all in one write.
func (l *loop) subscribe(i int) {
	f := l.fan
	if f.subscribeReq == nil {
		for _, tp := range l.e.cfg.Topics {
			f.subscribeReq = append(f.subscribeReq, appendSubscribe(nil, tp))
		}
	}
	for _, req := range f.subscribeReq {
		l.out = appendFrame(l.out, opText, req, l.mask())
	}
	l.write(i)
}

// onFanout handles one whole text or binary message on connection i: a
// subscription's answer, an error answer, or a publication. It returns
// false once the connection is gone.
func (l *loop) onFanout(i int, binaryFrame bool, p []byte) bool {
	e, f := l.e, l.fan
	c := &l.conns[i]
	if !binaryFrame {
		switch {
		case bytes.HasPrefix(p, ackPrefix):
			return l.onAck(i, p)
		case bytes.HasPrefix(p, errorPrefix):
			err := fmt.Errorf("server answered %.120s", p)
			l.drop(i, err)
			return false
		}
	}
	s, ok := ParsePublication(binaryFrame, p)
	if !ok || s.Topic >= f.topics {
		l.errors++
		l.noteRunErr(fmt.Errorf("fanout: a message that is no publication of a subscribed topic: %.60q", p))
		return true
	}
	if c.state != stOpen {
		l.errors++
		l.noteRunErr(fmt.Errorf("fanout: a publication before every subscription was answered"))
	}
	l.recv++
	l.bytesRecv += int64(len(p))
	if s.Binary {
		f.binaryMsgs++
	}
	k := i*f.topics + s.Topic
	switch last := f.lastN[k]; {
	case s.N == last+1:
	case s.N > last+1:
		f.gaps += int64(s.N - last - 1)
	default:
		f.dups++
	}
	f.lastN[k] = max(f.lastN[k], s.N)
	if s.HasSeq {
		f.seqChecked++
		if p1 := f.lastSeq[k]; p1 != 0 {
			switch last := p1 - 1; {
			case s.Seq == last+1:
			case s.Seq > last+1:
				f.seqGaps += int64(s.Seq - last - 1)
			default:
				f.seqDups++
			}
		}
		f.lastSeq[k] = max(f.lastSeq[k], s.Seq+1)
	}
	if e.trafficOn.Load() {
		now := e.unixNow()
		if now >= e.winStart && now < e.winEnd {
			f.deliveries++
		}
		if s.T >= e.winStart && s.T < e.winEnd {
			us := max((now-s.T)/1000, HistMinMicros)
			_ = l.hist.RecordValue(min(us, HistMaxMicros))
		}
	}
	return true
}

// onAck counts one subscription's answer; with all of them the connection
// is open.
func (l *loop) onAck(i int, p []byte) bool {
	f := l.fan
	c := &l.conns[i]
	topic, seq, hasSeq, ok := parseAck(p)
	idx, known := l.e.topicIdx[topic]
	if !ok || !known {
		l.drop(i, fmt.Errorf("fanout: answer for a topic not asked for: %.120s", p))
		return false
	}
	if c.state != stSubscribing {
		return true // a repeated answer: harmless
	}
	if hasSeq {
		f.lastSeq[i*f.topics+idx] = seq + 1
	}
	f.acks[i]++
	if int(f.acks[i]) == f.topics {
		c.state = stOpen
		l.pending--
		l.ok++
	}
	return true
}

// fanoutWait waits for the window, publishes it to the loops and waits
// until the stop time. It returns the measured window's length.
func (e *engine) fanoutWait(ctx context.Context, hard <-chan time.Time) (float64, error) {
	hold := time.NewTimer(e.cfg.Hold)
	defer hold.Stop()
	var w Window
	select {
	case w = <-e.cfg.Schedule:
	case <-ctx.Done():
		return 0, nil
	case <-hard:
		return 0, errDeadline
	case <-hold.C:
		return 0, errNoSchedule
	}
	e.winStart, e.winEnd = w.MeasureStart.UnixNano(), w.MeasureEnd.UnixNano()
	e.trafficOn.Store(true)
	secs := max(0, w.MeasureEnd.Sub(w.MeasureStart).Seconds())
	var stop time.Time
	select {
	case stop = <-e.cfg.Stop:
	case <-ctx.Done():
		return secs, nil
	case <-hard:
		return secs, errDeadline
	case <-hold.C:
		return secs, errNoStop
	}
	end := time.NewTimer(time.Until(stop))
	defer end.Stop()
	select {
	case <-end.C:
	case <-ctx.Done():
	case <-hard:
		return secs, errDeadline
	case <-hold.C:
		return secs, errNoStop
	}
	return secs, nil
}
