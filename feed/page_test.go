package feed_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	jsclient "github.com/wsloop/wsloop/clients/js"
	"github.com/wsloop/wsloop/feed"
	"github.com/wsloop/wsloop/server"
)

// startPage serves the page from an echo server's HTTP hook until the
// test ends.
func startPage(t *testing.T) *server.Server {
	t.Helper()
	srv := server.New(server.Echo(), server.WithHTTPHandler(feed.Page(nil)))
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv
}

// TestPage serves the page from a real server's HTTP hook and checks that
// the hook leaves upgrades, the health check and other requests as they
// were.
func TestPage(t *testing.T) {
	srv := startPage(t)
	base := "http://" + srv.Addr()
	for _, tc := range []struct {
		method, path string
		status       int
		ctype, body  string
	}{
		{"GET", "/", 200, "text/html", `<script type="module" src="/app.js">`},
		{"GET", "/index.html", 200, "text/html", `id="gaps"`},
		{"GET", "/?x=1", 200, "text/html", `id="state"`},
		{"GET", "/app.js", 200, "text/javascript", `from "/wsloop-client/index.js"`},
		{"GET", "/wsloop-client/index.js", 200, "text/javascript", `from "./client.js"`},
		{"GET", "/wsloop-client/client.js?v=1", 200, "text/javascript", "export class Client"},
		{"GET", "/wsloop-client/fossil.js", 200, "text/javascript", "export function applyDelta"},
		{"GET", "/wsloop-client/", 404, "text/plain", "Not Found"},
		{"GET", "/wsloop-client/index.d.ts", 404, "text/plain", "Not Found"},
		{"GET", "/wsloop-client/../app.js", 404, "text/plain", "Not Found"},
		{"GET", "/wsloop-client/nope.js", 404, "text/plain", "Not Found"},
		{"GET", "/wsloop-client", 426, "text/plain", "Upgrade Required"},
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

// TestPageClientModules checks that the page serves every module of the
// JavaScript client byte for byte, with the page's JavaScript headers, and
// that every module they import (by relative path) is among them, so the
// browser can load the whole client from ClientPrefix.
func TestPageClientModules(t *testing.T) {
	srv := startPage(t)
	files := jsclient.Files()
	names, err := fs.Glob(files, "*.js")
	if err != nil || len(names) == 0 {
		t.Fatalf("jsclient.Files: %q, %v", names, err)
	}
	importRE := regexp.MustCompile(`(?m)^\s*(?:import|export)\b[^;]*?\bfrom\s+"\./([^"]+)"`)
	imports := 0
	for _, name := range names {
		want, err := fs.ReadFile(files, name)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get("http://" + srv.Addr() + feed.ClientPrefix + name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		h := resp.Header
		if resp.StatusCode != 200 || h.Get("Content-Type") != "text/javascript; charset=utf-8" ||
			h.Get("Cache-Control") != "no-cache" || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("Content-Security-Policy") == "" || !bytes.Equal(got, want) {
			t.Errorf("GET %s%s: %d %v, %d bytes; want 200 with the page's JavaScript headers and the %d bytes of src/%s",
				feed.ClientPrefix, name, resp.StatusCode, h, len(got), len(want), name)
		}
		for _, m := range importRE.FindAllSubmatch(want, -1) {
			imports++
			if !slices.Contains(names, string(m[1])) {
				t.Errorf("%s imports ./%s, which is not served", name, m[1])
			}
		}
	}
	if !slices.Contains(names, "index.js") || imports == 0 {
		t.Errorf("%d relative imports found in %q; want index.js importing the others", imports, names)
	}
}
