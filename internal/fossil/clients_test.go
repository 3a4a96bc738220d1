package fossil

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/wsloop/wsloop/internal/clienttest"
)

// systemPython is the interpreter the Python client is tested with:
// Debian's, the one CI installs packages for.
const systemPython = "/usr/bin/python3"

// clientTimeout bounds one client test run; both take well under a second.
const clientTimeout = time.Minute

// TestJSClient runs the JavaScript client's Fossil tests, which apply
// testdata/vectors.json and testdata/corrupt.json.
func TestJSClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		clienttest.Missing(t, "node not found on PATH (Node >= 18 runs clients/js/test)")
	}
	clienttest.ReadInputs(t, nil, "../../clients/js/src", "../../clients/js/test", "testdata")
	clienttest.Run(t, "../../clients/js", clientTimeout, nil, node, "--test", "test/fossil.test.js")
}

// TestPythonClient runs the Python client's Fossil tests, which apply
// testdata/vectors.json and testdata/corrupt.json.
func TestPythonClient(t *testing.T) {
	if _, err := os.Stat(systemPython); err != nil {
		clienttest.Missing(t, "%s not found (apt-get install python3)", systemPython)
	}
	clienttest.ReadInputs(t, nil, "../../clients/python", "testdata")
	clienttest.Run(t, "../../clients/python", clientTimeout, nil, systemPython, "-m", "unittest", "discover", "-s", "tests", "-t", ".", "-p", "test_fossil.py")
}
