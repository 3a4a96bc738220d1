// Package feed is wsloop's synthetic market-data feed, for demos and
// tests: a set of symbols whose prices take a random walk, published at a
// steady total rate through a pubsub hub (Run), and a live ticker page that
// shows them in a browser (Page).
//
// # Topics and messages
//
// Every update is published on two topics: TopicAll ("md.all"), which
// carries every symbol, and "md.<SYMBOL>" (TopicOf), which carries one. A
// page or script watching the whole market subscribes to md.all once; one
// interested in a single instrument subscribes to its own topic. The
// conflation key is the symbol on both, so a conflating subscriber of
// md.all that falls behind keeps the latest price of every symbol. The
// data is a small JSON object:
//
//	{"sym":"AAPL","px":189.42,"chg":-0.12,"ts":1718000000000}
//
// px is the price, chg its change since the feed started (both with two
// decimals), ts the time of the update in Unix milliseconds.
package feed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/wsloop/wsloop/pubsub"
)

// TopicAll carries the updates of every symbol.
const TopicAll = "md.all"

// TopicOf is the topic of one symbol's updates: "md.<sym>".
func TopicOf(sym string) string { return "md." + sym }

// Defaults of Config.
const (
	DefaultSymbols = 50
	DefaultRate    = 50.0
)

// Publisher is where the feed publishes; *pubsub.Hub is one.
// Publish must be safe to call from the feed's goroutine.
type Publisher interface {
	Publish(topic, key string, data []byte) (pubsub.Position, error)
}

// Config sets a feed's size and pace.
type Config struct {
	// Symbols is how many symbols the feed moves (0: DefaultSymbols): the
	// first are well-known tickers (Tickers), the rest generated names.
	Symbols int
	// Rate is the total updates per second, all symbols together (0:
	// DefaultRate). Each update is published on two topics.
	Rate float64
	// Seed makes the prices reproducible (0: a random seed).
	Seed uint64
	// Logger receives publish failures, at most one line a second
	// (nil: discarded).
	Logger *slog.Logger
}

// tick is the shortest interval between two rounds of publishing; at
// rates above 1/tick a round publishes several updates.
const tick = 10 * time.Millisecond

// maxLagTicks bounds how far a round catches up after the publisher was
// slow: updates owed for longer than this many intervals are skipped, so a
// stalled broker never causes a burst.
const maxLagTicks = 4

// Run publishes the feed to pub until ctx ends, then returns nil. Updates
// go out in rounds paced by a ticker: each round publishes the updates
// owed since the start at cfg.Rate (at most maxLagTicks intervals' worth),
// visiting the symbols in a shuffled order that changes every pass, so
// every symbol moves once per Symbols/Rate seconds. A failed publish is
// logged and skipped; Run returns pubsub.ErrClosed at once when pub is
// closed. Run blocks: call it on a goroutine of its own; one Run owns its
// state, several may share a Publisher.
func Run(ctx context.Context, pub Publisher, cfg Config) error {
	if cfg.Symbols <= 0 {
		cfg.Symbols = DefaultSymbols
	}
	if cfg.Rate <= 0 || math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0) {
		cfg.Rate = DefaultRate
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	m := newMarket(Symbols(cfg.Symbols), rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)))
	interval := max(tick, time.Duration(float64(time.Second)/cfg.Rate))
	maxLag := uint64(math.Ceil(cfg.Rate*interval.Seconds())) * maxLagTicks
	t := time.NewTicker(interval)
	defer t.Stop()
	start := time.Now()
	var sent, failed uint64
	var lastLog time.Time
	var buf []byte
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			return nil
		case now = <-t.C:
		}
		due := uint64(now.Sub(start).Seconds() * cfg.Rate)
		if due > sent+maxLag {
			sent = due - maxLag
		}
		for ; sent < due; sent++ {
			q := m.next()
			buf = q.appendJSON(buf[:0], now)
			for _, topic := range [2]string{TopicAll, q.topic} {
				if _, err := pub.Publish(topic, q.sym, buf); err != nil {
					if errors.Is(err, pubsub.ErrClosed) {
						return err
					}
					failed++
					if cfg.Logger != nil && now.Sub(lastLog) >= time.Second {
						cfg.Logger.Warn("feed: publish failed", "topic", topic, "err", err, "failures", failed)
						lastLog = now
					}
				}
			}
		}
	}
}

// quote is one symbol's state, in cents to keep two exact decimals.
type quote struct {
	sym, topic  string
	open, cents int64
}

// appendJSON appends the update message of q at time now.
func (q *quote) appendJSON(dst []byte, now time.Time) []byte {
	dst = append(dst, `{"sym":"`...)
	dst = append(dst, q.sym...)
	dst = append(dst, `","px":`...)
	dst = appendCents(dst, q.cents)
	dst = append(dst, `,"chg":`...)
	dst = appendCents(dst, q.cents-q.open)
	dst = append(dst, `,"ts":`...)
	dst = strconv.AppendInt(dst, now.UnixMilli(), 10)
	return append(dst, '}')
}

// appendCents writes c/100 with two decimals.
func appendCents(dst []byte, c int64) []byte {
	if c < 0 {
		dst = append(dst, '-')
		c = -c
	}
	dst = strconv.AppendInt(dst, c/100, 10)
	return fmt.Appendf(dst, ".%02d", c%100)
}

// market moves the quotes; it is owned by one Run.
type market struct {
	quotes []quote
	order  []int // this pass's visiting order
	pos    int
	rng    *rand.Rand
}

// volatility is the standard deviation of one update's relative move.
const volatility = 0.002

func newMarket(syms []string, rng *rand.Rand) *market {
	m := &market{quotes: make([]quote, len(syms)), order: make([]int, len(syms)), rng: rng}
	for i, s := range syms {
		p := 1000 + rng.Int64N(49000) // $10 to $500
		m.quotes[i] = quote{sym: s, topic: TopicOf(s), open: p, cents: p}
		m.order[i] = i
	}
	m.pos = len(syms)
	return m
}

// next moves the next symbol of the pass by a normal step and returns it.
func (m *market) next() *quote {
	if m.pos == len(m.order) {
		m.rng.Shuffle(len(m.order), func(i, j int) { m.order[i], m.order[j] = m.order[j], m.order[i] })
		m.pos = 0
	}
	q := &m.quotes[m.order[m.pos]]
	m.pos++
	step := int64(math.Round(float64(q.cents) * volatility * m.rng.NormFloat64()))
	if step == 0 {
		step = 1 - 2*m.rng.Int64N(2) // a tick up or down: the price always moves
	}
	q.cents = max(1, q.cents+step)
	return q
}
