package interop

import (
	"strings"
	"testing"

	"github.com/wsloop/wsloop/server"
)

// TestAutobahnSmallWindow runs testdata/autobahn_window_client.py: Twisted +
// autobahn offering permessage-deflate as Autobahn|Testsuite's cases 13.3
// and 13.5 do, with server_max_window_bits=8 (RFC 7692 §7.1.2.1). The
// server must answer server_max_window_bits=8 and compress its echoes so
// that zlib at a 256-byte window inflates them; the client checks each echo
// and closes with 1000.
func TestAutobahnSmallWindow(t *testing.T) {
	needPython(t, "twisted.internet.reactor", "autobahn.twisted.websocket")
	for _, c := range []string{"13.3", "13.5"} {
		t.Run(c, func(t *testing.T) {
			url := startServer(t, server.WithCompression(1, 0))
			out := runCommand(t, systemPython, "autobahn_window_client.py", c, url)
			t.Logf("client:\n%s", strings.TrimSpace(out))
		})
	}
}
