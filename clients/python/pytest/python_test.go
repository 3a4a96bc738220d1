package pytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsloop/wsloop/internal/clienttest"
)

// systemPython is the interpreter the Python client is tested with:
// Debian's, with python3-websockets, the one CI installs packages for.
const systemPython = "/usr/bin/python3"

// root is the repository root, relative to this package.
const root = "../../.."

// testTimeout bounds the Python tests (about five seconds; they wait for
// token expiries).
const testTimeout = 50 * time.Second

// TestPythonClient builds cmd/wsloop and runs the Python client's unittest
// suite from the repository root, as documented in clients/python/README.md:
//
//	/usr/bin/python3 -m unittest discover -s clients/python/tests -t clients/python
//
// The suite starts the binary (WSLOOP_BIN) on loopback ports. Without
// /usr/bin/python3 or its websockets package the test is skipped, or fails
// when CI=true.
func TestPythonClient(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the Python client's tests")
	}
	if _, err := os.Stat(systemPython); err != nil {
		clienttest.Missing(t, "%s not found (apt-get install python3)", systemPython)
	}
	if out, err := exec.Command(systemPython, "-c", "import websockets").CombinedOutput(); err != nil {
		clienttest.Missing(t, "%s cannot import websockets (apt-get install python3-websockets): %v %s", systemPython, err, out)
	}
	// The Python client and the Go sources of the server it is tested
	// against (bench/ and testdata aside).
	clienttest.ReadInputs(t, func(path string) bool {
		switch filepath.Ext(path) {
		case ".go", ".py", ".mod", ".sum":
			return !strings.Contains(path, "/testdata/") && !strings.HasPrefix(path, filepath.Join(root, "bench")+"/")
		}
		return false
	}, root)
	bin := clienttest.BuildWsloop(t, root)
	out := clienttest.Run(t, root, testTimeout, []string{"WSLOOP_BIN=" + bin},
		systemPython, "-m", "unittest", "discover", "-s", "clients/python/tests", "-t", "clients/python")
	if strings.Contains(out, "skipped") {
		t.Logf("python tests skipped some:\n%s", out)
	}
}
