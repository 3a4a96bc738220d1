package hostile

import (
	"fmt"
	"time"
)

// Class groups the cases.
type Class string

// The classes, in table order.
const (
	ClassHandshake   Class = "handshake"
	ClassFrame       Class = "frame"
	ClassFlood       Class = "flood"
	ClassSlowReader  Class = "slow-reader"
	ClassCompression Class = "compression"
	ClassFault       Class = "fault"
)

// Classes lists the classes in table order.
var Classes = []Class{ClassHandshake, ClassFrame, ClassFlood, ClassSlowReader, ClassCompression, ClassFault}

// Verdict compares what a server did with the RFC's answer.
type Verdict int

const (
	// Pass: the RFC's answer (or one of the answers it allows).
	Pass Verdict = iota
	// Stricter: the server refused what the RFC allows.
	Stricter
	// Looser: the server accepted what the RFC forbids.
	Looser
	// Other: neither: a different refusal, a missing header, no answer…
	Other
)

func (v Verdict) String() string {
	return [...]string{"pass", "stricter", "looser", "other"}[v]
}

// Result is a case's outcome on one server.
type Result struct {
	Verdict Verdict
	Seen    string // what the server did, in a few words
}

func pass(format string, args ...any) Result {
	return Result{Pass, fmt.Sprintf(format, args...)}
}

func stricter(format string, args ...any) Result {
	return Result{Stricter, fmt.Sprintf(format, args...)}
}

func looser(format string, args ...any) Result {
	return Result{Looser, fmt.Sprintf(format, args...)}
}

func other(format string, args ...any) Result {
	return Result{Other, fmt.Sprintf(format, args...)}
}

func (r Result) String() string {
	if r.Seen == "" {
		return r.Verdict.String()
	}
	return r.Verdict.String() + ": " + r.Seen
}

// Case is one hostile input and the RFC's answer to it.
type Case struct {
	Name  string
	Class Class
	Does  string // what the client sends or does
	Want  string // the RFC-correct answer
	RFC   string // where the answer comes from
	// Compress runs the case on a server that negotiates
	// permessage-deflate (wsloop -compress).
	Compress bool
	// Long marks a case that takes long by design (it waits for a server
	// timeout); the runner gives it a server of its own, in parallel.
	Long bool
	// Budget bounds the case's run; 0 means 20 s.
	Budget time.Duration
	Run    func(e *Env) Result
}

// Env is what a case runs against.
type Env struct {
	T    *Target
	Base Baseline // the server's state before the case
	Log  func(format string, args ...any)
}

// connsBack: the server must drop every connection of the case: its
// connection count (wsloop's gauges, and its descriptors) returns to
// the baseline within d.
func (e *Env) connsBack(d time.Duration) Result {
	took, err := WaitBack(e.T, e.Base, d, true)
	if err != nil {
		return other("%v", err)
	}
	return pass("connections back to the baseline in %.0f ms", ms(took))
}

// Addr is the server's WebSocket address.
func (e *Env) Addr() string { return e.T.Addr }

// budget is the case's bound.
func (c *Case) budget() time.Duration {
	if c.Budget > 0 {
		return c.Budget
	}
	return 20 * time.Second
}

// All returns every case, in table order.
func All() []*Case {
	var out []*Case
	for _, group := range [][]*Case{
		handshakeCases(), frameCases(), floodCases(), slowReaderCases(), compressionCases(), faultCases(),
	} {
		out = append(out, group...)
	}
	return out
}
