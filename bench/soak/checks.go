package soak

import (
	"fmt"
	"time"
)

// Check is one pass/fail verdict of a run, with its figures. An Info
// check is reported but never fails the run.
type Check struct {
	Phase     string `json:"phase"`
	Name      string `json:"name"`
	Pass      bool   `json:"pass"`
	Info      bool   `json:"info,omitempty"`
	Value     string `json:"value"`
	Tolerance string `json:"tolerance"`
}

// Window is a stretch of the run (a phase or a fault), in seconds since
// its start, marked on the plots.
type Window struct {
	Name string  `json:"name"`
	From float64 `json:"from"`
	To   float64 `json:"to"`
}

// Result is a run's outcome. Failed reports whether any check failed.
type Result struct {
	Started  time.Time     `json:"started"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Config   Config        `json:"-"`
	Checks   []Check       `json:"checks"`
	Windows  []Window      `json:"windows"`
	Churn    churnStats    `json:"churn"`
	Subs     poolStats     `json:"subscribers"`
	Slopes   []slopeRow    `json:"slopes"`
	Skipped  []string      `json:"skipped,omitempty"`
	Notes    []string      `json:"notes,omitempty"`
	Baseline baseline      `json:"baseline"`
	samples  []sample
	steady   [2]float64 // the steady churn, seconds since the start
}

// Failed reports whether a check that is not informational failed.
func (r *Result) Failed() bool {
	for _, c := range r.Checks {
		if !c.Pass && !c.Info {
			return true
		}
	}
	return false
}

func (r *Result) check(phase, name string, pass bool, value, tol string) {
	r.Checks = append(r.Checks, Check{Phase: phase, Name: name, Pass: pass, Value: value, Tolerance: tol})
}

func (r *Result) info(phase, name, value string) {
	r.Checks = append(r.Checks, Check{Phase: phase, Name: name, Pass: true, Info: true, Value: value, Tolerance: "(reported)"})
}

// streamChecks checks a pool's delivery between two snapshots: nothing
// out of sequence, every gap healed, every recovery successful.
func (r *Result) streamChecks(phase string, before, after poolStats) {
	viol := after.Violations - before.Violations
	v := fmt.Sprintf("%d", viol)
	if after.FirstBad != "" && viol > 0 {
		v += " (first: " + after.FirstBad + ")"
	}
	r.check(phase, "deliveries in sequence", viol == 0, v, "0 out of sequence")
	gaps, unhealed := after.Gaps-before.Gaps, after.unhealed()-before.unhealed()
	r.check(phase, "gaps healed", unhealed <= 0, fmt.Sprintf("%d gaps seen, %d not healed", gaps, max(0, unhealed)), "0 unhealed")
	failed := after.RecoverFailed - before.RecoverFailed
	r.check(phase, "recoveries ok", failed == 0, fmt.Sprintf("%d ok, %d failed", after.RecoveredOK-before.RecoveredOK, failed), "0 failed")
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
