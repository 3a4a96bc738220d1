package hostile

import (
	"fmt"
	"time"
)

// The handshake timeout the suite expects: wsloop's default
// (-handshake-timeout 10s). It must never fire early; the server may take
// a little longer than this to act on it.
const (
	handshakeTimeout = 10 * time.Second
	handshakeLate    = 3 * time.Second
)

// slowlorisCase: a head that never ends, one byte at a time.
func slowlorisCase() *Case {
	return &Case{
		Name: "slowloris head", Class: ClassHandshake, Long: true, Budget: 30 * time.Second,
		Does: "a head that never ends: one more byte every 500 ms",
		Want: fmt.Sprintf("TCP closed by the handshake timeout: not before %v, within %v", handshakeTimeout, handshakeTimeout+handshakeLate),
		RFC:  "RFC 9112 §9.5 (a server may close a connection it times out); the timeout is wsloop's -handshake-timeout",
		Run: func(e *Env) Result {
			c, err := Dial(e.Addr())
			if err != nil {
				return other("dial: %v", err)
			}
			defer c.Close()
			start := time.Now()
			ended := make(chan string, 1)
			go func() {
				resp, err := c.ReadResponse(handshakeTimeout + handshakeLate + 2*time.Second)
				if err == nil {
					err = c.ExpectEOF(time.Second)
					ended <- fmt.Sprintf("answered %s", statusDesc(resp))
					return
				}
				ended <- endOf(err, handshakeTimeout+handshakeLate+2*time.Second)
			}()
			_ = c.Send([]byte("GET /hostile HTTP/1.1\r\nHost: "+e.Addr()+"\r\nX-Slow: "), ioTimeout)
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case how := <-ended:
					took := time.Since(start)
					switch {
					case took < handshakeTimeout:
						return other("%s after %.2f s: before the %v timeout", how, took.Seconds(), handshakeTimeout)
					case took > handshakeTimeout+handshakeLate:
						return other("%s only after %.2f s", how, took.Seconds())
					}
					return pass("%s after %.2f s", how, took.Seconds())
				case <-tick.C:
					if time.Since(start) > handshakeTimeout+handshakeLate+time.Second {
						return other("still open after %.0f s: no handshake timeout", time.Since(start).Seconds())
					}
					_ = c.Send([]byte("a"), ioTimeout)
				}
			}
		},
	}
}
