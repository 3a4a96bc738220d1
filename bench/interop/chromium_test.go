package interop

import (
	"context"
	_ "embed"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/wsloop/wsloop/server"
)

//go:embed testdata/chromium.html
var chromiumPage []byte

// TestChromium loads a page in headless Chromium (Debian's package) that
// echoes text and binary messages up to 1 MiB through wsloop, pipelines
// 100 messages, and closes with 4000; the page reports its verdict on a
// second WebSocket. The page itself is served by wsloop's HTTP hook.
func TestChromium(t *testing.T) {
	bin := "/usr/bin/chromium"
	if _, err := os.Stat(bin); err != nil {
		missing(t, "%s not found (apt-get install -y chromium)", bin)
	}
	result := make(chan string, 1)
	srv := server.New(server.HandlerFuncs{
		Open: func(c *server.Conn) { c.SetValue(c.Request().Path()) },
		Message: func(c *server.Conn, m server.Message) {
			if c.Value() != "/report" {
				_ = c.Send(m.Type, m.Data, nil)
				return
			}
			select {
			case result <- string(m.Data):
			default:
			}
		},
	}, server.WithHTTPHandler(func(req *server.Request) server.HTTPResponse {
		if req.Path() != "/" {
			return server.HTTPResponse{Status: 404}
		}
		return server.HTTPResponse{Status: 200, Header: [][2]string{{"Content-Type", "text/html; charset=utf-8"}}, Body: chromiumPage}
	}))
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})

	profile, err := os.MkdirTemp("", "wsloop-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: Chromium's helpers may still be writing there when it
	// is killed, and a failed removal must not fail the test.
	t.Cleanup(func() { _ = os.RemoveAll(profile) })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+profile, "http://"+srv.Addr()+"/")
	// Its own process group, so that the renderer and helper processes go
	// down with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	select {
	case r := <-result:
		if r != "OK" {
			t.Fatalf("chromium page: %s", r)
		}
	case <-ctx.Done():
		t.Fatal("chromium page reported nothing within 60 s")
	}
}
