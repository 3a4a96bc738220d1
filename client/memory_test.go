package client_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/wsloop/wsloop/client"
	"github.com/wsloop/wsloop/server"
)

func TestMain(m *testing.M) {
	if os.Getenv("WSLOOP_CLIENT_TEST_ECHO") == "1" {
		// The echo server of TestIdleMemory, in its own process so that
		// its memory does not count.
		srv := server.New(server.Echo())
		if err := srv.Start("127.0.0.1:0"); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(srv.Addr())
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until the parent goes
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestIdleMemory measures what an idle connected Client costs: Go heap
// in use plus goroutine stacks, per connection, with the server in
// another process. WSLOOP_CLIENT_MEM_N sets the count (default 2000).
func TestIdleMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	n := 2000
	if s := os.Getenv("WSLOOP_CLIENT_MEM_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "WSLOOP_CLIENT_TEST_ECHO=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	url := "ws://" + addr[:len(addr)-1] + "/"

	before, bh, bs := memNow()
	g0 := runtime.NumGoroutine()
	clients := make([]*client.Client, 0, n)
	for range n {
		c, err := client.Dial(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	time.Sleep(200 * time.Millisecond)
	after, ah, as := memNow()
	g1 := runtime.NumGoroutine()
	per := float64(after-before) / float64(n)
	t.Logf("%d idle clients: %.0f bytes each (heap in use + stacks), %.2f goroutines each (race detector: %v)",
		n, per, float64(g1-g0)/float64(n), raceEnabled)
	t.Logf("  heap %.0f B, stacks %.0f B per client", float64(ah-bh)/float64(n), float64(as-bs)/float64(n))
	if g1-g0 > n+2 {
		t.Errorf("%d goroutines for %d clients", g1-g0, n)
	}
	// An idle client that has received nothing waits in readLoop →
	// readHeader → fill → Read; that path fits in a goroutine's initial
	// 2 KiB stack, which would otherwise double. (Handling a frame goes
	// deeper, and then the stack stays at 4 KiB: see bench/BENCHMARKS.md.)
	if stacks := float64(as-bs) / float64(n); !raceEnabled && stacks > 3<<10 {
		t.Errorf("%.0f B of stack per idle client: its goroutine outgrew 2 KiB; keep the idle read path shallow", stacks)
	}
	if !raceEnabled && per > 32<<10 {
		t.Errorf("%.0f bytes per idle client", per)
	}
	for _, c := range clients {
		_ = c.Close()
	}
	for _, c := range clients {
		<-c.Done()
	}
}

func memNow() (total, heap, stack uint64) {
	var ms runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse, ms.HeapInuse, ms.StackInuse
}
