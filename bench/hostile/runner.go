package hostile

import (
	"fmt"
	"time"

	"github.com/wsloop/wsloop/bench/internal/procfs"
)

// settleWithin bounds the wait for a server to come back to its baseline
// after a case (wsloop's close timeout is 5 s).
const settleWithin = 10 * time.Second

// Runner runs cases one after another against one server and checks,
// after each, that the server came back: a fresh client connects and
// echoes, its connections (and, for wsloop, goroutines) return to the
// baseline, and (wsloop) its RSS never grew past the baseline's by more
// than RSSBound. A case that fails a check moves the baseline to where it
// left the server, so that the next case is judged on its own.
type Runner struct {
	T    *Target
	Log  func(format string, args ...any)
	base Baseline // the state the next case must leave
	dead int      // consecutive cases after which no fresh client got an echo
}

// deadAfter is how many cases in a row may leave the server without an
// echo for a fresh client before the runner gives up on the rest (each
// would wait out its timeouts).
const deadAfter = 3

// Outcome is one case's result on the runner's server.
type Outcome struct {
	Case   *Case
	Result Result
	After  []string // the checks after the case that failed
	Took   time.Duration
	Grew   int64 // the server's RSS peak during the case over its baseline
}

// OK reports whether the case gave the RFC's answer and the server came
// back.
func (o Outcome) OK() bool { return o.Result.Verdict == Pass && len(o.After) == 0 }

// Cell is the outcome as a table cell.
func (o Outcome) Cell() Result {
	r := o.Result
	if len(o.After) > 0 {
		if r.Verdict == Pass {
			r.Verdict = Other
		}
		for _, a := range o.After {
			r.Seen += "; after the case: " + a
		}
	}
	return r
}

// NewRunner warms t up (a few echo connections) and takes its baseline
// once it is steady.
func NewRunner(t *Target, log func(string, ...any)) (*Runner, error) {
	if log == nil {
		log = func(string, ...any) {}
	}
	r := &Runner{T: t, Log: log}
	for i := range 5 {
		if err := freshEcho(t.Addr); err != nil {
			return nil, fmt.Errorf("%s warm-up %d: %w", t.Name, i, err)
		}
	}
	b, err := steady(t)
	if err != nil {
		return nil, err
	}
	r.base = b
	log("%s baseline: %v", t.Name, b)
	return r, nil
}

// steady measures t until two measures 100 ms apart agree on the fds and
// gauges (at most 5 s), and returns the last.
func steady(t *Target) (Baseline, error) {
	prev, err := Measure(t)
	if err != nil {
		return prev, err
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond) // poll interval of a bounded wait
		now, err := Measure(t)
		if err != nil {
			return now, err
		}
		if prev.FDs == now.FDs && prev.Open == now.Open && prev.TCP == now.TCP && prev.Goroutines == now.Goroutines {
			return now, nil
		}
		prev = now
	}
	return prev, nil
}

// freshEcho is the check after every case: a new client upgrades,
// echoes and closes cleanly.
func freshEcho(addr string) error {
	c, _, err := Upgrade(addr)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if err := c.Echo(OpText, []byte("fresh client after the case")); err != nil {
		c.Close()
		return err
	}
	return c.CloseClean()
}

// Run runs one case and the checks after it.
func (r *Runner) Run(c *Case) Outcome {
	o := Outcome{Case: c}
	if r.dead >= deadAfter {
		o.Result = other("not run: the server stopped answering fresh clients %d cases ago", r.dead)
		return o
	}
	peak := rssPeak(r.T.PID())
	env := &Env{T: r.T, Base: r.base, Log: r.Log}
	start := time.Now()
	done := make(chan Result, 1)
	go func() { done <- c.Run(env) }()
	select {
	case o.Result = <-done:
	case <-time.After(c.budget()):
		o.Result = other("the case did not finish within %v", c.budget())
	}
	o.Took = time.Since(start)
	if !r.T.Running() {
		o.After = append(o.After, fmt.Sprintf("the server exited: %s", clip(r.T.Log(), 2000)))
		peak()
		r.dead = deadAfter
		return o
	}
	if err := freshEcho(r.T.Addr); err != nil {
		o.After = append(o.After, "fresh client: "+err.Error())
		r.dead++
	} else {
		r.dead = 0
	}
	connsOnly := r.T.Admin == ""
	if _, err := WaitBack(r.T, r.base, settleWithin, connsOnly); err != nil {
		o.After = append(o.After, err.Error())
		// Blame this case only: the next one starts from here.
		if b, err := Measure(r.T); err == nil {
			r.base = b
		}
	}
	grew := peak() - r.base.RSS
	o.Grew = grew
	if r.T.Name == Wsloop && grew > RSSBound {
		o.After = append(o.After, fmt.Sprintf("RSS peaked %s over the baseline (%s), over the %s bound", mib(grew), mib(r.base.RSS), mib(RSSBound)))
		if v, err := procfs.RSS(r.T.PID()); err == nil {
			r.base.RSS = max(r.base.RSS, v)
		}
	}
	return o
}
