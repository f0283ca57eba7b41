# parley — see README.md. `make run` starts the embedded default; `make test` runs everything.
GO        ?= go
BIN       := bin/parley
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
# The race detector is part of the default suite; set RACE= to run without it.
RACE      ?= -race
TESTFLAGS ?=

.PHONY: run build test test-go test-node npm lint bench cluster cluster-stop clean

run: build
	$(BIN) serve

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/parley

# The whole suite: Go tests (real PostgreSQL and Redis, in-process Kafka) including the
# Node @stomp/stompjs end-to-end test, whose npm dependencies are installed first.
test: npm lint
	$(GO) test $(RACE) -timeout 20m $(TESTFLAGS) ./...

npm:
	@for d in $$(find . -name package-lock.json -not -path '*/node_modules/*' -printf '%h\n'); do \
		echo "npm ci in $$d"; (cd $$d && npm ci --no-audit --no-fund --loglevel=error) || exit 1; \
	done

lint:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
