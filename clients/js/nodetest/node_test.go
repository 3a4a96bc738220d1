package nodetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/wsloop/wsloop/internal/clienttest"

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
		clienttest.Missing(t, "node not found on PATH (Node >= 18 runs clients/js/test)")
	}
	if !hasWebSocket(node) {
		if _, err := os.Stat(filepath.Join(repoRoot, "bench/node_modules/ws/package.json")); err != nil {
			clienttest.Missing(t, "node has no global WebSocket and bench/node_modules/ws is missing (cd bench && npm ci)")
		}
	}
	clienttest.ReadInputs(t, nil, filepath.Join(jsDir, "src"), filepath.Join(jsDir, "test"), filepath.Join(jsDir, "testkit"))
	bin := clienttest.BuildWsloop(t, repoRoot)
	out := clienttest.Run(t, jsDir, nodeTimeout, []string{"WSLOOP_BIN=" + bin}, node, "--test", "test/")
	if testing.Verbose() {
		t.Logf("%s", out)
	}
}

// hasWebSocket reports whether node has a global WebSocket (Node >= 22).
func hasWebSocket(node string) bool {
	cmd := exec.Command(node, "-e", "process.exit(typeof WebSocket === 'function' ? 0 : 1)")
	cmd.Env = append(os.Environ(), "NODE_OPTIONS=")
	return cmd.Run() == nil
}
