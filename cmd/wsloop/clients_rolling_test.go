package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsloop/wsloop/feed"
	"github.com/wsloop/wsloop/internal/clienttest"
	"github.com/wsloop/wsloop/internal/syncbuf"
	"github.com/wsloop/wsloop/pubsub"
	"github.com/wsloop/wsloop/pubsub/natsbroker"
)

// The Python and JavaScript clients through a rolling restart of
// `wsloop -procs 4 -mode feed -nats`: their example followers
// (clients/python/examples/follow.py, clients/js/examples/follow.mjs)
// print every answer and publication with the subscription's keyed state,
// and a reference reader of the NATS broker says what the state of each
// topic is at each sequence number.

// systemPython is the interpreter of the Python client: Debian's, with
// python3-websockets (as in clients/python/pytest).
const systemPython = "/usr/bin/python3"

// repoRoot is the repository's root, relative to this package.
const repoRoot = "../.."

// TestProcsRollingRestartClients runs Python (wsloop.json and wsloop.bin,
// with and without Fossil deltas) and JavaScript (wsloop.bin with deltas,
// wsloop.json) followers of md.all and two symbol topics each, with
// snapshots, through a rolling restart (SIGHUP) of four workers, and
// checks that for every follower and topic the sequence runs without a
// gap or a duplicate from the first answer to the end (a resubscription
// answered "ok" continues it; one answered "snapshot" restarts it at the
// snapshot's position), that every follower resubscribed and caught up
// with the topics' positions after the restart, and that the state the
// follower reports at every position equals the reference's state there.
func TestProcsRollingRestartClients(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the client processes' rolling restart")
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	node, wsModule := clientTools(t, root)
	clienttest.ReadInputs(t, nil,
		filepath.Join(root, "clients/python/wsloop_client"), filepath.Join(root, "clients/python/examples"),
		filepath.Join(root, "clients/js/src"), filepath.Join(root, "clients/js/examples"))
	start := time.Now()

	ns := startNATS(t)
	const symbols, rate = 20, 200 // md.all moves 200 times a second, each symbol topic 10
	s, workers := startSup(t, 4, "-mode", "feed", "-nats", ns.ClientURL(),
		"-feed-symbols", strconv.Itoa(symbols), "-feed-rate", strconv.Itoa(rate), "-drain-timeout", "5s")
	url := "ws://" + workers[0].Addr + "/"

	kinds := []struct {
		name string
		text bool // wsloop.json
		cmd  []string
	}{
		{"py-json", true, []string{systemPython, "clients/python/examples/follow.py", "--json"}},
		{"py-bin", false, []string{systemPython, "clients/python/examples/follow.py"}},
		{"py-delta", false, []string{systemPython, "clients/python/examples/follow.py", "--delta"}},
		{"js-delta", false, []string{node, "clients/js/examples/follow.mjs", "--delta"}},
		{"js-delta", false, []string{node, "clients/js/examples/follow.mjs", "--delta"}},
		{"js-json", true, []string{node, "clients/js/examples/follow.mjs", "--json"}},
	}
	syms := feed.Symbols(symbols)
	topicsOf := func(i int) []string {
		return []string{feed.TopicAll, feed.TopicOf(syms[2*i%symbols]), feed.TopicOf(syms[(2*i+1)%symbols])}
	}

	// The reference reads every topic from NATS before the followers start.
	ref := newReference(t, ns.ClientURL())
	for i := range kinds {
		for _, topic := range topicsOf(i) {
			ref.follow(t, topic)
		}
	}

	progress := make(chan struct{}, 1)
	var fs []*follower
	for i, k := range kinds {
		// --seconds bounds a follower the test would leave behind; they
		// are stopped with SIGTERM.
		args := append(slices.Clone(k.cmd[1:]), "--seconds=300", url)
		args = append(args, topicsOf(i)...)
		f := startFollower(t, fmt.Sprintf("%s-%d", k.name, i), k.text, root, k.cmd[0], args,
			[]string{"WSLOOP_WS_MODULE=" + wsModule}, ref, progress)
		fs = append(fs, f)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, f := range fs {
			f.mu.Lock()
			t.Logf("%s: %d lines; error lines: %s; stderr:\n%s", f.name, f.lines, strings.Join(f.errorLines, "; "), f.stderr.String())
			f.mu.Unlock()
		}
	})
	// waitAll waits until ok holds for every topic of every follower.
	waitAll := func(what string, d time.Duration, ok func(*followTopic) bool) {
		t.Helper()
		deadline := time.After(d)
		for {
			waiting := ""
			for _, f := range fs {
				if w := f.waiting(ok); w != "" && waiting == "" {
					waiting = f.name + " " + w
				}
				if err := f.firstErr(); err != "" {
					t.Fatalf("%s: %s", f.name, err)
				}
			}
			if waiting == "" {
				return
			}
			select {
			case <-progress:
			case <-deadline:
				t.Fatalf("%s: not within %v: %s", what, d, waiting)
			}
		}
	}
	waitAll("every follower subscribed and had publications", 30*time.Second, func(ft *followTopic) bool {
		return ft.have && !ft.snapshotDue && ft.pubs >= 20
	})
	t.Logf("%d followers on %d topics each, running %v after the start", len(fs), len(topicsOf(0)), time.Since(start).Round(time.Millisecond))

	roll := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.await(t, 30*time.Second, func(e supEvent) bool { return e.Msg == "rolled over: the previous generation drains" })
	waitAll("every follower resubscribed after the rolling restart", 30*time.Second, func(ft *followTopic) bool {
		return ft.resubscribed > 0 && !ft.snapshotDue
	})
	for range 4 {
		s.await(t, 20*time.Second, func(e supEvent) bool { return e.Msg == "worker exited" && e.Gen == 1 })
	}
	t.Logf("every follower resubscribed %v after SIGHUP; generation 1 exited", time.Since(roll).Round(time.Millisecond))

	// Every follower reaches its topics' positions now, as NATS has
	// them, and goes on past them (a symbol topic moves 10 times a second).
	target := ref.heads()
	waitAll("every follower caught up with the topics after the restart", 30*time.Second, func(ft *followTopic) bool {
		return ft.last >= target[ft.topic]+5
	})
	for _, f := range fs {
		f.stop(t)
	}

	var sum followTopic
	var lines, reconnects, errLines, py int
	for _, f := range fs {
		f.mu.Lock()
		for _, e := range f.errs {
			t.Errorf("%s: %s", f.name, e)
		}
		if f.nerrs > len(f.errs) {
			t.Errorf("%s: and %d more errors", f.name, f.nerrs-len(f.errs))
		}
		if f.cmd.Path == systemPython {
			py++
		}
		var n followTopic
		for _, ft := range f.topics {
			n.pubs += ft.pubs
			n.checked += ft.checked
			n.mismatches += ft.mismatches
			n.resubscribed += ft.resubscribed
		}
		t.Logf("%s: %d publications, %d states checked, %d mismatches, %d resubscriptions, %d reconnections",
			f.name, n.pubs, n.checked, n.mismatches, n.resubscribed, f.connects-1)
		for _, ft := range f.topics {
			sum.pubs += ft.pubs
			sum.checked += ft.checked
			sum.mismatches += ft.mismatches
			sum.recoveredOK += ft.recoveredOK
			sum.recoveredSnapshot += ft.recoveredSnapshot
			sum.skipped += ft.skipped
			sum.snapshots += ft.snapshots
			sum.deltas += ft.deltas
			sum.gaps += ft.gaps
			sum.resubscribed += ft.resubscribed
		}
		lines += f.lines
		reconnects += f.connects - 1
		errLines += len(f.errorLines)
		if len(f.snapshotLog) > 0 {
			t.Logf("%s resubscriptions answered with a snapshot: %s", f.name, strings.Join(f.snapshotLog, "; "))
		}
		if len(f.errorLines) > 0 {
			t.Logf("%s error lines: %s", f.name, strings.Join(f.errorLines, "; "))
		}
		f.mu.Unlock()
	}
	t.Logf("%d followers (%d Python, %d JavaScript), %d lines: %d publications, %d states checked against the reference, %d mismatches",
		len(fs), py, len(fs)-py, lines, sum.pubs, sum.checked, sum.mismatches)
	t.Logf("%d reconnections, %d resubscriptions: recovery ok %d, snapshot %d (%d messages skipped by snapshots); %d snapshots in all; %d gaps healed by the clients; %d deltas applied (JavaScript reports them); %d error lines",
		reconnects, sum.resubscribed, sum.recoveredOK, sum.recoveredSnapshot, sum.skipped, sum.snapshots, sum.gaps, sum.deltas, errLines)
	t.Logf("reference: %d messages read; took %v in all", ref.messages(), time.Since(start).Round(time.Millisecond))
}

// clientTools returns node and the module the JavaScript follower takes
// WebSocket from ("" when node has a global one), or skips the test when
// /usr/bin/python3 lacks websockets or node (or, before Node 22, the ws
// package of bench/) is missing, as clients/python/pytest and
// clients/js/nodetest do.
func clientTools(t *testing.T, root string) (node, wsModule string) {
	t.Helper()
	if out, err := exec.Command(systemPython, "-c", "import websockets").CombinedOutput(); err != nil {
		clienttest.Missing(t, "%s cannot import websockets (apt-get install python3-websockets): %v %s", systemPython, err, out)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		clienttest.Missing(t, "node not found on PATH (the JavaScript follower needs Node >= 18)")
	}
	cmd := exec.Command(node, "-e", "process.exit(typeof WebSocket === 'function' ? 0 : 1)")
	cmd.Env = append(os.Environ(), "NODE_OPTIONS=")
	if cmd.Run() == nil {
		return node, ""
	}
	wsModule = filepath.Join(root, "bench/node_modules/ws/wrapper.mjs")
	if _, err := os.Stat(wsModule); err != nil {
		clienttest.Missing(t, "node has no global WebSocket and bench/node_modules/ws is missing (cd bench && npm ci)")
	}
	return node, wsModule
}

// reference reads the topics straight from NATS, through a natsbroker of
// the same prefix as wsloop's (the default), and keeps each topic's
// messages from a snapshot on: the truth the followers are compared with.
type reference struct {
	b *natsbroker.Broker

	mu     sync.Mutex
	topics map[string]*refTopic
}

// refTopic is one topic of the reference: its state at position base,
// then every message after it, in order.
type refTopic struct {
	name string

	mu      sync.Mutex
	seeded  bool
	epoch   uint64
	base    uint64
	seed    map[string]refValue
	early   []pubsub.Message // delivered before the snapshot was taken
	log     []pubsub.Message // base+1, base+2, …
	err     error
	changed chan struct{} // closed and replaced at each message
}

// refValue is a key's value and the sequence of the update that set it.
type refValue struct {
	seq  uint64
	data []byte
}

func newReference(t *testing.T, natsURL string) *reference {
	t.Helper()
	b, err := natsbroker.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return &reference{b: b, topics: map[string]*refTopic{}}
}

// follow subscribes to topic (once), then seeds it from a snapshot:
// messages up to the snapshot's position are in it, later ones follow.
func (r *reference) follow(t *testing.T, topic string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.topics[topic] != nil {
		return
	}
	rt := &refTopic{name: topic, changed: make(chan struct{})}
	r.topics[topic] = rt
	cancel, err := r.b.Subscribe(topic, rt.add)
	if err != nil {
		t.Fatalf("reference: subscribe %s: %v", topic, err)
	}
	t.Cleanup(cancel)
	msgs, pos, err := r.b.Snapshot(topic)
	if err != nil {
		t.Fatalf("reference: snapshot %s: %v", topic, err)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.seeded, rt.epoch, rt.base = true, pos.Epoch, pos.Seq
	rt.seed = make(map[string]refValue, len(msgs))
	for _, m := range msgs {
		applyRef(rt.seed, m)
	}
	early := rt.early
	rt.early = nil
	for _, m := range early {
		rt.appendLocked(m)
	}
}

// add takes a message of the broker's subscription.
func (rt *refTopic) add(m pubsub.Message) {
	m.Data = bytes.Clone(m.Data)
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.seeded {
		rt.appendLocked(m)
	} else {
		rt.early = append(rt.early, m)
	}
	close(rt.changed)
	rt.changed = make(chan struct{})
}

func (rt *refTopic) appendLocked(m pubsub.Message) {
	next := rt.base + uint64(len(rt.log)) + 1
	switch {
	case rt.err != nil:
	case m.Epoch != rt.epoch:
		rt.err = fmt.Errorf("reference %s: epoch %016x after %016x", rt.name, m.Epoch, rt.epoch)
	case m.Seq < next:
		// At or before the snapshot's position: in the seed already.
	case m.Seq > next:
		rt.err = fmt.Errorf("reference %s: seq %d after %d", rt.name, m.Seq, next-1)
	default:
		rt.log = append(rt.log, m)
	}
}

// applyRef applies m to a state: an update sets its key, a delete removes
// it, events and keyless messages leave the state alone.
func applyRef(state map[string]refValue, m pubsub.Message) {
	if m.Key == "" {
		return
	}
	switch m.Kind {
	case pubsub.Delete:
		delete(state, m.Key)
	case pubsub.Event:
	default: // an update, or a snapshot's entry
		state[m.Key] = refValue{seq: m.Seq, data: m.Data}
	}
}

func (r *reference) all() []*refTopic {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []*refTopic
	for _, rt := range r.topics {
		all = append(all, rt)
	}
	return all
}

func (r *reference) topic(name string) *refTopic {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.topics[name]
}

// heads returns every topic's last sequence number.
func (r *reference) heads() map[string]uint64 {
	h := map[string]uint64{}
	for _, rt := range r.all() {
		rt.mu.Lock()
		h[rt.name] = rt.base + uint64(len(rt.log))
		rt.mu.Unlock()
	}
	return h
}

// messages returns how many messages the reference logged.
func (r *reference) messages() int {
	n := 0
	for _, rt := range r.all() {
		rt.mu.Lock()
		n += len(rt.log)
		rt.mu.Unlock()
	}
	return n
}

// refCursor is a topic's state at seq, moved forward message by message.
type refCursor struct {
	seq   uint64
	state map[string]refValue
}

// stateAt moves c to seq, waiting up to d for the reference to get there,
// and returns the state there.
func (rt *refTopic) stateAt(c *refCursor, epoch string, seq uint64, d time.Duration) (map[string]refValue, error) {
	var deadline <-chan time.Time
	for {
		rt.mu.Lock()
		seeded, base, log, err, ch := rt.seeded, rt.base, rt.log, rt.err, rt.changed
		if seeded && (c.state == nil || c.seq > seq) {
			c.seq, c.state = base, make(map[string]refValue, len(rt.seed))
			for k, v := range rt.seed {
				c.state[k] = v
			}
		}
		e := rt.epoch
		rt.mu.Unlock()
		switch {
		case err != nil:
			return nil, err
		case !seeded:
		case fmt.Sprintf("%016x", e) != epoch:
			return nil, fmt.Errorf("epoch %s, the reference's is %016x", epoch, e)
		case seq < base:
			return nil, fmt.Errorf("seq %d is before the reference's start at %d", seq, base)
		case seq <= base+uint64(len(log)):
			for ; c.seq < seq; c.seq++ {
				applyRef(c.state, log[c.seq-base])
			}
			return c.state, nil
		}
		if deadline == nil {
			deadline = time.After(d)
		}
		select {
		case <-ch:
		case <-deadline:
			return nil, fmt.Errorf("the reference did not reach seq %d within %v", seq, d)
		}
	}
}

// follower is one client process printing JSON lines (see follow.py).
type follower struct {
	name     string
	text     bool // wsloop.json: values are text; else base64
	cmd      *exec.Cmd
	stderr   *syncbuf.Buffer
	eof      chan struct{} // stdout read to its end
	ref      *reference
	progress chan<- struct{}

	mu          sync.Mutex
	topics      map[string]*followTopic
	errs        []string // the first few failures
	nerrs       int
	errorLines  []string // "error" lines of the client (logged)
	stopping    bool     // stop sent SIGTERM
	snapshotLog []string // the resubscriptions answered with a snapshot
	lines       int
	connects    int
}

// followTopic is a follower's record of one topic. The reader goroutine
// writes it under follower.mu; cur is the reader's alone.
type followTopic struct {
	topic       string
	have        bool   // the first answer arrived
	snapshotDue bool   // an answer announced a snapshot not complete yet
	epoch       string // of the first answer
	last        uint64 // the position reached

	pubs, checked, mismatches, resubscribed, recoveredOK, recoveredSnapshot, snapshots, deltas, gaps int
	skipped                                                                                          uint64

	cur refCursor
}

// followLine is a line of a follower.
type followLine struct {
	Ev           string            `json:"ev"`
	Topic        string            `json:"topic"`
	Epoch        string            `json:"epoch"`
	Seq          uint64            `json:"seq"`
	Recovery     string            `json:"recovery"`
	Resubscribed bool              `json:"resubscribed"`
	Kind         string            `json:"kind"`
	Key          string            `json:"key"`
	Delta        bool              `json:"delta"`
	State        map[string]string `json:"state"` // nil when the line has none
	Error        string            `json:"error"`
}

// startFollower runs name args in dir; its topics are the arguments after
// the URL (the first ws:// argument).
func startFollower(t *testing.T, label string, text bool, dir, name string, args, env []string,
	ref *reference, progress chan<- struct{}) *follower {
	t.Helper()
	f := &follower{name: label, text: text, stderr: &syncbuf.Buffer{}, eof: make(chan struct{}),
		ref: ref, progress: progress, topics: map[string]*followTopic{}}
	i := slices.IndexFunc(args, func(a string) bool { return strings.HasPrefix(a, "ws://") })
	for _, topic := range args[i+1:] {
		f.topics[topic] = &followTopic{topic: topic}
	}
	f.cmd = exec.Command(name, args...)
	f.cmd.Dir = dir
	f.cmd.Env = append(append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "NODE_OPTIONS="), env...)
	f.cmd.Stderr = f.stderr
	out, err := f.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.mu.Lock()
		f.stopping = true
		f.mu.Unlock()
		if f.cmd.ProcessState == nil {
			_ = f.cmd.Process.Kill()
			<-f.eof
			_ = f.cmd.Wait()
		}
	})
	go func() {
		defer close(f.eof)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			f.handle(sc.Bytes())
			select {
			case progress <- struct{}{}:
			default:
			}
		}
		if err := sc.Err(); err != nil {
			f.fail("reading its output: %v", err)
		}
		f.mu.Lock()
		if !f.stopping {
			f.failLocked("exited before the end of the test (its stderr is below)")
		}
		f.mu.Unlock()
	}()
	return f
}

// stop ends the follower with SIGTERM and waits for it to exit with 0.
func (f *follower) stop(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	f.stopping = true
	f.mu.Unlock()
	_ = f.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-f.eof:
	case <-time.After(15 * time.Second):
		t.Errorf("%s: still running 15 s after SIGTERM; killed", f.name)
		_ = f.cmd.Process.Kill()
		<-f.eof
	}
	if err := f.cmd.Wait(); err != nil {
		f.fail("exit: %v", err)
	}
}

func (f *follower) fail(format string, a ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failLocked(format, a...)
}

func (f *follower) failLocked(format string, a ...any) {
	f.nerrs++
	if len(f.errs) < 10 {
		f.errs = append(f.errs, fmt.Sprintf(format, a...))
	}
}

func (f *follower) firstErr() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) == 0 {
		return ""
	}
	return f.errs[0]
}

// waiting returns the first topic for which ok does not hold ("" if none).
func (f *follower) waiting(ok func(*followTopic) bool) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, topic := range slices.Sorted(maps.Keys(f.topics)) {
		if ft := f.topics[topic]; !ok(ft) {
			return fmt.Sprintf("%s at seq %d (answered %v, %d publications, %d resubscriptions)",
				topic, ft.last, ft.have, ft.pubs, ft.resubscribed)
		}
	}
	return ""
}

// handle takes one line: the sequence and recovery rules under f.mu, then
// the state against the reference.
func (f *follower) handle(b []byte) {
	var l followLine
	if err := json.Unmarshal(b, &l); err != nil {
		f.fail("not a JSON line: %q", b)
		return
	}
	f.mu.Lock()
	f.lines++
	ft := f.topics[l.Topic]
	check := l.State != nil
	var empty *followLine // a snapshot the client did not print, to check as empty
	switch l.Ev {
	case "connected", "open":
		f.connects++
		check = false
	case "disconnected", "close", "connect_failed":
		check = false
	case "error", "delta_failed":
		if l.Ev == "error" && l.Topic != "" {
			// A resubscription refused: the client no longer follows the topic.
			f.failLocked("its subscription to %s ended: %s", l.Topic, l.Error)
		}
		f.errorLines = append(f.errorLines, strings.TrimSpace(string(b)))
		check = false
	case "gap":
		if ft != nil {
			ft.gaps++
		}
		check = false
	case "subscribed", "snapshot", "pub":
		if ft == nil {
			f.failLocked("line of a topic it did not subscribe to: %s", b)
			check = false
			break
		}
		var ok bool
		if ok, empty = f.sequence(ft, &l); !ok {
			check = false
		}
	default:
		f.failLocked("unknown line %s", b)
		check = false
	}
	f.mu.Unlock()
	if empty != nil {
		f.check(ft, empty)
	}
	if check {
		f.check(ft, &l)
	}
}

// check compares the state of l with the reference's at its position.
func (f *follower) check(ft *followTopic, l *followLine) {
	want, err := f.ref.topic(ft.topic).stateAt(&ft.cur, l.Epoch, l.Seq, 15*time.Second)
	var diff string
	if err == nil {
		diff = f.compare(l.State, want)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case err != nil:
		f.failLocked("%s %s at seq %d: %v", l.Ev, ft.topic, l.Seq, err)
	case diff != "":
		ft.mismatches++
		f.failLocked("%s %s at seq %d: the state differs from the reference's: %s", l.Ev, ft.topic, l.Seq, diff)
	default:
		ft.checked++
	}
}

// sequence applies the rules of positions to a subscribed, snapshot or
// pub line; false when the line is wrong (recorded). A publication right
// after an answer that announced a snapshot, without a snapshot line, is
// allowed when the snapshot was empty (the Python follower cannot tell
// that its first answer's snapshot has no entries): empty is then that
// snapshot, to check.
func (f *follower) sequence(ft *followTopic, l *followLine) (ok bool, empty *followLine) {
	where := fmt.Sprintf("%s %s at %s/%d", l.Ev, ft.topic, l.Epoch, l.Seq)
	switch l.Ev {
	case "subscribed":
		if !l.Resubscribed {
			if ft.have {
				f.failLocked("%s: a second first answer", where)
				return false, nil
			}
			ft.have, ft.epoch, ft.last, ft.snapshotDue = true, l.Epoch, l.Seq, true
			break
		}
		ft.resubscribed++
		if !ft.have {
			f.failLocked("%s: a resubscription before the first answer", where)
			return false, nil
		}
		switch {
		case l.Recovery == "ok":
			if l.Epoch != ft.epoch || l.Seq != ft.last {
				f.failLocked("%s: recovery ok from another position than %s/%d", where, ft.epoch, ft.last)
				return false, nil
			}
			ft.recoveredOK++
		case l.Recovery == "snapshot" || l.Recovery == "none":
			// A snapshot replaces the state at its position ("none": a
			// fresh subscription after a delta that did not apply).
			if l.Epoch != ft.epoch || l.Seq < ft.last {
				f.failLocked("%s: a snapshot behind %s/%d", where, ft.epoch, ft.last)
				return false, nil
			}
			ft.recoveredSnapshot++
			ft.skipped += l.Seq - ft.last
			f.snapshotLog = append(f.snapshotLog, fmt.Sprintf("%s: recovery %q at %d, from %d", ft.topic, l.Recovery, l.Seq, ft.last))
			ft.last, ft.snapshotDue = l.Seq, true
		default:
			f.failLocked("%s: recovery %q from %s/%d", where, l.Recovery, ft.epoch, ft.last)
			return false, nil
		}
	case "snapshot":
		if !ft.snapshotDue || l.Epoch != ft.epoch || l.Seq != ft.last {
			f.failLocked("%s: a snapshot not announced at this position (due %v, at %s/%d)", where, ft.snapshotDue, ft.epoch, ft.last)
			return false, nil
		}
		ft.snapshotDue = false
		ft.snapshots++
	case "pub":
		if ft.snapshotDue && ft.have {
			empty = &followLine{Ev: "empty snapshot", Epoch: ft.epoch, Seq: ft.last, State: map[string]string{}}
			ft.snapshotDue = false
			ft.snapshots++
		}
		switch {
		case !ft.have:
			f.failLocked("%s: a publication before the answer", where)
			return false, nil
		case l.Epoch != ft.epoch:
			f.failLocked("%s: epoch after %s", where, ft.epoch)
			return false, nil
		case l.Seq <= ft.last:
			f.failLocked("%s: a duplicate, after %d", where, ft.last)
			return false, nil
		case l.Seq != ft.last+1:
			f.failLocked("%s: a gap after %d", where, ft.last)
			return false, nil
		}
		ft.last = l.Seq
		ft.pubs++
		if l.Delta {
			ft.deltas++
		}
	}
	if l.State != nil && ft.snapshotDue {
		ft.snapshotDue = false // an answer with its snapshot complete: no entries
		ft.snapshots++
	}
	return true, empty
}

// compare describes how a follower's state differs from the reference's
// ("" if it does not).
func (f *follower) compare(got map[string]string, want map[string]refValue) string {
	var diffs []string
	for k, v := range got {
		w, ok := want[k]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("key %q: has %q, the reference none", k, v))
		case !f.sameValue(v, w.data):
			diffs = append(diffs, fmt.Sprintf("key %q: has %q, the reference %q", k, v, w.data))
		}
	}
	for k, w := range want {
		if _, ok := got[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("key %q: missing, the reference has %q (seq %d)", k, w.data, w.seq))
		}
	}
	slices.Sort(diffs)
	if len(diffs) > 3 {
		diffs = append(diffs[:3], fmt.Sprintf("and %d more", len(diffs)-3))
	}
	return strings.Join(diffs, "; ")
}

// sameValue reports whether a value printed by the follower is data:
// base64 of it, or in wsloop.json its text or the same JSON value.
func (f *follower) sameValue(got string, data []byte) bool {
	if !f.text {
		b, err := base64.StdEncoding.DecodeString(got)
		return err == nil && bytes.Equal(b, data)
	}
	if got == string(data) {
		return true
	}
	var a, b any
	return json.Unmarshal([]byte(got), &a) == nil && json.Unmarshal(data, &b) == nil && reflect.DeepEqual(a, b)
}
