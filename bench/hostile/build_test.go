package hostile

import (
	"os"
	"sync"
	"testing"
)

// binDir holds the servers built for this test binary; TestMain removes
// it.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hostile-bin-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Map // server name → func() (Binaries, error)
)

// binaries builds server name once per test binary.
func binaries(t *testing.T, name string) Binaries {
	t.Helper()
	f, _ := buildOnce.LoadOrStore(name, sync.OnceValues(func() (Binaries, error) {
		return Build(binDir, []string{name})
	}))
	b, err := f.(func() (Binaries, error))()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wsloopBin(t *testing.T) string { return binaries(t, Wsloop).Wsloop }
