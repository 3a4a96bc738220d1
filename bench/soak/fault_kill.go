package soak

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"time"

	"github.com/wsloop/wsloop/bench/internal/scrape"
)

// faultKill kills the last worker slot (not slot 0, which runs the feed)
// with SIGKILL: the supervisor must restart it, the subscribers it held
// must reconnect and recover, and the others must not notice.
func (r *runner) faultKill(ctx context.Context) {
	const phase = PhaseKill
	slot := r.cfg.Procs - 1
	pid, ok := r.feed.workers()[slot]
	if !ok {
		r.res.check(phase, "worker found", false, fmt.Sprintf("no worker in slot %d", slot), "")
		return
	}
	held := -1.0
	if m, err := scrape.Get(ctx, r.feed.adminOf(slot)); err == nil {
		held = m["wsloop_connections_open"]
	}
	before := r.pool.stats()
	from := r.now()
	r.logf("kill -9 worker %d (pid %d, %.0f connections)", slot, pid, held)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		r.res.check(phase, "kill", false, err.Error(), "")
		return
	}
	killed := time.Now()
	var newPid int
	err := waitFor(ctx, r.cfg.KillWatch+10*time.Second, "worker restarted", func() bool {
		p, ok := r.feed.workers()[slot]
		if !ok || p == pid {
			return false
		}
		_, err := scrape.Get(ctx, r.feed.adminOf(slot))
		newPid = p
		return err == nil
	})
	restart := time.Since(killed)
	r.res.check(phase, "worker restarted", err == nil, fmt.Sprintf("pid %d → %d serving after %s", pid, newPid, secs(restart)), "supervisor restarts the slot")

	disconnected := func(after poolStats) int {
		n := 0
		for i := range after.closesOf {
			if after.closesOf[i] > before.closesOf[i] {
				n++
			}
		}
		return n
	}
	err = waitFor(ctx, r.cfg.KillWatch, "subscribers reconnected", func() bool {
		st := r.pool.stats()
		return st.Connected == st.Subscribers && disconnected(st) > 0
	})
	r.sleep(ctx, r.cfg.KillWatch/2)
	after := r.pool.stats()
	r.window("kill -9", from)
	n := disconnected(after)
	times := r.pool.reconnectsSince(before)
	ts := make([]float64, len(times))
	for i, d := range times {
		ts[i] = d.Seconds()
	}
	r.res.check(phase, "its subscribers reconnected", err == nil && n > 0 && after.Connected == after.Subscribers,
		fmt.Sprintf("%d disconnected (the worker held %.0f connections), all %d connected again; reconnect time p50 %.2f s, max %.2f s",
			n, held, after.Connected, quantile(ts, 0.5), slices.Max(append(ts, 0))),
		fmt.Sprintf("≥ 1 disconnected, all back within %v", r.cfg.KillWatch))
	r.res.streamChecks(phase, before, after)
	kept, others := 0, 0
	for i := range after.received {
		if after.closesOf[i] == before.closesOf[i] {
			others++
			if after.received[i] > before.received[i] {
				kept++
			}
		}
	}
	r.res.check(phase, "others unaffected", kept == others && others > 0, fmt.Sprintf("%d of %d undisturbed subscribers kept receiving", kept, others), "all")
	r.logf("kill: %d subscribers reconnected, worker back after %s", n, secs(restart))
}
