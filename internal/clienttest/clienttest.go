// Package clienttest runs the Python and JavaScript clients' suites from
// go test (make test): the tools they need, the command, and go test's
// cache. Its functions are for tests only; they fail or skip the calling
// test.
package clienttest

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
)

// Missing skips the test, or fails it when CI=true, for a missing tool.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but "+format, args...)
	}
	t.Skipf("skipping (set CI=true to make this a failure): "+format, args...)
}

// Run runs name with args in dir, with env added to the environment (and
// neither Python bytecode written nor NODE_OPTIONS inherited), and returns
// its output; it fails the test with the output if the command fails or
// runs past timeout.
func Run(t testing.TB, dir string, timeout time.Duration, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "NODE_OPTIONS="), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v in %s: %v (timeout %v); output:\n%s", name, args, dir, err, timeout, out.String())
	}
	return out.String()
}

// BuildWsloop builds cmd/wsloop of the module at root into the test's
// temporary directory and returns the binary's path.
func BuildWsloop(t testing.TB, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wsloop")
	Run(t, root, 5*time.Minute, nil, filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "./cmd/wsloop")
	return bin
}

// ReadInputs reads the regular files under dirs that keep accepts (nil:
// all), skipping .git, node_modules and __pycache__ directories. go test
// caches a passing result until a file the test binary opened changes;
// the suites' files are opened by node, python or go build, so reading
// them here has an edit of them rerun the test.
func ReadInputs(t testing.TB, keep func(path string) bool, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				switch d.Name() {
				case ".git", "node_modules", "__pycache__":
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() && (keep == nil || keep(path)) {
				_, err = os.ReadFile(path)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
