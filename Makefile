# wsloop build and test entry points. `make test` is what CI runs.

GO      ?= go
FUZZTIME ?= 60s
ADDR    ?= 127.0.0.1:8080
# -buildvcs=false: builds also work from tarballs and detached worktrees.
export GOFLAGS ?= -buildvcs=false

# Prerequisites of `test` must run in the listed order, even under -j.
.NOTPARALLEL:

.PHONY: all run feed build test fmt-check vet cross node-deps race bench-module fuzz bench bench-micro bench-million bench-clients soak

all: build

run:
	$(GO) run ./cmd/wsloop -addr $(ADDR)

# The synthetic market feed and its live page at http://$(ADDR)/.
feed:
	$(GO) run ./cmd/wsloop -addr $(ADDR) -mode feed

build:
	$(GO) build ./...

fmt-check:
	@unformatted="$$(find . -type d \( -name .git -o -name node_modules -o -name vendor -o -name testdata \) -prune \
		-o -type f -name '*.go' -print | xargs -r gofmt -l)"; \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt: these files need formatting (run gofmt -w):"; \
		echo "$$unformatted"; \
		exit 1; \
	fi

vet:
	$(GO) vet ./...

# The core module must keep building on the other gnet platforms.
cross:
	GOOS=darwin $(GO) build ./...
	GOOS=freebsd $(GO) build ./...

race:
	$(GO) test -race ./...

# bench/ is a separate Go module (load generators, Node comparison). The
# two-minute soak (churn and every fault, bench/soak TestSoakShort) runs in
# a step of its own so it does not share the machine with other tests.
bench-module:
	@if [ -f bench/go.mod ]; then \
		cd bench && $(GO) vet ./... && WSLOOP_IDLE_N=18000 $(GO) test -race -v -run IdleMemory ./idle && \
		WSLOOP_SOAK=short $(GO) test -race -v -timeout 15m -run '^TestSoakShort$$' ./soak && $(GO) test -race ./...; \
	else \
		echo "bench/go.mod not present; skipping bench module"; \
	fi

# The Node packages of bench/ (ws, playwright-core): the interop tests and
# the JavaScript client's tests need them (Node before 22 has no global
# WebSocket). .ci/run installs them too; this covers a plain `make test`.
node-deps:
	@if [ -f bench/package.json ] && [ ! -d bench/node_modules ] && command -v npm >/dev/null; then \
		cd bench && npm ci --no-audit --no-fund --loglevel=error; \
	fi

test: fmt-check vet cross node-deps race bench-module

fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzDecoder$$' -fuzztime=$(FUZZTIME) ./codec/
	$(GO) test -run='^$$' -fuzz='^FuzzUpgrade$$' -fuzztime=$(FUZZTIME) ./codec/
	$(GO) test -run='^$$' -fuzz='^FuzzUpgradeReference$$' -fuzztime=$(FUZZTIME) ./codec/
	$(GO) test -run='^$$' -fuzz='^FuzzInflate$$' -fuzztime=$(FUZZTIME) ./codec/
	$(GO) test -run='^$$' -fuzz='^FuzzProxyHeader$$' -fuzztime=$(FUZZTIME) ./codec/

# Micro-benchmarks of the core (allocations on the hot paths).
bench-micro:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

BENCH_OUT ?= results
# Side-by-side comparison of all peers and wsloop-edge (wsloop with every
# edge feature enabled but unused): idle 18K, echo 1 KiB x 10K, echo 64 B x
# 1K (about 8 minutes); then fan-out of 100-byte updates to 100K
# subscribers of one topic (7 processes per server; wsloop joined through
# NATS) and to 10K subscribers of 100 topics, at three rates each (about
# 25 minutes). Table on stdout, JSON and charts in
# bench/$(BENCH_OUT).
# Every idle and echo run includes floor (bench/peers/floor: the least work
# an echo can take on this machine), and every echo table gives each
# server's CPU per message (µs) and its ratio to floor's. After the two
# closed-loop echo runs come three more: open loop at a fixed 20,000 msgs/s
# offered over 1K connections (1 KiB and 64 B), where CPU per message is
# compared at the same work for every server, and pipelined 64 B x 1K with
# 8 messages in flight per connection. With floor and these, the idle and
# echo part takes roughly 17 minutes (17 runs of 10-15 s per line).
bench:
	cd bench && $(GO) run ./cmd/wsbench -scenario idle -conns 18000 -hold 10s -rounds 2 -json $(BENCH_OUT)/idle.json -charts $(BENCH_OUT)/charts
	cd bench && $(GO) run ./cmd/wsbench -scenario echo -conns 10000 -size 1024 -duration 5s -warmup 2s -rounds 2 -json $(BENCH_OUT)/echo-1024x10000.json -charts $(BENCH_OUT)/charts
	cd bench && $(GO) run ./cmd/wsbench -scenario echo -conns 1000 -size 64 -duration 5s -warmup 2s -rounds 2 -json $(BENCH_OUT)/echo-64x1000.json -charts $(BENCH_OUT)/charts
	cd bench && $(GO) run ./cmd/wsbench -scenario echo -servers wsloop,wsloop-pool,wsloop-edge,gorilla,coder,gobwas,gws,nbio,floor -conns 1000 -size 1024 -rate 20000 -duration 5s -warmup 2s -rounds 2 -json $(BENCH_OUT)/echo-1024x1000-rate20000.json -charts $(BENCH_OUT)/charts
	cd bench && $(GO) run ./cmd/wsbench -scenario echo -servers wsloop,wsloop-pool,wsloop-edge,gorilla,coder,gobwas,gws,nbio,floor -conns 1000 -size 64 -rate 20000 -duration 5s -warmup 2s -rounds 2 -json $(BENCH_OUT)/echo-64x1000-rate20000.json -charts $(BENCH_OUT)/charts
	cd bench && $(GO) run ./cmd/wsbench -scenario echo -conns 1000 -size 64 -inflight 8 -duration 5s -warmup 2s -rounds 2 -json $(BENCH_OUT)/echo-64x1000-inflight8.json -charts $(BENCH_OUT)/charts
	cd bench && $(GO) run ./cmd/wsbench -scenario fanout -subscribers 100000 -topics 1 -size 100 -rate 1,10,20 -duration 10s -warmup 2s -drain 5s -rounds 1 -json $(BENCH_OUT)/fanout/fanout-100000x1.json -charts $(BENCH_OUT)/charts
	cd bench && $(GO) run ./cmd/wsbench -scenario fanout -subscribers 10000 -topics 100 -size 100 -rate 50,100,200 -duration 10s -warmup 2s -drain 5s -rounds 1 -json $(BENCH_OUT)/fanout/fanout-10000x100.json -charts $(BENCH_OUT)/charts

# 100,000 idle connections each of wsloop's Go client (client/), gorilla's and
# coder's, with heartbeats, over several client processes (about 11 minutes);
# sets the million scenario's sysctls (root) and restores them.
bench-clients:
	cd bench && $(GO) run ./cmd/wsbench -scenario clients -clients wsloop,gorilla,coder -conns 100000 -rounds 3 -warm-run=false -json $(BENCH_OUT)/clients/clients-100000.json

# 1,000,000 idle connections to wsloop over SO_REUSEPORT processes; sets the
# sysctls it needs (as root) and restores them, even on failure.
bench-million:
	cd bench && $(GO) run ./cmd/wsbench -scenario million -servers wsloop -conns 1000000 -rounds 1 -pin=false -json $(BENCH_OUT)/million.json -charts $(BENCH_OUT)/charts

# Soak and fault suite, about 10 minutes unattended: churn of short
# connections while a feed runs, kill -9 of a worker, a NATS restart, a
# client that stops reading, an impaired netns link and half-open
# connections (as root, with /dev/net/tun and iproute2; skipped
# otherwise). Writes bench/SOAK.md and bench/results/soak/; fails when a
# check fails.
SOAK_DURATION ?= 10m
soak:
	cd bench && $(GO) run ./cmd/wssoak -duration $(SOAK_DURATION) -out results/soak -report SOAK.md

# Hostile inputs (bench/hostile): every case against wsloop (defaults) and
# the reference servers, gorilla and Python websockets; writes
# bench/HOSTILE.md (about 2 minutes). make test runs the cases against
# wsloop only.
.PHONY: hostile
hostile:
	cd bench && $(GO) run ./cmd/wshostile -servers wsloop,gorilla,websockets -out HOSTILE.md
