package main

import (
	"os"
	"os/exec"
	"syscall"
	"time"
)

// The supervisor's restarts: a rolling restart (SIGHUP) starts a new
// generation of workers on the same port and drains the old one once it
// listens; a worker that dies is started again in its slot.

// roll starts generation gen and reports on s.rolled once it listens.
func (s *supervisor) roll(gen int) {
	r := rollResult{gen: gen}
	for slot := range s.n {
		p, err := s.spawn(slot, gen, s.feedFor(slot, "gate"))
		if err != nil {
			r.err = err
			break
		}
		r.procs = append(r.procs, p)
	}
	if r.err == nil {
		r.err = s.awaitReady(r.procs, rollTimeout, nil)
	}
	s.rolled <- r
}

// finishRoll makes a listening new generation current and drains the old
// one, or stops a failed one.
func (s *supervisor) finishRoll(r rollResult) {
	if r.err != nil {
		s.logger.Error("rolling restart failed: the previous generation keeps serving", "gen", r.gen, "err", r.err)
		for _, p := range r.procs {
			s.drain(p)
		}
		return
	}
	old := s.cur
	s.cur = r.procs
	for i := range s.fails {
		s.fails[i] = 0
	}
	for _, p := range old {
		if !p.isExited() {
			s.drain(p)
		}
	}
	if s.f.mode == "feed" {
		// The new feed starts once the old one stopped, so that no update
		// is published twice.
		from, to := old[0], s.cur[0]
		go func() {
			select {
			case <-from.feedOff:
			case <-from.exited:
			case <-time.After(feedHandoff):
				s.logger.Warn("the old feed did not report stopping: starting the new one", "slot", 0, "gen", to.gen)
			}
			_ = to.cmd.Process.Signal(syscall.SIGUSR2)
		}()
	}
	s.logger.Info("rolled over: the previous generation drains", "gen", r.gen, "drain_timeout", s.f.drainTimeout)
	s.logStatus()
}

// restart starts a worker again in a slot whose worker died, unless a
// new generation took the slot meanwhile.
func (s *supervisor) restart(r restartReq) {
	old := s.cur[r.slot]
	if r.gen != old.gen || !old.isExited() {
		return
	}
	p, err := s.spawn(r.slot, r.gen, s.feedFor(r.slot, "now"))
	if err != nil {
		s.logger.Error("restart failed", "slot", r.slot, "err", err)
		// Count it as a death: exited schedules the next try.
		p = &proc{slot: r.slot, gen: r.gen, start: time.Now(), cmd: &exec.Cmd{Process: &os.Process{Pid: -1}}, exited: make(chan struct{})}
		close(p.exited)
		p.err = err
		s.cur[r.slot] = p
		go func() {
			select {
			case s.exits <- p:
			case <-s.done:
			}
		}()
		return
	}
	s.cur[r.slot] = p
}
