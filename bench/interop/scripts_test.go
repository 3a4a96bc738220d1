package interop

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// systemPython is the only interpreter that sees Debian's python3-* packages;
// a python3 found first on PATH (pyenv and the like) may not.
const systemPython = "/usr/bin/python3"

const scriptTimeout = 2 * time.Minute

// runScript runs an interop script against a fresh echo server and requires
// it to print OK.
func runScript(t *testing.T, name string, args ...string) {
	t.Helper()
	runScriptURL(t, startEcho(t), name, args...)
}

// runScriptURL runs name with args and url in testdata/ and requires that
// its output ends with OK.
func runScriptURL(t *testing.T, url, name string, args ...string) {
	t.Helper()
	runCommand(t, name, append(args, url)...)
}

// runCommand runs name with args in testdata/, bounded by scriptTimeout,
// requires that its output ends with OK and returns the output.
func runCommand(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = "testdata"
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %v timed out after %v; output:\n%s", name, args, scriptTimeout, out.String())
	}
	if err != nil {
		t.Fatalf("%s %v: %v; output:\n%s", name, args, err, out.String())
	}
	if lines := strings.Fields(out.String()); len(lines) == 0 || lines[len(lines)-1] != "OK" {
		t.Fatalf("%s %v did not print OK; output:\n%s", name, args, out.String())
	}
	return out.String()
}

// needPython skips (outside CI) or fails (in CI) when /usr/bin/python3 or one
// of the given modules is missing.
func needPython(t *testing.T, modules ...string) {
	t.Helper()
	if _, err := os.Stat(systemPython); err != nil {
		missing(t, "%s not found (apt-get install python3)", systemPython)
	}
	for _, m := range modules {
		cmd := exec.Command(systemPython, "-c", "import "+m)
		if out, err := cmd.CombinedOutput(); err != nil {
			missing(t, "python module %q is not importable by %s (install the Debian package: apt-get install -y python3-websockets python3-websocket python3-twisted python3-autobahn): %v\n%s",
				m, systemPython, err, out)
		}
	}
}

func TestPythonWebsockets(t *testing.T) {
	needPython(t, "websockets")
	runScript(t, systemPython, "websockets_client.py")
}

func TestPythonWebsocketClient(t *testing.T) {
	needPython(t, "websocket")
	runScript(t, systemPython, "websocket_client_client.py")
}

func TestPythonAutobahnTwisted(t *testing.T) {
	needPython(t, "twisted.internet.reactor", "autobahn.twisted.websocket")
	runScript(t, systemPython, "autobahn_client.py")
}

func TestNodeWs(t *testing.T) {
	runScript(t, needNodeWs(t), "ws_client.js")
}

// needNodeWs returns node's path, skipping (outside CI) or failing (in CI)
// when node or bench/node_modules/ws is missing.
func needNodeWs(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node not found on PATH (apt-get install nodejs)")
	}
	// require('ws') from testdata/ resolves to bench/node_modules/ws.
	if _, err := os.Stat(filepath.Join("..", "node_modules", "ws", "package.json")); errors.Is(err, os.ErrNotExist) {
		missing(t, "bench/node_modules/ws is not installed (run `npm ci` in bench/)")
	}
	return node
}
