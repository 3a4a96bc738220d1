package main

import "slices"

// logStatus logs every live worker and the total of connections.
func (s *supervisor) logStatus() {
	s.mu.Lock()
	live := make([]*proc, 0, len(s.all))
	for p := range s.all {
		live = append(live, p)
	}
	s.mu.Unlock()
	slices.SortFunc(live, func(a, b *proc) int {
		if a.gen != b.gen {
			return a.gen - b.gen
		}
		return a.slot - b.slot
	})
	var total int64
	for _, p := range live {
		state := "starting"
		addr, admin := "", ""
		if p.isReady() {
			state, addr, admin = "serving", p.addr, p.admin
		}
		if p.gen != s.gen {
			state = "draining"
		}
		n := p.conns.Load()
		total += n
		s.logger.Info("worker", "slot", p.slot, "gen", p.gen, "pid", p.cmd.Process.Pid, "state", state,
			"addr", addr, "admin", admin, "connections", n)
	}
	s.logger.Info("workers", "live", len(live), "gen", s.gen, "connections", total)
}

// exitStatus describes a worker's wait error.
func exitStatus(err error) string {
	if err == nil {
		return "exit 0"
	}
	return err.Error()
}
