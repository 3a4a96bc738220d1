package soak

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/wsloop/wsloop/bench/internal/scrape"
)

// linkPhases runs the netem and half-open phases on one Link: a single
// wsloop (joined to the same NATS, so it serves the feed's topics)
// listens on the link's host address and NetemSubs subscribers inside the
// namespace subscribe through it.
func (r *runner) linkPhases(ctx context.Context) {
	netem, half := r.cfg.has(PhaseNetem), r.cfg.has(PhaseHalfOpen)
	if !netem && !half {
		r.res.Skipped = append(r.res.Skipped, PhaseNetem+", "+PhaseHalfOpen+": not selected")
		return
	}
	if r.cfg.NewLink == nil {
		why := r.cfg.LinkMissing
		if why == "" {
			why = "no impaired link available"
		}
		r.res.Skipped = append(r.res.Skipped, PhaseNetem+", "+PhaseHalfOpen+": "+why)
		return
	}
	r.sleep(ctx, r.cfg.FaultGap)
	link, err := r.cfg.NewLink("wssoak")
	if err != nil {
		r.res.check("link", "netns link created", false, err.Error(), "")
		return
	}
	defer link.Close()
	edge, err := startEdge(ctx, r.bin, r.dir, &r.cfg, r.nats.url(), link.HostAddr().String())
	if err != nil {
		edge.stop()
		r.res.check("link", "edge wsloop started", false, err.Error(), "")
		return
	}
	defer edge.stop()
	r.smp.edge.Store(edge)
	defer r.smp.edge.Store(nil)
	np := startPool("netns", poolOptions{url: "ws://" + edge.addr + "/", n: r.cfg.NetemSubs, allEvery: 2, symbols: r.symbols, heartbeat: r.cfg.Heartbeat, dial: link.DialContext})
	defer np.close()
	if err := waitFor(ctx, 30*time.Second, "netns subscribers subscribed", func() bool { return np.stats().Subscribed == r.cfg.NetemSubs }); err != nil {
		r.res.check("link", "netns subscribers subscribed", false, err.Error(), "all")
		return
	}
	r.logf("link: edge wsloop on %s, %d subscribers in the namespace", edge.addr, r.cfg.NetemSubs)
	if netem {
		r.faultNetem(ctx, link, np)
	}
	if half {
		if netem {
			r.sleep(ctx, r.cfg.FaultGap)
		}
		r.faultHalfOpen(ctx, link, np, edge)
	}
}

// faultNetem impairs the link for NetemHold: the namespace's subscribers
// must receive everything, in order, and catch up once it is clear.
func (r *runner) faultNetem(ctx context.Context, link Link, np *pool) {
	const phase = PhaseNetem
	im := r.cfg.Impairment
	before := np.stats()
	from := r.now()
	if err := link.Impair(im); err != nil {
		r.res.check(phase, "link impaired", false, err.Error(), "")
		return
	}
	r.logf("netem: loss %.1f%%, reorder %.1f%%, duplicate %.1f%%, delay %v ± %v for %v", 100*im.Loss, 100*im.Reorder, 100*im.Duplicate, im.Delay, im.Jitter, r.cfg.NetemHold)
	r.sleep(ctx, r.cfg.NetemHold)
	d, err := catchUp(ctx, np, r.url(), 60*time.Second)
	_ = link.Impair(Impairment{})
	after := np.stats()
	r.window("netem", from)
	kept := 0
	for i := range after.received {
		if after.received[i] > before.received[i] {
			kept++
		}
	}
	r.res.check(phase, "namespace subscribers received", kept == after.Subscribers && err == nil,
		fmt.Sprintf("%d of %d received %d messages through the impaired link and caught up %s after it (%v)", kept, after.Subscribers, after.Received-before.Received, secs(d), errText(err)),
		"all, caught up within 60 s")
	r.res.streamChecks(phase, before, after)
}

// faultHalfOpen blackholes the link: no FIN or reset reaches either side.
// The edge wsloop's ping/pong must find its connections dead, the
// clients' heartbeat must find theirs, and after the link is restored the
// clients must reconnect and recover what they missed.
func (r *runner) faultHalfOpen(ctx context.Context, link Link, np *pool, edge *server) {
	const phase = PhaseHalfOpen
	before := np.stats()
	m0, _ := scrape.Get(ctx, edge.adminOf(0))
	from := r.now()
	if err := link.Blackhole(true); err != nil {
		r.res.check(phase, "link blackholed", false, err.Error(), "")
		return
	}
	cut := time.Now()
	r.logf("halfopen: link blackholed")
	bound := r.cfg.PingInterval + r.cfg.PongTimeout + 20*time.Second
	var serverSaw, clientSaw time.Duration
	errS := waitFor(ctx, bound, "edge connections closed", func() bool {
		m, err := scrape.Get(ctx, edge.adminOf(0))
		if err == nil && m["wsloop_connections_open"] == 0 && serverSaw == 0 {
			serverSaw = time.Since(cut)
		}
		st := np.stats()
		if st.Connected == 0 && clientSaw == 0 {
			clientSaw = time.Since(cut)
		}
		return serverSaw > 0 && clientSaw > 0
	})
	m1, _ := scrape.Get(ctx, edge.adminOf(0))
	slowCloses := m1["wsloop_slow_consumer_disconnects_total"] - m0["wsloop_slow_consumer_disconnects_total"]
	r.res.check(phase, "server found the dead connections", serverSaw > 0,
		fmt.Sprintf("edge connections %.0f → 0 after %s (%.0f of them as slow consumers)", m0["wsloop_connections_open"], secs(serverSaw), slowCloses),
		fmt.Sprintf("within -ping-interval + -pong-timeout + 20 s = %v", bound))
	r.res.check(phase, "clients' heartbeat found them", clientSaw > 0,
		fmt.Sprintf("all %d disconnected after %s (heartbeat %v + %v)", before.Subscribers, secs(clientSaw), r.cfg.Heartbeat, r.cfg.Heartbeat), fmt.Sprintf("within %v", bound))
	_ = errS
	r.sleep(ctx, r.cfg.BlackHold)
	if err := link.Blackhole(false); err != nil {
		r.res.check(phase, "link restored", false, err.Error(), "")
		return
	}
	restored := time.Now()
	errC := waitFor(ctx, 60*time.Second, "namespace subscribers reconnected", func() bool { return np.stats().Connected == before.Subscribers })
	back := time.Since(restored)
	d, err := catchUp(ctx, np, r.url(), 60*time.Second)
	after := np.stats()
	r.window("half-open", from)
	times := np.reconnectsSince(before)
	ts := make([]float64, len(times))
	for i, t := range times {
		ts[i] = t.Seconds()
	}
	r.res.check(phase, "reconnected and recovered after restore", errC == nil && err == nil,
		fmt.Sprintf("all %d connected %s after the restore, caught up %s later; outage per client p50 %.1f s, max %.1f s (%v)",
			after.Connected, secs(back), secs(d), quantile(ts, 0.5), slices.Max(append(ts, 0)), errText(errors2(errC, err))),
		"within 60 s each")
	r.res.streamChecks(phase, before, after)
}

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func errors2(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
