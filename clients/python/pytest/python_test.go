package pytest

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// systemPython is the interpreter the Python client is tested with:
// Debian's, with python3-websockets, the one CI installs packages for.
const systemPython = "/usr/bin/python3"

// root is the repository root, relative to this package.
const root = "../../.."

// Timeouts: building wsloop (warm cache: a second or two) and the Python
// tests (about five seconds; they wait for token expiries).
const (
	buildTimeout = 5 * time.Minute
	testTimeout  = 50 * time.Second
)

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
		missing(t, "%s not found (apt-get install python3)", systemPython)
	}
	if out, err := exec.Command(systemPython, "-c", "import websockets").CombinedOutput(); err != nil {
		missing(t, "%s cannot import websockets (apt-get install python3-websockets): %v %s", systemPython, err, out)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		missing(t, "go not found on PATH: cannot build wsloop")
	}
	readInputs(t)
	bin := filepath.Join(t.TempDir(), "wsloop")
	run(t, buildTimeout, nil, goTool, "build", "-o", bin, "./cmd/wsloop")
	out := run(t, testTimeout, []string{"WSLOOP_BIN=" + bin},
		systemPython, "-m", "unittest", "discover", "-s", "clients/python/tests", "-t", "clients/python")
	if strings.Contains(out, "skipped") {
		t.Logf("python tests skipped some:\n%s", out)
	}
}

// missing skips the test, or fails it when CI=true, for a missing tool.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but "+format, args...)
	}
	t.Skipf("skipping (set CI=true to make this a failure): "+format, args...)
}

// run runs name with args from the repository root and returns its output;
// it fails the test with the output if the command fails or times out.
func run(t *testing.T, timeout time.Duration, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = root
	cmd.Env = append(append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1"), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v (timeout %v); output:\n%s", name, args, err, timeout, out.String())
	}
	return out.String()
}

// readInputs reads the Python client and the Go sources of the server it
// is tested against. go test caches a passing result until a file the test
// binary opened changes; python and the go build open these, so the test
// reads them itself to have an edit of them rerun the test.
func readInputs(t *testing.T) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "__pycache__", "testdata", "bench":
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); d.Type().IsRegular() && (ext == ".go" || ext == ".py" || ext == ".mod" || ext == ".sum") {
			_, err = os.ReadFile(path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
