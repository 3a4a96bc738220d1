// Package poller runs WebSocket connections on gnet's event loops: it
// upgrades them, decodes their frames straight from gnet's buffers, answers
// control frames on the loop, hands complete messages to a bounded worker
// pool that calls the Handler in order per connection (or calls it on the
// loop, with Config.InlineHandlers), and writes everything bound for a
// socket through its loop's one outbound queue.
//
// Goroutines: gnet's event loops run OnOpen/OnTraffic/OnClose, the queue's
// drains and every method documented "on the loop"; the pool's workers run
// the Handler unless it is inline; the ticker goroutine only advances the
// clock and asks each loop to sweep its timing wheel. Nothing runs per
// connection.
package poller

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
	"github.com/wsloop/wsloop/codec"
	"github.com/wsloop/wsloop/internal/admit"
	"github.com/wsloop/wsloop/internal/workpool"
)

// ErrServerClosed is returned by Start after Shutdown.
var ErrServerClosed = errors.New("wsloop: server closed")

var errDraining = errors.New("wsloop: draining")

// Engine is a WebSocket server on gnet. Create it with New; Start serves
// one address until Shutdown.
type Engine struct {
	gnet.BuiltinEventEngine

	cfg      Config
	handler  Handler
	onOpen   bool // the handler's OnOpen and OnClose do something (Events)
	onClose  bool
	upgrader ws.Upgrader
	pool     *workpool.Pool[task]

	handshakeTicks, closeTicks, idleTicks, pingTicks, pongTicks uint32
	goingAway                                                   *codec.CloseError // Shutdown's 1001

	gnetEng  gnet.Engine
	addr     atomic.Value  // string: the bound address
	booted   chan struct{} // closed on the first tick: the loops exist
	bootOnce sync.Once
	stopped  chan struct{}
	runErr   error
	draining atomic.Bool
	open     atomic.Int64 // upgraded and not yet closed
	conns    atomic.Int64 // TCP connections, upgraded or not

	queuedBytes atomic.Int64
	waitMu      sync.Mutex
	waiters     []*Conn
	waiting     atomic.Int32

	loopsMu sync.Mutex
	loops   map[gnet.EventLoop]*loop
	loopsV  atomic.Pointer[[]*loop]

	decoders sync.Pool
	trim     trimmer // ticker goroutine, and event loops for opened

	stats counters
	admit *admit.Gate
	tls   tlsListener
}

// New returns an engine that will call h for every connection.
func New(h Handler, cfg Config) *Engine {
	cfg = cfg.withDefaults()
	if cfg.HTTP == nil {
		cfg.HTTP = upgradeRequired
	}
	e := &Engine{
		cfg:     cfg,
		handler: h,
		onOpen:  true,
		onClose: true,
		booted:  make(chan struct{}),
		stopped: make(chan struct{}),
		loops:   make(map[gnet.EventLoop]*loop),
	}
	// A connection's handshake starts right after OnOpen advanced the
	// clock; every other timer starts from a reading that may lag by up
	// to one sweep interval (the clock moves at each sweep).
	lag := ticksOf(cfg.sweepEvery())
	e.handshakeTicks = timerTicks(cfg.HandshakeTimeout, 0)
	e.closeTicks = timerTicks(cfg.CloseTimeout, lag)
	e.idleTicks = timerTicks(cfg.IdleTimeout, lag)
	e.pingTicks = timerTicks(cfg.PingInterval, lag)
	e.pongTicks = timerTicks(cfg.PongTimeout, lag)
	e.goingAway = &codec.CloseError{Code: ws.StatusGoingAway, Reason: cfg.GoingAwayReason}
	dcfg := codec.DecoderConfig{MaxMessageSize: cfg.MaxMessageSize}
	e.decoders.New = func() any { return codec.NewDecoder(dcfg) }
	if ev, ok := h.(Events); ok {
		e.onOpen, e.onClose = ev.HandlesOpen(), ev.HandlesClose()
	}
	e.stats.handlerCounts = make([]atomic.Uint64, len(HandlerBuckets))
	e.admit = admit.New(admit.Limits{Origins: cfg.Origins, MaxConns: cfg.MaxConns, MaxConnsPerIP: cfg.MaxConnsPerIP, UpgradeRate: cfg.UpgradeRate, UpgradeBurst: cfg.UpgradeBurst})
	if len(cfg.Subprotocols) > 0 {
		protos := cfg.Subprotocols
		e.upgrader.Protocol = func(p []byte) bool {
			for _, s := range protos {
				if string(p) == s {
					return true
				}
			}
			return false
		}
	}
	e.pool = workpool.New(cfg.Workers, e.run, e.done)
	return e
}

// Start begins serving addr ("host:port") in the background and returns
// once the listener is bound, or with the error that prevented it.
//
// GOMAXPROCS is left as it is. On a process confined to one CPU (one P)
// the pool's workers still run promptly: gnet's loop yields the P
// (runtime.Gosched) before each blocking epoll_wait, and a worker readied
// while every loop waits runs once the runtime's sysmon takes the P back
// from the waiting loop. A second P would only have the kernel switch
// threads on the one CPU (bench/BENCHMARKS.md, "One P per CPU").
func (e *Engine) Start(addr string) error {
	e.boot()
	lb := gnet.RoundRobin
	if e.cfg.TLSConfig != nil {
		// TLS connections are registered from outside the loops, which
		// RoundRobin's counter does not allow (gnet.Engine.Register).
		lb = gnet.LeastConnections
	}
	opts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithLoadBalancing(lb),
		gnet.WithNumEventLoop(e.cfg.EventLoops),
		gnet.WithReusePort(e.cfg.ReusePort),
		gnet.WithReuseAddr(true),
		gnet.WithReadBufferCap(e.cfg.ReadBufferCap),
		gnet.WithTicker(true),
		gnet.WithLogger(gnetLogger{e.cfg.Logger}),
	}
	if e.cfg.KeepAlive > 0 {
		opts = append(opts, keepAliveOptions(e.cfg.KeepAlive)...)
	}
	go func() {
		err := gnet.Run(e, "tcp://"+addr, opts...)
		e.runErr = err
		close(e.stopped)
	}()
	select {
	case <-e.booted:
		if a, _ := e.addr.Load().(string); a == "" {
			e.addr.Store(addr)
		}
		if e.cfg.KeepAlive > 0 {
			if _, err := setListenerKeepAlive(e.Addr(), e.cfg.KeepAlive); err != nil {
				e.cfg.Logger.Warn("could not set TCP keepalive on the listeners", "err", err)
			}
		}
		if e.cfg.TLSConfig != nil {
			if err := e.startTLS(); err != nil {
				stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = e.gnetEng.Stop(stopCtx)
				<-e.stopped
				return err
			}
		}
		return nil
	case <-e.stopped:
		if e.runErr == nil {
			return ErrServerClosed
		}
		return e.runErr
	}
}

// boot prepares the process for serving, before gnet starts.
func (e *Engine) boot() {
	// The clock is shared and only running engines' tickers advance it:
	// bring it up to date before any connection reads it, or the first
	// sweep would see a stale open time and take a fresh handshake for a
	// timed-out one.
	clk.advance()
}

// Wait blocks until the engine has stopped and returns gnet's error, if any.
func (e *Engine) Wait() error {
	<-e.stopped
	return e.runErr
}

// Addr returns the bound address ("127.0.0.1:43567" for a ":0" request
// when it can be read back). Valid after Start returned nil.
func (e *Engine) Addr() string {
	a, _ := e.addr.Load().(string)
	return a
}

// Open reports the number of upgraded connections. Safe from any goroutine.
func (e *Engine) Open() int64 { return e.open.Load() }

// Shutdown drains the server: new upgrades get 503, every open connection
// gets a 1001 close frame after what was already queued for it, and
// Shutdown waits for them to finish their closing handshake (each at most
// the close timeout); then it stops the event loops, which drop whatever is
// left, and waits for the workers to finish their queues (OnClose for every
// connection). With ReusePort the listeners leave the port's SO_REUSEPORT
// group first.
//
// Shutdown returns by the time ctx ends, whatever the peers or the
// handlers are doing: when ctx has a deadline, the wait for closing
// handshakes ends early enough (a fifth of the time, at most a second) to
// leave room for stopping the loops and draining the workers, and what is
// not done by the deadline is left to finish in the background while
// Shutdown returns ctx's error. Safe from any goroutine.
func (e *Engine) Shutdown(ctx context.Context) error {
	if e.draining.Swap(true) {
		select {
		case <-e.stopped:
			return e.runErr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	e.stopTLS()
	if e.cfg.ReusePort {
		if n, err := leaveReusePortGroup(e.Addr()); err != nil {
			e.cfg.Logger.Warn("draining: could not leave the SO_REUSEPORT group; new connections may still arrive", "listeners", n, "err", err)
		} else {
			e.cfg.Logger.Debug("draining: left the SO_REUSEPORT group", "listeners", n)
		}
	}
	for _, l := range e.loopList() {
		_ = l.execute(l.goAway)
	}
	drainCtx := ctx
	if deadline, ok := ctx.Deadline(); ok {
		reserve := min(time.Until(deadline)/5, time.Second)
		var cancel context.CancelFunc
		drainCtx, cancel = context.WithDeadline(ctx, deadline.Add(-reserve))
		defer cancel()
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for e.conns.Load() > 0 && drainCtx.Err() == nil {
		select {
		case <-drainCtx.Done():
		case <-tick.C:
		}
	}
	var cut error // connections the drain could not wait for
	if e.conns.Load() > 0 {
		cut = drainCtx.Err()
	}
	// gnet's Stop signals the loops, then polls every 500 ms for them to
	// have exited; the engine's own stopped channel closes as soon as
	// they have, and ends the polling (which would keep the engine
	// reachable for up to half a second more).
	stopCtx, stopPolling := context.WithCancel(context.Background())
	defer stopPolling()
	go func() { _ = e.gnetEng.Stop(stopCtx) }()
	select {
	case <-e.stopped:
	case <-ctx.Done():
		return ctx.Err()
	}
	// The workers finish what is queued (OnClose for every connection)
	// unless ctx ends first; a handler that never returns cannot hold
	// Shutdown past ctx.
	drained := make(chan struct{})
	go func() {
		e.pool.Close()
		close(drained)
	}()
	select {
	case <-drained:
	case <-ctx.Done():
		return ctx.Err()
	}
	return cut
}

// loopOf returns the state of a gnet loop, creating it on first sight.
func (e *Engine) loopOf(el gnet.EventLoop) *loop {
	e.loopsMu.Lock()
	defer e.loopsMu.Unlock()
	l := e.loops[el]
	if l == nil {
		l = &loop{eng: e, el: el}
		l.drainTask = runDrain{l}
		l.batch.l = l
		e.loops[el] = l
		list := make([]*loop, 0, len(e.loops))
		for _, x := range e.loops {
			list = append(list, x)
		}
		e.loopsV.Store(&list)
	}
	return l
}

func (e *Engine) loopList() []*loop {
	if p := e.loopsV.Load(); p != nil {
		return *p
	}
	return nil
}

// remoteAddr returns gnet's remote address for c. gnet builds it once per
// connection and never changes it, so it is shared rather than copied;
// only an IPv6 zone, whose bytes gnet recycles on close, forces a copy.
func remoteAddr(gc gnet.Conn) *net.TCPAddr {
	tcp, _ := gc.RemoteAddr().(*net.TCPAddr)
	if tcp != nil && tcp.Zone != "" {
		cp := *tcp
		cp.Zone = strings.Clone(tcp.Zone)
		return &cp
	}
	return tcp
}

// getDecoder returns an idle decoder for c, set up for permessage-deflate
// if c negotiated it.
func (e *Engine) getDecoder(c *Conn) *codec.Decoder {
	d := e.decoders.Get().(*codec.Decoder)
	if c.has(flagDeflate) {
		d.Init(codec.DecoderConfig{MaxMessageSize: e.cfg.MaxMessageSize, Compression: true})
	}
	return d
}

// putDecoder returns an idle decoder to the pool.
func (e *Engine) putDecoder(d *codec.Decoder) {
	if cfg := d.Config(); cfg.Compression {
		cfg.Compression = false
		d.Init(cfg)
	}
	e.decoders.Put(d)
}

// addWaiter parks a connection paused by the global queue bound until the
// workers bring the queue under half of the bound.
func (e *Engine) addWaiter(c *Conn) {
	e.waitMu.Lock()
	e.waiters = append(e.waiters, c)
	e.waiting.Add(1)
	e.waitMu.Unlock()
	if e.queuedBytes.Load() <= e.cfg.MaxQueuedBytes/2 {
		e.wakeWaiters()
	}
}

// wakeWaiters resumes every connection parked by addWaiter.
func (e *Engine) wakeWaiters() {
	e.waitMu.Lock()
	ws := e.waiters
	e.waiters = nil
	e.waiting.Store(0)
	e.waitMu.Unlock()
	for _, c := range ws {
		if c.unpause(pauseQueue) {
			_ = c.gc.Wake(nil)
		}
	}
}

// Draining reports whether Shutdown has begun. Safe from any goroutine.
func (e *Engine) Draining() bool { return e.draining.Load() }
