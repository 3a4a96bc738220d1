//go:build linux

package impair

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestParallelLinks builds links concurrently: names and addresses must
// differ, and each must carry its own traffic.
func TestParallelLinks(t *testing.T) {
	if err := Supported(); err != nil {
		t.Skipf("no impaired link on this machine: %v", err)
	}
	const n = 4
	links := make([]*Link, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { links[i], errs[i] = New(fmt.Sprint("par", i), Config{Delay: time.Millisecond}) })
	}
	wg.Wait()
	for i, l := range links {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		t.Cleanup(func() {
			if err := l.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	seen := map[string]bool{}
	for _, l := range links {
		for _, k := range []string{l.NSName(), l.hostDev, l.HostAddr().String(), l.NSAddr().String()} {
			if seen[k] {
				t.Fatalf("%q used twice", k)
			}
			seen[k] = true
		}
	}
	if l := links[0]; elsewhere(l.hostDev, l.HostAddr()) || !elsewhere(links[1].hostDev, l.HostAddr()) {
		t.Fatalf("elsewhere does not see %v on %s only", l.HostAddr(), l.hostDev)
	}
	for i, l := range links {
		ln := hostListen(t, l)
		go func() {
			c, err := ln.Accept()
			if err == nil {
				fmt.Fprintf(c, "%s\n", c.RemoteAddr().(*net.TCPAddr).IP)
				c.Close()
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := l.DialContext(ctx, "tcp", ln.Addr().String())
		cancel()
		if err != nil {
			t.Fatalf("link %d: %v", i, err)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil || strings.TrimSpace(line) != l.NSAddr().String() {
			t.Fatalf("link %d: server saw %q (%v), want %v", i, line, err, l.NSAddr())
		}
		if st := l.Stats(); st.ToHost.Forwarded == 0 || st.ToNS.Forwarded == 0 {
			t.Fatalf("link %d forwarded nothing: %+v", i, st)
		}
	}
}

// TestListenAndCommand listens in the namespace, reaches the listener
// from the host through the link, and runs a command in the namespace.
func TestListenAndCommand(t *testing.T) {
	l := newLink(t, Config{})
	ln, err := l.Listen("tcp", net.JoinHostPort(l.NSAddr().String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("hello\n"))
			c.Close()
		}
	}()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if line != "hello\n" {
		t.Fatalf("read %q, %v", line, err)
	}
	if l.Stats().ToNS.Forwarded == 0 {
		t.Fatal("the connection did not cross the link")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := l.Command(ctx, "ip", "-o", "-4", "addr", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.Contains(string(out), nsDev) || !strings.Contains(string(out), l.NSAddr().String()) {
		t.Fatalf("ip addr in the namespace:\n%s", out)
	}
}

// TestRemoveStale removes a namespace named after a dead process and
// keeps one named after a live one.
func TestRemoveStale(t *testing.T) {
	if err := Supported(); err != nil {
		t.Skipf("no impaired link on this machine: %v", err)
	}
	dead := 0
	for pid := 4194000; pid > 100000; pid-- {
		if errors.Is(unix.Kill(pid, 0), unix.ESRCH) {
			dead = pid
			break
		}
	}
	if dead == 0 {
		t.Skip("no free pid found")
	}
	stale := nsPrefix + strconv.Itoa(dead) + "-1-test"
	live := nsPrefix + strconv.Itoa(os.Getppid()) + "-999999-test"
	for _, name := range []string{stale, live} {
		if err := ip("netns", "add", name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ip("netns", "del", name) })
	}
	removeStaleNS(-1)
	if _, err := os.Stat(netnsDir + "/" + stale); !os.IsNotExist(err) {
		t.Errorf("stale namespace kept: %v", err)
	}
	if _, err := os.Stat(netnsDir + "/" + live); err != nil {
		t.Errorf("live namespace removed: %v", err)
	}
}
