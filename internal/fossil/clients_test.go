package fossil

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// systemPython is the interpreter the Python client is tested with:
// Debian's, the one CI installs packages for.
const systemPython = "/usr/bin/python3"

// clientTimeout bounds one client test run; both take well under a second.
const clientTimeout = time.Minute

// TestJSClient runs the JavaScript client's tests, which apply
// testdata/vectors.json and testdata/corrupt.json.
func TestJSClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node not found on PATH (Node >= 18 runs clients/js/test)")
	}
	runClientTest(t, "../../clients/js", node, "--test", "test/fossil.test.js")
}

// TestPythonClient runs the Python client's tests, which apply
// testdata/vectors.json and testdata/corrupt.json.
func TestPythonClient(t *testing.T) {
	if _, err := os.Stat(systemPython); err != nil {
		missing(t, "%s not found (apt-get install python3)", systemPython)
	}
	runClientTest(t, "../../clients/python", systemPython, "-m", "unittest", "discover", "-s", "tests", "-t", ".", "-p", "test_fossil.py")
}

// missing skips the test, or fails it when CI=true, for a missing tool.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but "+format, args...)
	}
	t.Skipf("skipping (set CI=true to make this a failure): "+format, args...)
}

// runClientTest runs name with args in dir and fails with the output if
// the command fails or times out.
func runClientTest(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	readInputs(t, dir, "testdata")
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "NODE_OPTIONS=")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v in %s: %v (timeout %v); output:\n%s", name, args, dir, err, clientTimeout, out.String())
	}
}

// readInputs reads every file under dirs. go test caches a passing result
// until a file the test binary opened changes; the client tests' files are
// opened by node and python, so the test reads them itself to have an edit
// of them rerun the test.
func readInputs(t *testing.T, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "__pycache__" || d.Name() == "node_modules") {
				return filepath.SkipDir
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
