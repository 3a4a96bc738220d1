package feed_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsloop/wsloop/feed"
	"github.com/wsloop/wsloop/server"
)

// TestPage serves the page from a real server's HTTP hook and checks that
// the hook leaves upgrades, the health check and other requests as they
// were.
func TestPage(t *testing.T) {
	srv := server.New(server.Echo(), server.WithHTTPHandler(feed.Page(nil)))
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	base := "http://" + srv.Addr()
	for _, tc := range []struct {
		method, path string
		status       int
		ctype, body  string
	}{
		{"GET", "/", 200, "text/html", `<script src="/app.js">`},
		{"GET", "/index.html", 200, "text/html", `id="gaps"`},
		{"GET", "/?x=1", 200, "text/html", `id="state"`},
		{"GET", "/app.js", 200, "text/javascript", `"wsloop.json"`},
		{"GET", "/healthz", 200, "text/plain", "ok"},
		{"GET", "/other", 426, "text/plain", "Upgrade Required"},
		{"POST", "/", 426, "text/plain", "Upgrade Required"},
	} {
		req, err := http.NewRequest(tc.method, base+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) ||
			!strings.Contains(string(body), tc.body) {
			t.Errorf("%s %s: %d %q %.80q; want %d %s containing %q", tc.method, tc.path,
				resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.status, tc.ctype, tc.body)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, _, err := ws.Dial(ctx, "ws://"+srv.Addr()+"/")
	if err != nil {
		t.Fatalf("upgrade on /: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := wsutil.WriteClientText(conn, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if got, err := wsutil.ReadServerText(conn); err != nil || string(got) != "hi" {
		t.Fatalf("echo on /: %q, %v", got, err)
	}
}
