package server_test

import (
	"testing"

	"github.com/gobwas/ws"
	"github.com/wsloop/wsloop/server"
)

// TestNoOpenKeepsAgreement checks that a handler without OnOpen (which the
// server then skips, with no hand-off to a worker) still sees what the
// upgrade settled: the subprotocol, and the request with WithKeepRequest.
// Inline handlers and the pool alike.
func TestNoOpenKeepsAgreement(t *testing.T) {
	for _, inline := range []bool{false, true} {
		for _, keep := range []bool{false, true} {
			got := make(chan [2]string, 1)
			h := server.HandlerFuncs{Message: func(c *server.Conn, m server.Message) {
				path := ""
				if r := c.Request(); r != nil {
					path = r.Path()
				}
				got <- [2]string{c.Subprotocol(), path}
			}}
			opts := []server.Option{server.WithSubprotocols("b", "a"), server.WithKeepRequest(keep)}
			if inline {
				opts = append(opts, server.WithInlineHandlers())
			}
			_, addr := startAPI(t, h, opts...)
			c := dialRequest(t, addr, "/room", "Sec-WebSocket-Protocol: a, b")
			c.mustWrite(encode(true, 0, ws.OpText, []byte("x")))
			v := recv(t, got, readTimeout, "OnMessage")
			want := [2]string{"a", ""} // the client's first offer the server speaks
			if keep {
				want[1] = "/room"
			}
			if v != want {
				t.Errorf("inline=%v keep=%v: subprotocol, request path = %q, want %q", inline, keep, v, want)
			}
		}
	}
}
