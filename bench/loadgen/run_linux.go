//go:build linux

package loadgen

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// Connection states.
const (
	stIdle        uint8 = iota // not started yet
	stConnecting               // non-blocking connect in progress
	stUpgrading                // request sent, waiting for the 101
	stSubscribing              // fanout: upgraded, waiting for the subscriptions' answers
	stOpen                     // upgraded (and, in fanout mode, subscribed)
	stClosed                   // failed, lost or closed
)

var (
	errConnectTimeout = errors.New("connect/upgrade timeout")
	errConnectPhase   = errors.New("connect phase cap reached")
	errEOF            = errors.New("connection closed by server")
	errPeerClose      = errors.New("close frame from server")
	errBadEcho        = errors.New("echo: message without a valid send time")
	errFragment       = errors.New("protocol: bad fragmentation")
	errDeadline       = errors.New("loadgen: hard deadline reached")
	errNoSchedule     = errors.New("loadgen: no fan-out window within the hold")
	errNoStop         = errors.New("loadgen: no fan-out stop within the hold")
)

// handshake lives only while a connection is upgrading.
type handshake struct {
	accept [acceptLen]byte
	buf    []byte
}

// conn is the whole per-connection state; buffers exist only while needed.
type conn struct {
	fd       int32
	state    uint8
	frag     bool  // inside a fragmented data message
	out      int32 // measured messages awaiting their echo
	deadline int64 // connect+upgrade deadline, ns since engine start
	fragTS   int64 // send time carried by the first fragment
	hs       *handshake
	rbuf     []byte // partial frame carried over between reads
	wbuf     []byte // bytes the socket did not take yet
}

// engine is shared by the loops of one run.
type engine struct {
	cfg          Config
	dst          unix.SockaddrInet4
	srcs         [][4]byte
	base         time.Time
	hardDeadline int64 // ns since base
	connectCap   int64 // ns since base
	maxPayload   int

	stop      atomic.Bool
	trafficOn atomic.Bool
	// Written before trafficOn is set, read-only afterwards.
	trafficStart, measureStart, measureEnd, drainEnd int64
	totalOpen                                        int

	connDone    chan *loop
	trafficDone chan *loop

	// fanout: the topic list's indexes, the wall clock at base, and the
	// window in Unix ns (written before trafficOn is set).
	topicIdx         map[string]int
	baseUnix         int64
	winStart, winEnd int64
}

func (e *engine) now() int64 { return int64(time.Since(e.base)) }

// unixNow is the wall clock in Unix ns, read through the monotonic clock.
func (e *engine) unixNow() int64 { return e.baseUnix + e.now() }

// loop is one epoll loop owning a contiguous block of connections.
type loop struct {
	e       *engine
	idx     int
	epfd    int
	firstID int
	conns   []conn
	budget  int                // connects in flight allowed
	dst     unix.SockaddrInet4 // per loop: Connect writes into it

	next     int     // next connection to start
	pending  int     // connecting or upgrading
	pendQ    []int32 // started connections in deadline order
	pendHead int
	ok       int
	failed   int

	connectDone bool
	traffic     bool
	sendingDone bool
	reported    bool
	open        []int32

	// open loop pacing
	interval  float64
	schedBase float64
	k         int64
	nextDue   int64
	rr        int

	rng     *rand.ChaCha8
	events  []unix.EpollEvent
	rbuf    []byte
	out     []byte
	payload []byte
	hist    *hdrhistogram.Histogram

	sent, recv, bytesRecv, errors, backlogged int64
	outstanding                               int64

	connErrs map[string]int
	runErrs  map[string]int

	fan *fanState // fanout mode only
}

// Run opens cfg.Conns WebSocket connections and drives them as cfg.Mode
// says, then closes them all and reports. It returns early (with what was
// measured so far) when ctx is cancelled. The error is non-nil when the run
// could not be set up or hit its hard deadline; a Result is returned whenever
// connections were attempted.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	ap, _ := ParseLoopbackAddr(cfg.Addr)
	srcs, _ := SourceAddrs(cfg.Src, cfg.SrcCount)
	nl := cfg.Loops
	if nl == 0 {
		nl = runtime.GOMAXPROCS(0)
	}
	nl = max(1, min(nl, cfg.Conns))

	e := &engine{
		cfg:         cfg,
		dst:         unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()},
		srcs:        srcs,
		maxPayload:  max(cfg.Size, 1<<16),
		connDone:    make(chan *loop, nl),
		trafficDone: make(chan *loop, nl),
	}
	e.base = time.Now()
	e.baseUnix = e.base.UnixNano()
	if cfg.Mode == ModeFanout {
		e.topicIdx = make(map[string]int, len(cfg.Topics))
		for i, tp := range cfg.Topics {
			e.topicIdx[tp] = i
		}
	}
	e.hardDeadline = int64(cfg.Deadline)
	e.connectCap = int64(cfg.connectPhaseCap())

	loops := make([]*loop, 0, nl)
	closeAll := func() {
		for _, l := range loops {
			unix.Close(l.epfd)
		}
	}
	for i := range nl {
		lo, hi := i*cfg.Conns/nl, (i+1)*cfg.Conns/nl
		l, err := newLoop(e, i, lo, hi-lo, max(1, (cfg.ConnectInflight+nl-1)/nl))
		if err != nil {
			closeAll()
			return nil, err
		}
		loops = append(loops, l)
	}

	var wg sync.WaitGroup
	for _, l := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.run()
		}()
	}

	res := &Result{Mode: cfg.Mode, ConnsRequested: cfg.Conns}
	hard := time.NewTimer(cfg.Deadline)
	defer hard.Stop()
	var runErr error
	aborted := false
	for got := 0; got < nl && !aborted; {
		select {
		case <-e.connDone:
			got++
		case <-ctx.Done():
			aborted = true
		case <-hard.C:
			aborted, runErr = true, errDeadline
		}
	}
	res.ConnectSeconds = time.Since(e.base).Seconds()
	if !aborted {
		ok, failed := 0, 0
		connErrs := map[string]int{}
		for _, l := range loops {
			ok += l.ok
			failed += l.failed
			for k, v := range l.connErrs {
				connErrs[k] += v
			}
		}
		logCounts(cfg, "connect failures", connErrs)
		if cfg.Ready != nil {
			cfg.Ready(ok, failed, res.ConnectSeconds)
		}
		mode := cfg.Mode
		if ok == 0 {
			mode = "" // nothing to hold or drive
		}
		switch mode {
		case ModeIdle:
			start := time.Now()
			t := time.NewTimer(cfg.Hold)
			select {
			case <-t.C:
			case <-ctx.Done():
			case <-hard.C:
				runErr = errDeadline
			}
			t.Stop()
			res.DurationSeconds = time.Since(start).Seconds()
		case ModeEcho:
			now := e.now()
			e.totalOpen = ok
			e.trafficStart = now
			e.measureStart = now + int64(cfg.Warmup)
			e.measureEnd = e.measureStart + int64(cfg.Duration)
			e.drainEnd = e.measureEnd + int64(cfg.Drain)
			e.trafficOn.Store(true)
		wait:
			for got := 0; got < nl; {
				select {
				case <-e.trafficDone:
					got++
				case <-ctx.Done():
					break wait
				case <-hard.C:
					runErr = errDeadline
					break wait
				}
			}
			end := min(e.now(), e.measureEnd)
			res.DurationSeconds = max(0, float64(end-e.measureStart)/1e9)
		case ModeFanout:
			secs, err := e.fanoutWait(ctx, hard.C)
			res.DurationSeconds = secs
			if err != nil {
				runErr = err
			}
		}
	}
	e.stop.Store(true)
	wg.Wait()

	h := NewHistogram()
	ok := 0
	runErrs := map[string]int{}
	for _, l := range loops {
		ok += l.ok
		res.MsgsSent += l.sent
		res.MsgsRecv += l.recv
		res.BytesRecv += l.bytesRecv
		res.Errors += l.errors
		res.Backlogged += l.backlogged
		if f := l.fan; f != nil {
			res.Deliveries += f.deliveries
			res.Gaps += f.gaps
			res.Dups += f.dups
			res.SeqChecked += f.seqChecked
			res.SeqGaps += f.seqGaps
			res.SeqDups += f.seqDups
			res.BinaryMsgs += f.binaryMsgs
		}
		h.Merge(l.hist)
		for k, v := range l.runErrs {
			runErrs[k] += v
		}
	}
	logCounts(cfg, "errors", runErrs)
	if runErr != nil {
		res.Errors++
	}
	res.ConnsOK = ok
	res.ConnsFailed = cfg.Conns - ok
	if err := res.SetHistogram(h); err != nil && runErr == nil {
		runErr = err
	}
	return res, runErr
}

func logCounts(cfg Config, what string, m map[string]int) {
	if cfg.Log == nil || len(m) == 0 {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, m[k])
	}
	cfg.Log(what + ": " + strings.Join(parts, "; "))
}

func newLoop(e *engine, idx, first, n, budget int) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("loadgen: epoll_create1: %w", err)
	}
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		unix.Close(epfd)
		return nil, err
	}
	l := &loop{
		e:       e,
		idx:     idx,
		epfd:    epfd,
		firstID: first,
		conns:   make([]conn, n),
		budget:  budget,
		dst:     e.dst,
		rng:     rand.NewChaCha8(seed),
		events:  make([]unix.EpollEvent, 512),
		rbuf:    make([]byte, 64<<10),
		hist:    NewHistogram(),
		nextDue: math.MaxInt64,
	}
	for i := range l.conns {
		l.conns[i].fd = -1
	}
	if e.cfg.Mode == ModeFanout {
		l.fan = newFanState(n, len(e.cfg.Topics))
	}
	if e.cfg.Mode == ModeEcho {
		l.payload = make([]byte, e.cfg.Size)
		for i := range l.payload {
			l.payload[i] = byte(l.rng.Uint64())
		}
	}
	return l, nil
}

func (l *loop) run() {
	e := l.e
	defer l.closeAll()
	for !e.stop.Load() {
		now := e.now()
		if now >= e.hardDeadline {
			return
		}
		if !l.connectDone {
			l.connectStep(now)
		}
		if l.connectDone && l.fan == nil && e.trafficOn.Load() {
			if !l.traffic {
				l.startTraffic(now)
			}
			l.trafficStep(e.now())
		}
		n, err := epollWait(l.epfd, l.events, l.waitTime(e.now()))
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			l.noteRunErr(fmt.Errorf("epoll_wait: %w", err))
			l.errors++
			return
		}
		for _, ev := range l.events[:n] {
			l.handle(int(ev.Fd), ev.Events)
		}
		// Fan-out subscribers read in batches: after a partial batch of
		// events, let more arrive before the next wait (one wake-up per
		// poll interval instead of one per publication).
		if l.fan != nil && l.connectDone && e.cfg.PollInterval > 0 && n > 0 && n < len(l.events) {
			time.Sleep(e.cfg.PollInterval)
		}
	}
}

// waitTime is how long epoll_wait may block, in nanoseconds.
func (l *loop) waitTime(now int64) int64 {
	e := l.e
	t := int64(20 * time.Millisecond)
	if !l.connectDone && l.pending < l.budget && l.next < len(l.conns) {
		return 0
	}
	if l.traffic && !l.reported {
		if !l.sendingDone {
			t = min(t, e.measureEnd-now)
			if e.cfg.Rate > 0 {
				t = min(t, l.nextDue-now)
			}
		} else {
			t = min(t, e.drainEnd-now)
		}
	}
	return max(t, 0)
}

// epoll_pwait2 (Linux 5.11) takes a nanosecond timeout; older kernels fall
// back to epoll_wait's milliseconds.
var noPwait2 atomic.Bool

func epollWait(epfd int, ev []unix.EpollEvent, ns int64) (int, error) {
	if !noPwait2.Load() {
		ts := unix.NsecToTimespec(ns)
		r, _, errno := unix.Syscall6(unix.SYS_EPOLL_PWAIT2, uintptr(epfd),
			uintptr(unsafe.Pointer(&ev[0])), uintptr(len(ev)),
			uintptr(unsafe.Pointer(&ts)), 0, 0)
		if errno == 0 {
			return int(r), nil
		}
		if errno != unix.ENOSYS {
			return 0, errno
		}
		noPwait2.Store(true)
	}
	return unix.EpollWait(epfd, ev, int((ns+999_999)/1_000_000))
}

// connectStep starts connects up to the budget and expires slow ones.
func (l *loop) connectStep(now int64) {
	e := l.e
	if now >= e.connectCap {
		for ; l.pendHead < len(l.pendQ); l.pendHead++ {
			l.drop(int(l.pendQ[l.pendHead]), errConnectPhase)
		}
		for ; l.next < len(l.conns); l.next++ {
			l.failed++
			l.noteConnErr(errConnectPhase)
		}
	}
	for l.pending < l.budget && l.next < len(l.conns) {
		l.startConnect(l.next, now)
		l.next++
	}
	for l.pendHead < len(l.pendQ) {
		i := int(l.pendQ[l.pendHead])
		c := &l.conns[i]
		if c.state == stConnecting || c.state == stUpgrading || c.state == stSubscribing {
			if c.deadline > now {
				break
			}
			l.drop(i, errConnectTimeout)
		}
		l.pendHead++
	}
	if l.pendHead > 1024 && l.pendHead*2 > len(l.pendQ) {
		l.pendQ = append(l.pendQ[:0], l.pendQ[l.pendHead:]...)
		l.pendHead = 0
	}
	if l.next == len(l.conns) && l.pending == 0 {
		l.connectDone = true
		l.pendQ, l.pendHead = nil, 0
		e.connDone <- l
	}
}

func (l *loop) startConnect(i int, now int64) {
	e := l.e
	c := &l.conns[i]
	fail := func(fd int, err error) {
		if fd >= 0 {
			unix.Close(fd)
		}
		c.state = stClosed
		l.failed++
		l.noteConnErr(err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fail(-1, fmt.Errorf("socket: %w", err))
		return
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1); err != nil {
		fail(fd, fmt.Errorf("IP_BIND_ADDRESS_NO_PORT: %w", err))
		return
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		fail(fd, fmt.Errorf("TCP_NODELAY: %w", err))
		return
	}
	src := e.srcs[(l.firstID+i)%len(e.srcs)]
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: src}); err != nil {
		fail(fd, fmt.Errorf("bind: %w", err))
		return
	}
	if err := unix.Connect(fd, &l.dst); err != nil && err != unix.EINPROGRESS {
		fail(fd, fmt.Errorf("connect: %w", err))
		return
	}
	ev := unix.EpollEvent{
		Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET,
		Fd:     int32(i),
	}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		fail(fd, fmt.Errorf("epoll_ctl: %w", err))
		return
	}
	c.fd = int32(fd)
	c.state = stConnecting
	c.deadline = now + int64(e.cfg.ConnectTimeout)
	l.pending++
	l.pendQ = append(l.pendQ, int32(i))
}

func (l *loop) noteConnErr(err error) {
	if l.connErrs == nil {
		l.connErrs = map[string]int{}
	}
	l.connErrs[err.Error()]++
}

func (l *loop) noteRunErr(err error) {
	if l.runErrs == nil {
		l.runErrs = map[string]int{}
	}
	l.runErrs[err.Error()]++
}

// drop closes connection i after a failure, counting it as a failed connect
// or (once upgraded) as an error.
func (l *loop) drop(i int, err error) {
	c := &l.conns[i]
	switch c.state {
	case stConnecting, stUpgrading, stSubscribing:
		l.pending--
		l.failed++
		l.noteConnErr(err)
	case stOpen:
		if !l.e.stop.Load() {
			l.errors++
			l.noteRunErr(err)
		}
		l.outstanding -= int64(c.out)
	default:
		return
	}
	unix.Close(int(c.fd))
	*c = conn{fd: -1, state: stClosed}
}

func (l *loop) closeAll() {
	for i := range l.conns {
		c := &l.conns[i]
		switch c.state {
		case stConnecting, stUpgrading, stSubscribing, stOpen:
			unix.Close(int(c.fd))
			*c = conn{fd: -1, state: stClosed}
		}
	}
	unix.Close(l.epfd)
}

func (l *loop) handle(i int, events uint32) {
	if i < 0 || i >= len(l.conns) {
		return
	}
	c := &l.conns[i]
	l.out = l.out[:0]
	switch c.state {
	case stConnecting:
		soerr, err := unix.GetsockoptInt(int(c.fd), unix.SOL_SOCKET, unix.SO_ERROR)
		if err == nil && soerr != 0 {
			err = syscall.Errno(soerr)
		}
		if err != nil {
			l.drop(i, fmt.Errorf("connect: %w", err))
			return
		}
		if events&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
			return
		}
		if events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
			l.drop(i, errors.New("connect: hang-up"))
			return
		}
		var raw [16]byte
		binary.LittleEndian.PutUint64(raw[:8], l.rng.Uint64())
		binary.LittleEndian.PutUint64(raw[8:], l.rng.Uint64())
		key := makeKey(raw)
		c.hs = &handshake{accept: acceptFor(key[:])}
		c.state = stUpgrading
		l.out = appendRequest(l.out, l.e.cfg.Addr, l.e.cfg.Path, key[:], l.e.cfg.Extensions, l.e.cfg.Subprotocol)
		l.write(i)
	case stUpgrading:
		if events&unix.EPOLLOUT != 0 && len(c.wbuf) > 0 && !l.flush(i) {
			return
		}
		if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
			l.readHandshake(i)
		}
	case stSubscribing, stOpen:
		if events&unix.EPOLLOUT != 0 && len(c.wbuf) > 0 && !l.flush(i) {
			return
		}
		if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
			l.readFrames(i)
		}
	}
}

// write sends l.out on connection i (after anything already queued) and
// empties l.out. It reports whether the connection is still alive.
func (l *loop) write(i int) bool {
	c := &l.conns[i]
	data := l.out
	l.out = l.out[:0]
	if len(data) == 0 {
		return true
	}
	if len(c.wbuf) > 0 {
		c.wbuf = append(c.wbuf, data...)
		return true
	}
	for len(data) > 0 {
		n, ok := l.writeSome(i, data)
		if !ok {
			return false
		}
		if n == 0 {
			break
		}
		data = data[n:]
	}
	if len(data) > 0 {
		c.wbuf = append([]byte(nil), data...)
	}
	return true
}

// flush writes queued bytes after EPOLLOUT.
func (l *loop) flush(i int) bool {
	c := &l.conns[i]
	for len(c.wbuf) > 0 {
		n, ok := l.writeSome(i, c.wbuf)
		if !ok {
			return false
		}
		if n == 0 {
			return true
		}
		m := copy(c.wbuf, c.wbuf[n:])
		c.wbuf = c.wbuf[:m]
	}
	c.wbuf = nil
	return true
}

// readSome reads once into l.rbuf, retrying EINTR. It returns what was
// read, nothing with ok on EAGAIN, and ok == false once it has dropped the
// connection for a read error or EOF (what names the phase in the error).
func (l *loop) readSome(i int, what string) (p []byte, ok bool) {
	for {
		n, err := unix.Read(int(l.conns[i].fd), l.rbuf)
		switch {
		case n > 0:
			return l.rbuf[:n], true
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return nil, true
		case err == nil:
			err = errEOF
		}
		l.drop(i, fmt.Errorf("%s: %w", what, err))
		return nil, false
	}
}

// writeSome writes once from p, retrying EINTR. It returns how much was
// written (0 on EAGAIN), and ok == false once it has dropped the connection.
func (l *loop) writeSome(i int, p []byte) (n int, ok bool) {
	for {
		n, err := unix.Write(int(l.conns[i].fd), p)
		switch {
		case n > 0:
			return n, true
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, true
		case err == nil:
			err = errEOF
		}
		l.drop(i, fmt.Errorf("write: %w", err))
		return 0, false
	}
}

func (l *loop) readHandshake(i int) {
	c := &l.conns[i]
	for {
		p, ok := l.readSome(i, "upgrade")
		if !ok || len(p) == 0 {
			return
		}
		c.hs.buf = append(c.hs.buf, p...)
		hl, err := parseResponse(c.hs.buf, c.hs.accept[:], l.e.cfg.Extensions != "")
		if err != nil {
			l.drop(i, err)
			return
		}
		if hl > 0 {
			rest := c.hs.buf[hl:]
			c.hs = nil
			if l.fan != nil {
				c.state = stSubscribing
				l.subscribe(i)
			} else {
				c.state = stOpen
				l.pending--
				l.ok++
			}
			if len(rest) > 0 {
				l.consume(i, rest)
				if !c.live() {
					return
				}
			}
			l.readFrames(i)
			return
		}
		if len(p) < len(l.rbuf) {
			return
		}
	}
}

func (l *loop) readFrames(i int) {
	c := &l.conns[i]
	for {
		p, ok := l.readSome(i, "read")
		if !ok {
			return
		}
		if len(p) == 0 {
			break
		}
		l.consume(i, p)
		if !c.live() {
			return
		}
		if len(p) < len(l.rbuf) {
			break
		}
	}
	l.write(i)
}

// consume parses the frames in data (after any partial frame kept from
// before) and keeps the incomplete tail.
func (l *loop) consume(i int, data []byte) {
	c := &l.conns[i]
	buffered := false
	if len(c.rbuf) > 0 {
		c.rbuf = append(c.rbuf, data...)
		data = c.rbuf
		buffered = true
	}
	off := 0
	for off < len(data) {
		h, ok, err := parseHeader(data[off:], l.e.maxPayload)
		if err != nil {
			l.drop(i, err)
			return
		}
		if !ok || len(data)-off < h.hdrLen+h.payLen {
			break
		}
		p := data[off+h.hdrLen : off+h.hdrLen+h.payLen]
		off += h.hdrLen + h.payLen
		if !l.onFrame(i, h, p) {
			return
		}
	}
	rest := data[off:]
	switch {
	case buffered:
		m := copy(c.rbuf, rest)
		c.rbuf = c.rbuf[:m]
		if m == 0 && l.e.cfg.Mode != ModeEcho {
			c.rbuf = nil
		}
	case len(rest) > 0:
		c.rbuf = append(c.rbuf[:0], rest...)
	}
}

// onFrame handles one complete frame; false means the connection is gone.
func (l *loop) onFrame(i int, h header, p []byte) bool {
	c := &l.conns[i]
	switch h.op {
	case opPing:
		l.out = appendFrame(l.out, opPong, p, l.mask())
	case opPong:
	case opClose:
		l.drop(i, errPeerClose)
		return false
	case opText, opBinary:
		if c.frag || (l.fan != nil && !h.fin) {
			l.drop(i, errFragment)
			return false
		}
		if l.fan != nil {
			return l.onFanout(i, h.op == opBinary, p)
		}
		if len(p) < 8 {
			if l.e.cfg.Mode == ModeEcho {
				l.drop(i, errBadEcho)
				return false
			}
			return true
		}
		ts := int64(binary.LittleEndian.Uint64(p))
		if !h.fin {
			c.frag, c.fragTS = true, ts
			return true
		}
		return l.onMessage(i, ts, len(p))
	case opCont:
		if !c.frag || l.fan != nil {
			l.drop(i, errFragment)
			return false
		}
		if h.fin {
			c.frag = false
			return l.onMessage(i, c.fragTS, l.e.cfg.Size)
		}
	}
	return true
}

// onMessage accounts for one echoed message and, in closed loop, sends the
// next one.
func (l *loop) onMessage(i int, ts int64, n int) bool {
	e := l.e
	if e.cfg.Mode != ModeEcho || !l.traffic {
		return true
	}
	now := e.now()
	if ts <= 0 || ts > now {
		l.drop(i, errBadEcho)
		return false
	}
	c := &l.conns[i]
	if ts >= e.measureStart && ts < e.measureEnd {
		us := max((now-ts)/1000, HistMinMicros)
		l.hist.RecordValue(min(us, HistMaxMicros))
		l.recv++
		l.bytesRecv += int64(n)
		l.outstanding--
		c.out--
	}
	if e.cfg.Rate == 0 && now < e.measureEnd && !e.stop.Load() {
		l.appendMsg(i, now)
	}
	return true
}

func (l *loop) mask() (m [4]byte) {
	binary.LittleEndian.PutUint32(m[:], uint32(l.rng.Uint64()))
	return m
}

// appendMsg appends one masked binary message carrying send time ts to
// l.out.
func (l *loop) appendMsg(i int, ts int64) {
	e := l.e
	m := l.mask()
	l.out = appendFrameHeader(l.out, opBinary, len(l.payload), m)
	ps := len(l.out)
	l.out = append(l.out, l.payload...)
	binary.LittleEndian.PutUint64(l.out[ps:], uint64(ts))
	ws.Cipher(l.out[ps:], m, 0)
	if ts >= e.measureStart && ts < e.measureEnd {
		l.sent++
		l.outstanding++
		l.conns[i].out++
	}
}

func (l *loop) startTraffic(now int64) {
	e := l.e
	l.traffic = true
	for i := range l.conns {
		if l.conns[i].state == stOpen {
			l.open = append(l.open, int32(i))
		}
	}
	if len(l.open) == 0 {
		return
	}
	if e.cfg.Rate == 0 {
		for _, i := range l.open {
			if l.conns[i].state != stOpen {
				continue
			}
			l.out = l.out[:0]
			for range e.cfg.Inflight {
				l.appendMsg(int(i), now)
			}
			l.write(int(i))
		}
		return
	}
	share := e.cfg.Rate * float64(len(l.open)) / float64(max(e.totalOpen, 1))
	l.interval = 1e9 / share
	// Stagger the loops' schedules within one interval.
	l.schedBase = float64(e.trafficStart) + l.interval*float64(l.idx)/float64(cap(e.connDone))
	l.k = 0
	l.nextDue = int64(l.schedBase)
}

// trafficStep sends the open-loop messages that are due and notices the end
// of the run.
func (l *loop) trafficStep(now int64) {
	e := l.e
	if e.cfg.Rate > 0 && !l.sendingDone && len(l.open) > 0 {
		for sent := 0; l.nextDue <= now && l.nextDue < e.measureEnd && sent < 4096; sent++ {
			ts := l.nextDue
			i := int(l.open[l.rr])
			if l.rr++; l.rr == len(l.open) {
				l.rr = 0
			}
			l.k++
			l.nextDue = int64(l.schedBase + float64(l.k)*l.interval)
			c := &l.conns[i]
			if c.state != stOpen {
				continue
			}
			if len(c.wbuf) > 0 {
				if ts >= e.measureStart {
					l.backlogged++
				}
				continue
			}
			l.out = l.out[:0]
			l.appendMsg(i, ts)
			l.write(i)
		}
	}
	if now >= e.measureEnd {
		l.sendingDone = true
	}
	if l.sendingDone && !l.reported && (l.outstanding <= 0 || now >= e.drainEnd) {
		l.reported = true
		e.trafficDone <- l
	}
}
