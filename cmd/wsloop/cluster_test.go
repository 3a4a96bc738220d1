package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsloop/wsloop/internal/natstest"
	"github.com/wsloop/wsloop/server"
)

// Several wsloop processes joined through a real NATS server serve one set
// of topics: a publish on any node reaches the subscribers of every node
// exactly once, in one sequence per topic; when a node is killed, its
// clients recover on another node with nothing lost.

// nodeEnv makes this test binary run as one wsloop node (see TestMain):
// its value is the node's arguments, separated by newlines.
const nodeEnv = "WSLOOP_TEST_NODE_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(nodeEnv); args != "" {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
		argv := strings.Split(args, "\n")
		// A -procs supervisor of the tests (supervisor_test.go) runs its
		// workers as this binary too, with their flags after "--".
		workerArgv = func(a []string) []string { return append([]string{"-test.run=^$", "--"}, a...) }
		if _, ok := os.LookupEnv(workerEnv); ok {
			argv = os.Args[slices.Index(os.Args, "--")+1:]
		}
		err := run(argv, os.LookupEnv, os.Stderr, stop, func(srv *server.Server, adm net.Addr) {
			fmt.Printf("NODE %s %s\n", srv.Addr(), adm)
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "node:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startNATS runs an in-process nats-server with JetStream on a free
// loopback port until the test ends.
func startNATS(t *testing.T) *natsserver.Server {
	t.Helper()
	return natstest.Start(t, t.TempDir(), 0)
}

// node is a wsloop process of the test.
type node struct {
	cmd         *exec.Cmd
	addr, admin string
}

// startNode runs this test binary as a wsloop node in -mode pubsub on
// natsURL, on free loopback ports.
func startNode(t *testing.T, natsURL string) *node {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-mode", "pubsub", "-addr", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-nats", natsURL, "-log-level", "warn"}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), nodeEnv+"="+strings.Join(args, "\n"))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "NODE ") {
				lines <- sc.Text()
			}
		}
		close(lines)
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatal("node exited before listening")
		}
		f := strings.Fields(line)
		return &node{cmd: cmd, addr: f[1], admin: f[2]}
	case <-time.After(30 * time.Second):
		t.Fatal("node did not start in 30 s")
	}
	return nil
}

// publish posts data on topic through n's admin address.
func (n *node) publish(topic, data string) error {
	resp, err := http.Post("http://"+n.admin+"/publish/"+topic, "application/json", strings.NewReader(data))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("publish: %d %s", resp.StatusCode, body)
	}
	return nil
}

// clusterSub is a subscriber that records every message in order.
type clusterSub struct {
	conn  net.Conn
	epoch string
	last  uint64
	seen  map[string]bool // data seen
	err   error
}

func subscribeTo(t *testing.T, addr, topic, since string) (*clusterSub, wire) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, _, err := ws.Dialer{Protocols: []string{"wsloop.json"}}.Dial(ctx, "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	send(t, conn, `{"op":"subscribe","topic":"`+topic+`"`+since+`}`)
	ans := receive(t, conn)
	if ans.Op != "subscribed" {
		t.Fatalf("subscribe: %+v", ans)
	}
	return &clusterSub{conn: conn, epoch: ans.Epoch, last: ans.Seq, seen: map[string]bool{}}, ans
}

// read takes messages until seq upTo, checking order and exactly-once;
// it stops early (err set) when the connection fails.
func (s *clusterSub) read(upTo uint64) {
	for s.last < upTo {
		b, err := wsutil.ReadServerText(s.conn)
		if err != nil {
			s.err = err
			return
		}
		var m wire
		if err := json.Unmarshal(b, &m); err != nil || m.Op != "msg" || m.Epoch != s.epoch || m.Seq != s.last+1 || s.seen[string(m.Data)] {
			s.err = fmt.Errorf("after seq %d: %s", s.last, b)
			return
		}
		s.seen[string(m.Data)] = true
		s.last = m.Seq
	}
}

func TestClusterThroughNATS(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d nodes", n), func(t *testing.T) { testCluster(t, n) })
	}
}

// testCluster runs n nodes: every node publishes 100 messages at once,
// then node 1 is killed while node 0 publishes 200 more and its clients
// resume on node 2 (node 0 when there are two).
func testCluster(t *testing.T, n int) {
	ns := startNATS(t)
	var nodes []*node
	for range n {
		nodes = append(nodes, startNode(t, ns.ClientURL()))
	}
	const topic = "md.cluster"
	total := uint64(100 * n)

	// Two subscribers on every node.
	var subs []*clusterSub
	for _, n := range nodes {
		for range 2 {
			s, ans := subscribeTo(t, n.addr, topic, "")
			if ans.Seq != 0 {
				t.Fatalf("fresh topic at seq %d", ans.Seq)
			}
			subs = append(subs, s)
		}
	}
	// Phase 1: 100 publishes through every node at once.
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 100 {
				if err := n.publish(topic, fmt.Sprintf(`{"node":%d,"k":%d}`, i, k)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i, s := range subs {
		s.read(total)
		if s.err != nil || len(s.seen) != int(total) {
			t.Fatalf("subscriber %d (node %d): %d messages, %v", i, i/2, len(s.seen), s.err)
		}
	}

	// Phase 2: node 1 is killed while node 0 publishes 200 more; its
	// subscribers resume on another node from their last position.
	publishing := make(chan error, 1)
	go func() {
		for k := range 200 {
			if err := nodes[0].publish(topic, fmt.Sprintf(`{"phase":2,"k":%d}`, k)); err != nil {
				publishing <- err
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		publishing <- nil
	}()
	for _, s := range subs {
		s.read(total + 50)
	}
	if err := nodes[1].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	victims := subs[2:4]
	other := nodes[0]
	if n > 2 {
		other = nodes[2]
	}
	for _, s := range victims {
		s.read(total + 200) // until the connection breaks
		if s.err == nil {
			t.Fatal("a subscriber of the killed node read everything")
		}
		lost := s.last
		resumed, ans := subscribeTo(t, other.addr, topic, fmt.Sprintf(`,"since":{"epoch":%q,"seq":%d}`, s.epoch, s.last))
		if ans.Recovery != "ok" || ans.Seq != lost || ans.Epoch != s.epoch {
			t.Fatalf("recovery on another node answered %+v, want ok at %d", ans, lost)
		}
		resumed.seen = s.seen
		*s = *resumed
	}
	if err := <-publishing; err != nil {
		t.Fatal(err)
	}
	for i, s := range subs {
		s.read(total + 200)
		if s.err != nil || len(s.seen) != int(total+200) {
			t.Errorf("subscriber %d: %d distinct messages, last seq %d, %v", i, len(s.seen), s.last, s.err)
		}
	}
}
