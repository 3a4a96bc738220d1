package loadgen

import (
	"errors"
	"fmt"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram geometry used for every latency histogram: microseconds, from
// 1 µs to 60 s, 3 significant digits.
const (
	HistMinMicros = 1
	HistMaxMicros = 60_000_000
	HistSigFigs   = 3
)

// NewHistogram returns an empty latency histogram with the package's geometry.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(HistMinMicros, HistMaxMicros, HistSigFigs)
}

// Result is what one load-generator process reports. wsload -json prints it
// as one JSON line; the orchestrator decodes it and merges several with
// Merge.
type Result struct {
	Mode            string  `json:"mode"`
	ConnsRequested  int     `json:"conns_requested"`
	ConnsOK         int     `json:"conns_ok"`
	ConnsFailed     int     `json:"conns_failed"`
	ConnectSeconds  float64 `json:"connect_seconds"`
	DurationSeconds float64 `json:"duration_seconds"`
	MsgsSent        int64   `json:"msgs_sent"`
	MsgsRecv        int64   `json:"msgs_recv"`
	BytesRecv       int64   `json:"bytes_recv"`
	Errors          int64   `json:"errors"`
	Backlogged      int64   `json:"backlogged"`

	// Fan-out figures. MsgsRecv counts every publication received during
	// the whole run; Deliveries those received inside the measured window
	// (by receive time); the histogram holds publish→receive latencies of
	// the publications published inside it. Gaps counts publications
	// missing between two received ones of a topic on one connection (by
	// the payload's number n), Dups those received again or out of order;
	// SeqChecked, SeqGaps and SeqDups do the same with the server's own
	// per-topic sequence where the wire form carries one (wsloop).
	// BinaryMsgs counts publications received in the wsloop.bin form.
	Deliveries int64 `json:"deliveries,omitempty"`
	Gaps       int64 `json:"gaps,omitempty"`
	Dups       int64 `json:"dups,omitempty"`
	SeqChecked int64 `json:"seq_checked,omitempty"`
	SeqGaps    int64 `json:"seq_gaps,omitempty"`
	SeqDups    int64 `json:"seq_dups,omitempty"`
	BinaryMsgs int64 `json:"binary_msgs,omitempty"`

	// Hist is the round-trip histogram (microseconds) as the base64 text of
	// Histogram.Encode(hdrhistogram.V2CompressedEncodingCookieBase).
	Hist string `json:"hist"`
}

// Histogram decodes r.Hist. An empty Hist decodes to an empty histogram.
func (r *Result) Histogram() (*hdrhistogram.Histogram, error) {
	if r.Hist == "" {
		return NewHistogram(), nil
	}
	h, err := hdrhistogram.Decode([]byte(r.Hist))
	if err != nil {
		return nil, fmt.Errorf("loadgen: decoding histogram: %w", err)
	}
	return h, nil
}

// SetHistogram encodes h into r.Hist.
func (r *Result) SetHistogram(h *hdrhistogram.Histogram) error {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return fmt.Errorf("loadgen: encoding histogram: %w", err)
	}
	r.Hist = string(b)
	return nil
}

// MsgsPerSecond is MsgsRecv over DurationSeconds (0 when no time was
// measured).
func (r *Result) MsgsPerSecond() float64 {
	if r.DurationSeconds <= 0 {
		return 0
	}
	return float64(r.MsgsRecv) / r.DurationSeconds
}

// Merge combines the results of load-generator processes that ran side by
// side: counts are summed, ConnectSeconds and DurationSeconds are the largest
// (the processes ran over the same wall-clock window) and the histograms are
// merged. The merged histogram is returned and also encoded into the merged
// Result's Hist. All results must have the same Mode.
func Merge(rs []Result) (Result, *hdrhistogram.Histogram, error) {
	var out Result
	h := NewHistogram()
	if len(rs) == 0 {
		err := out.SetHistogram(h)
		return out, h, err
	}
	out.Mode = rs[0].Mode
	for i := range rs {
		r := &rs[i]
		if r.Mode != out.Mode {
			return Result{}, nil, fmt.Errorf("loadgen: merging results of different modes %q and %q", out.Mode, r.Mode)
		}
		out.ConnsRequested += r.ConnsRequested
		out.ConnsOK += r.ConnsOK
		out.ConnsFailed += r.ConnsFailed
		out.ConnectSeconds = max(out.ConnectSeconds, r.ConnectSeconds)
		out.DurationSeconds = max(out.DurationSeconds, r.DurationSeconds)
		out.MsgsSent += r.MsgsSent
		out.MsgsRecv += r.MsgsRecv
		out.BytesRecv += r.BytesRecv
		out.Errors += r.Errors
		out.Backlogged += r.Backlogged
		out.Deliveries += r.Deliveries
		out.Gaps += r.Gaps
		out.Dups += r.Dups
		out.SeqChecked += r.SeqChecked
		out.SeqGaps += r.SeqGaps
		out.SeqDups += r.SeqDups
		out.BinaryMsgs += r.BinaryMsgs
		rh, err := r.Histogram()
		if err != nil {
			return Result{}, nil, fmt.Errorf("result %d: %w", i, err)
		}
		if dropped := h.Merge(rh); dropped != 0 {
			return Result{}, nil, errors.New("loadgen: histogram merge dropped values (geometry mismatch)")
		}
	}
	if err := out.SetHistogram(h); err != nil {
		return Result{}, nil, err
	}
	return out, h, nil
}
