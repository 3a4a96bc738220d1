package nodetest

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	// The server's packages, imported for go test's cache only: a change
	// to them changes this test binary and so reruns the test, which
	// builds cmd/wsloop from them.
	_ "github.com/wsloop/wsloop/admin"
	_ "github.com/wsloop/wsloop/pubsub"
)

// jsDir is the client package; repoRoot the module the wsloop binary is
// built from.
const (
	jsDir    = ".."
	repoRoot = "../../.."
)

// nodeTimeout bounds the whole node --test run (it takes under 10 s).
const nodeTimeout = 50 * time.Second

// TestJSClient runs node --test test/ in clients/js against a wsloop
// built from this tree.
func TestJSClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node not found on PATH (Node >= 18 runs clients/js/test)")
	}
	if !hasWebSocket(t, node) {
		if _, err := os.Stat(filepath.Join(repoRoot, "bench/node_modules/ws/package.json")); err != nil {
			missing(t, "node has no global WebSocket and bench/node_modules/ws is missing (cd bench && npm ci)")
		}
	}
	readInputs(t, filepath.Join(jsDir, "src"), filepath.Join(jsDir, "test"), filepath.Join(jsDir, "testkit"))

	bin := filepath.Join(t.TempDir(), "wsloop")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	build := exec.Command(goTool, "build", "-o", bin, "./cmd/wsloop")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/wsloop: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), nodeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "test/")
	cmd.Dir = jsDir
	cmd.Env = append(os.Environ(), "WSLOOP_BIN="+bin, "NODE_OPTIONS=")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("node --test test/ in clients/js: %v (timeout %v); output:\n%s", err, nodeTimeout, out.String())
	}
	if testing.Verbose() {
		t.Logf("%s", out.String())
	}
}

// hasWebSocket reports whether node has a global WebSocket (Node >= 22).
func hasWebSocket(t *testing.T, node string) bool {
	t.Helper()
	cmd := exec.Command(node, "-e", "process.exit(typeof WebSocket === 'function' ? 0 : 1)")
	cmd.Env = append(os.Environ(), "NODE_OPTIONS=")
	return cmd.Run() == nil
}

// missing skips the test, or fails it when CI=true, for a missing tool.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but "+format, args...)
	}
	t.Skipf("skipping (set CI=true to make this a failure): "+format, args...)
}

// readInputs reads every file under dirs: go test caches a passing result
// until a file the test binary opened changes, and node opens these, so
// reading them here has an edit of them rerun the test.
func readInputs(t *testing.T, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				_, err = os.ReadFile(path)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
