package pubsub_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsloop/wsloop/internal/pubsubtest"
	"github.com/wsloop/wsloop/pubsub"
)

// Fan-out at scale within this machine's limits: one server process holds
// 15,000 subscribers of one topic, opened by three client processes (open
// files are capped per process), each from its own source address. Every
// subscriber must get every publication, in sequence order.
const (
	scaleSubscribers = 15000
	scaleProcs       = 3
	scaleMessages    = 20
	scaleEnv         = "WSLOOP_PUBSUB_SCALE_CLIENT" // addr,count,source IP
)

func TestHubFanoutScale(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 15,000 connections")
	}
	hub := pubsub.New()
	srv := pubsubtest.Start(t, hub)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	type child struct {
		cmd   *exec.Cmd
		lines *bufio.Scanner
	}
	var children []child
	for i := range scaleProcs {
		cmd := exec.CommandContext(ctx, exe, "-test.run=^TestHubScaleClientProcess$", "-test.v")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%d,127.0.0.%d", scaleEnv, srv.Addr(), scaleSubscribers/scaleProcs, 2+i))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		children = append(children, child{cmd, bufio.NewScanner(out)})
	}
	await := func(c child, prefix string) string {
		for c.lines.Scan() {
			if line := c.lines.Text(); strings.HasPrefix(line, prefix) {
				return line
			}
		}
		t.Fatalf("client process ended before %q", prefix)
		return ""
	}
	for _, c := range children {
		await(c, "READY")
	}
	if got := hub.Stats().Subscriptions; got != scaleSubscribers {
		t.Fatalf("%d subscriptions, want %d", got, scaleSubscribers)
	}
	start := time.Now()
	data := []byte(`{"sym":"AAPL","px":189.42,"pad":"` + strings.Repeat("x", 60) + `"}`) // 100 bytes
	for range scaleMessages {
		if _, err := hub.Publish("md.all", "AAPL", data); err != nil {
			t.Fatal(err)
		}
	}
	var total int
	for _, c := range children {
		line := await(c, "DONE")
		var ok, bad int
		if _, err := fmt.Sscanf(line, "DONE ok=%d bad=%d", &ok, &bad); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if bad != 0 {
			t.Errorf("%s", line)
		}
		total += ok
	}
	if want := scaleSubscribers * scaleMessages; total != want {
		t.Errorf("%d deliveries verified, want %d", total, want)
	}
	t.Logf("%d subscribers, %d messages: %d deliveries in %v", scaleSubscribers, scaleMessages, total, time.Since(start))
}

// TestHubScaleClientProcess is the client side of TestHubFanoutScale, run
// in its own process: it subscribes count connections, prints READY, reads
// scaleMessages publications on each, checks their sequence and prints
// DONE with the counts.
func TestHubScaleClientProcess(t *testing.T) {
	spec := os.Getenv(scaleEnv)
	if spec == "" {
		t.Skip("run by TestHubFanoutScale")
	}
	parts := strings.Split(spec, ",")
	addr, src := parts[0], parts[2]
	count, _ := strconv.Atoi(parts[1])
	dialer := ws.Dialer{
		Protocols: []string{pubsub.SubprotocolBinary},
		Timeout:   30 * time.Second,
		NetDial: func(ctx context.Context, network, a string) (net.Conn, error) {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
			return d.DialContext(ctx, network, a)
		},
	}
	var ready, ok, bad atomic.Int64
	var subscribed, done sync.WaitGroup
	gate := make(chan struct{}, 64) // dials in flight
	subscribed.Add(count)
	done.Add(count)
	for range count {
		go func() {
			defer done.Done()
			gate <- struct{}{}
			s, err := scaleSubscribe(dialer, addr)
			<-gate
			if err != nil {
				fmt.Fprintln(os.Stderr, "subscribe:", err)
				bad.Add(1)
				subscribed.Done()
				return
			}
			defer s.conn.Close()
			ready.Add(1)
			subscribed.Done()
			for n := uint64(1); n <= scaleMessages; n++ {
				e, err := s.next(60 * time.Second)
				if err != nil || e.Seq != n || e.Key != "AAPL" {
					bad.Add(1)
					return
				}
				ok.Add(1)
			}
		}()
	}
	subscribed.Wait()
	fmt.Printf("READY %d\n", ready.Load())
	done.Wait()
	fmt.Printf("DONE ok=%d bad=%d\n", ok.Load(), bad.Load())
}

// scaleSubscribe dials and subscribes to md.all, retrying refused dials
// (a listen backlog overflowing under the storm).
func scaleSubscribe(d ws.Dialer, addr string) (*sub, error) {
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		var conn net.Conn
		var br *bufio.Reader
		conn, br, _, err = d.Dial(context.Background(), "ws://"+addr+"/")
		if err != nil {
			time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
			continue
		}
		if br == nil {
			br = bufio.NewReader(conn)
		}
		s := &sub{conn: conn, r: br, bin: true}
		if _, err = conn.Write(clientText(`{"op":"subscribe","topic":"md.all"}`)); err != nil {
			conn.Close()
			return nil, err
		}
		e, err := s.next(30 * time.Second)
		if err != nil || e.Op != "subscribed" {
			conn.Close()
			return nil, fmt.Errorf("subscribe: %+v %v", e, err)
		}
		return s, nil
	}
	return nil, err
}

// clientText frames a masked client text message.
func clientText(p string) []byte {
	var b strings.Builder
	f := ws.NewTextFrame([]byte(p))
	f = ws.MaskFrameInPlace(f)
	_ = ws.WriteFrame(&b, f)
	return []byte(b.String())
}
