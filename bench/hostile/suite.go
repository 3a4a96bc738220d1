package hostile

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Instances are the processes of one server a suite run uses: the main
// one, one for the compression cases (wsloop -compress; the references
// use main) and one for the long cases, which run beside the others.
type Instances struct {
	Main, Compress, Side *Target
}

// StartInstances starts the instances of server name.
func StartInstances(name string, b Binaries) (*Instances, error) {
	in := &Instances{}
	var err error
	if in.Main, err = Start(name, b); err != nil {
		return nil, err
	}
	if name == Wsloop {
		in.Compress, err = StartWsloop(b.Wsloop, "-compress")
	} else {
		in.Compress = in.Main
	}
	if err != nil {
		in.Stop()
		return nil, err
	}
	if in.Side, err = Start(name, b); err != nil {
		in.Stop()
		return nil, err
	}
	return in, nil
}

// Stop stops every instance.
func (in *Instances) Stop() {
	for _, t := range []*Target{in.Main, in.Compress, in.Side} {
		t.Stop(5 * time.Second)
	}
}

// For picks the instance a case runs on.
func (in *Instances) For(c *Case) *Target {
	switch {
	case c.Long:
		return in.Side
	case c.Compress:
		return in.Compress
	}
	return in.Main
}

// RunAll runs cases on in: the long ones on their own instance beside the
// others, which run in order. done is called after each case.
func RunAll(in *Instances, cases []*Case, log func(string, ...any), done func(Outcome)) (map[string]Outcome, error) {
	runners := map[*Target]*Runner{}
	for _, t := range []*Target{in.Main, in.Compress, in.Side} {
		if runners[t] != nil {
			continue
		}
		r, err := NewRunner(t, log)
		if err != nil {
			return nil, err
		}
		runners[t] = r
	}
	out := map[string]Outcome{}
	var mu sync.Mutex
	record := func(o Outcome) {
		mu.Lock()
		out[o.Case.Name] = o
		mu.Unlock()
		if done != nil {
			done(o)
		}
	}
	var wg sync.WaitGroup
	var rest []*Case
	for _, c := range cases {
		if !c.Long {
			rest = append(rest, c)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			record(runners[in.Side].Run(c))
		}()
	}
	for _, c := range rest {
		record(runners[in.For(c)].Run(c))
	}
	wg.Wait()
	return out, nil
}

// Describe says what server name is, for the report.
func Describe(name string) string {
	root, _ := repoRoot()
	switch name {
	case Wsloop:
		rev := "?"
		if out, err := exec.Command("git", "-C", root, "log", "-1", "--format=%h %cs").Output(); err == nil {
			rev = strings.TrimSpace(string(out))
		}
		return fmt.Sprintf("cmd/wsloop at %s, its defaults (`-addr`, `-admin` added; `-compress` on a second process for the compression cases)", rev)
	case Gorilla:
		return fmt.Sprintf("github.com/gorilla/websocket %s: bench/peers/gorilla (library defaults, read limit 16 MiB, compression off, net/http with no timeouts)",
			modVersion(filepath.Join(root, "bench", "go.mod"), "github.com/gorilla/websocket"))
	case Websockets:
		v := "?"
		if out, err := exec.Command(pythonBin, "-c", "import websockets; print(websockets.__version__)").Output(); err == nil {
			v = strings.TrimSpace(string(out))
		}
		return fmt.Sprintf("Python websockets %s (Debian python3-websockets): bench/hostile/testdata/ws_echo.py (defaults, max_size 16 MiB, permessage-deflate on)", v)
	}
	return name
}

// modVersion is the version go.mod requires of module.
func modVersion(gomod, module string) string {
	f, err := os.Open(gomod)
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == module {
			return fields[1]
		}
	}
	return "?"
}
