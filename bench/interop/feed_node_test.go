package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// npmTimeout bounds `npm ci` in bench/.
const npmTimeout = 5 * time.Minute

// needPlaywright returns the path of node once bench/node_modules holds the
// playwright-core version that bench/package.json pins, running `npm ci` in
// bench/ (as .ci/run does) when it does not. It skips (outside CI) or fails
// (in CI) when node or npm is missing or the install fails.
func needPlaywright(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node not found on PATH (apt-get install nodejs)")
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	major, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(string(out)), "v"), ".")
	if n, err := strconv.Atoi(major); err != nil || n < 20 {
		missing(t, "node %s is too old for playwright-core (it needs node 20 or later)", bytes.TrimSpace(out))
	}
	want := pinnedNodePackage(t, "playwright-core")
	if installedNodePackage("playwright-core") == want {
		return node
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		missing(t, "bench/node_modules/playwright-core %s is not installed and npm is not on PATH (apt-get install npm)", want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), npmTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = ".."
	cmd.WaitDelay = 5 * time.Second
	t.Logf("installing bench/node_modules (playwright-core %s): npm ci", want)
	if b, err := cmd.CombinedOutput(); err != nil {
		missing(t, "npm ci in bench/ failed (%v):\n%s", err, b)
	}
	if got := installedNodePackage("playwright-core"); got != want {
		t.Fatalf("after npm ci, bench/node_modules/playwright-core is %q, package.json pins %q", got, want)
	}
	return node
}

// pinnedNodePackage returns the version bench/package.json gives name.
func pinnedNodePackage(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatalf("bench/package.json: %v", err)
	}
	v := pkg.Dependencies[name]
	if v == "" {
		t.Fatalf("bench/package.json has no dependency %q", name)
	}
	return v
}

// installedNodePackage returns the version of name in bench/node_modules,
// or "" when it is not installed.
func installedNodePackage(name string) string {
	b, err := os.ReadFile(filepath.Join("..", "node_modules", name, "package.json"))
	if err != nil {
		return ""
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(b, &pkg) != nil {
		return ""
	}
	return pkg.Version
}

// nodeScript is a script of testdata/ running under node that the test
// talks with in lines: it reads the script's stdout and writes to its
// stdin. Its methods are for the test goroutine; one reader goroutine owns
// stdout and, once stdout ends, waits for the process.
type nodeScript struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string   // stdout lines; closed at EOF
	quit   chan struct{} // closed at cleanup: the reader drops further lines
	done   chan error    // the process's exit, sent once
	stderr bytes.Buffer  // read only after done
}

// startNodeScript runs `node testdata/name args...`. When the test ends the
// script's stdin is closed (the script's cue to end the run, browser
// included); it is killed if it has not exited 15 s later.
func startNodeScript(t *testing.T, node, name string, args ...string) *nodeScript {
	t.Helper()
	s := &nodeScript{
		name:  name,
		cmd:   exec.Command(node, append([]string{name}, args...)...),
		lines: make(chan string, 64),
		quit:  make(chan struct{}),
		done:  make(chan error, 1),
	}
	s.cmd.Dir = "testdata"
	s.cmd.Stderr = &s.stderr
	s.cmd.WaitDelay = 5 * time.Second
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go s.read(stdout)
	t.Cleanup(func() {
		close(s.quit)
		_ = s.stdin.Close()
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
		if t.Failed() && s.stderr.Len() > 0 {
			t.Logf("%s stderr:\n%s", name, &s.stderr)
		}
	})
	return s
}

// read forwards stdout lines until EOF, then reaps the process.
func (s *nodeScript) read(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		select {
		case s.lines <- sc.Text():
		case <-s.quit:
		}
	}
	close(s.lines)
	s.done <- s.cmd.Wait()
}

// expect logs the script's lines until one equals want, and fails the test
// on a FAIL line, the end of the output, or no want within timeout.
func (s *nodeScript) expect(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-s.lines:
			switch {
			case !ok:
				t.Fatalf("%s ended without printing %q", s.name, want)
			case l == want:
				t.Logf("%s: %s", s.name, l)
				return
			case strings.HasPrefix(l, "FAIL"):
				t.Fatalf("%s: %s", s.name, l)
			default:
				t.Logf("%s: %s", s.name, l)
			}
		case <-deadline:
			t.Fatalf("%s printed no %q within %v", s.name, want, timeout)
		}
	}
}

// send writes line to the script's stdin.
func (s *nodeScript) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(s.stdin, line+"\n"); err != nil {
		t.Fatalf("%s: writing %q: %v", s.name, line, err)
	}
}

// wait requires the script to print nothing more and exit 0 within timeout.
func (s *nodeScript) wait(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	select {
	case l, ok := <-s.lines:
		if ok {
			t.Fatalf("%s: unexpected output after its verdict: %s", s.name, l)
		}
	case <-deadline:
		t.Fatalf("%s still running %v after its verdict", s.name, timeout)
	}
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	case <-deadline:
		t.Fatalf("%s still running %v after its verdict", s.name, timeout)
	}
}
