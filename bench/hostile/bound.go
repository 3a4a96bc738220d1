package hostile

import (
	"sync"
	"time"

	"github.com/wsloop/wsloop/bench/internal/procfs"
)

// The memory one hostile peer may make wsloop hold at its defaults, and
// so the bound on the server's RSS growth during any case (each case has
// one hostile peer at a time). This is the one place the bound is
// derived:
//
//	inbound buffer gnet may hold for a paused connection     4 MiB  (WithMaxInboundBuffer)
//	the message being assembled                              16 MiB (-max-message-size)
//	the previous message, handed to the echo handler         16 MiB (the handler's m.Data; the
//	                                                                echo keeps up with every case's
//	                                                                sender, so one message waits, where
//	                                                                the README's general bound allows
//	                                                                64 + a quarter of 256 MiB)
//	outbound queue: the cap plus one message                 4 MiB + 16 MiB (-max-outbound; one
//	                                                                message is always accepted)
//	                                                         ------
//	PeerBytes                                                56 MiB of live data
//
// Go's collector lets the heap grow to twice the live data before it
// collects (GOGC=100, wsloop's default), so RSS may reach 2 × 56 MiB over
// the baseline, plus RSSSlack for the runtime's own structures, stacks
// and the buffers of the few well-behaved connections of the case.
const (
	defMaxInbound  = 4 << 20
	defMaxMessage  = maxMessage
	defMaxOutbound = 4 << 20

	PeerBytes = defMaxInbound + defMaxMessage + defMaxMessage + defMaxOutbound + defMaxMessage
	RSSSlack  = 16 << 20
	RSSBound  = 2*PeerBytes + RSSSlack // 128 MiB
)

// rssPeak samples pid's RSS every 20 ms until the returned function is
// called, which returns the peak seen.
func rssPeak(pid int) func() int64 {
	var (
		mu   sync.Mutex
		peak int64
	)
	note := func() {
		if v, err := procfs.RSS(pid); err == nil {
			mu.Lock()
			peak = max(peak, v)
			mu.Unlock()
		}
	}
	note()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				note()
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		note()
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}
