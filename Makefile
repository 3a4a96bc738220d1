# wsloop build and test entry points. `make test` is what CI runs.

GO      ?= go
FUZZTIME ?= 60s
ADDR    ?= 127.0.0.1:8080
# -buildvcs=false: builds also work from tarballs and detached worktrees.
export GOFLAGS ?= -buildvcs=false

# Prerequisites of `test` must run in the listed order, even under -j.
.NOTPARALLEL:

.PHONY: all run build test fmt-check vet cross race bench-module fuzz bench

all: build

run:
	$(GO) run ./cmd/wsloop -addr $(ADDR)

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

# bench/ is a separate Go module (load generators, Node comparison).
bench-module:
	@if [ -f bench/go.mod ]; then \
		cd bench && $(GO) vet ./... && WSLOOP_IDLE_N=18000 $(GO) test -race -v -run IdleMemory ./idle && $(GO) test -race ./...; \
	else \
		echo "bench/go.mod not present; skipping bench module"; \
	fi

test: fmt-check vet cross race bench-module

fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzDecoder$$' -fuzztime=$(FUZZTIME) ./codec/
	$(GO) test -run='^$$' -fuzz='^FuzzUpgrade$$' -fuzztime=$(FUZZTIME) ./codec/

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...
