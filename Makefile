# parley — see README.md. `make run` starts the embedded default; `make test` runs everything.
# Go 1.27.3 fixes standard-library vulnerabilities reachable in 1.26 (net/http, crypto/tls,
# crypto/x509, mime/multipart); the go command fetches it from the module proxy once per
# machine (~76 MB). Set GOTOOLCHAIN=local to use the installed Go instead.
export GOTOOLCHAIN ?= go1.27.3
GO        ?= go
BIN       := bin/parley
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
# The race detector is part of the default suite; set RACE= to run without it.
RACE      ?= -race
TESTFLAGS ?=

.PHONY: run build test npm lint bench cluster cluster-stop redis-cluster redis-cluster-stop clean

run: build
	$(BIN) serve

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/parley

# The whole suite: Go tests (real PostgreSQL and Redis, in-process Kafka) including the
# Node @stomp/stompjs end-to-end test, whose npm dependencies are installed first.
test: npm lint
	$(GO) test $(RACE) -timeout 20m $(TESTFLAGS) ./...

# The fault suite (bench/faults, issue 9): real nodes under load while an in-process
# toxiproxy cuts or slows PostgreSQL and Redis, the Kafka broker restarts, and `parley serve`
# gets SIGTERM and SIGKILL; about two minutes. `make test` skips it (it needs
# PARLEY_FAULTS=1); CI runs it once, after `make test`. docs/RELIABILITY.md has the figures.
.PHONY: test-faults
test-faults:
	PARLEY_FAULTS=1 $(GO) test $(RACE) -count=1 -timeout 8m $(TESTFLAGS) ./bench/faults/...

# The same fault suite on Redis Cluster (issue 26, ADR 0043): each scenario gets a 3-master,
# 3-replica cluster of its own (cluster/redistest) whose nodes announce a toxiproxy in front
# of each, so "cutting Redis" cuts a parley node off every shard; plus the cluster's own
# faults under the same load and accounting — a master killed, the busy channels' slot
# moved, the Sentinel-watched master killed — and the receipt pipeline's fault tests with
# their markers and parking in a cluster (redistest.ModeClient; cluster/bus_cluster_fault_test.go
# cuts a bus off every shard under `make test`). CI runs it after test-faults.
.PHONY: test-faults-cluster
test-faults-cluster:
	PARLEY_FAULTS=1 PARLEY_REDIS_MODE=cluster $(GO) test $(RACE) -count=1 -timeout 20m $(TESTFLAGS) ./bench/faults/...
	PARLEY_REDIS_MODE=cluster $(GO) test $(RACE) -count=1 -timeout 10m $(TESTFLAGS) \
		-run '^(TestReceiptsKafkaOutage|TestReceiptsNodeCrash.*|TestReceiptPersister(DBFailure|Restart).*)$$' ./actors ./persistence

# Every fuzz target from the corpora committed under each package's testdata/fuzz, for a
# number of executions (about 10 s each on this machine) rather than a duration: a duration
# races Go's fuzzing coordinator (golang/go#75804, fixed in Go 1.27), which then fails the
# target with a bare "context deadline exceeded" and no failing input. FUZZTIME=30s (or
# 1000000x) overrides every target's budget. A failing input is written to testdata/fuzz:
# commit it with the fix.
FUZZTIME ?=
FUZZ_TARGETS := FuzzDecoder:./stomp:400000x FuzzVerify:./transport/auth:200000x \
	FuzzDecodeBody:./transport/api:40000x FuzzSendBodies:./actors:50000x
.PHONY: fuzz
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		name=$${t%%:*}; rest=$${t#*:}; pkg=$${rest%%:*}; budget=$(if $(FUZZTIME),$(FUZZTIME),$${rest#*:}); \
		echo "fuzz $$name in $$pkg for $$budget"; \
		$(GO) test -run '^$$' -fuzz="^$$name$$" -fuzztime=$$budget $$pkg || exit 1; \
	done

npm:
	@for d in $$(find . -name package-lock.json -not -path '*/node_modules/*' -printf '%h\n'); do \
		echo "npm ci in $$d"; (cd $$d && npm ci --no-audit --no-fund --loglevel=error) || exit 1; \
	done

lint:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Issue 21's attacks (idle sockets, trickled bodies, replay and resend loops, REST posts,
# search, dev login) against bin/parley in another process, with a normal client's
# send→deliver latency in interleaved unloaded and attacked rounds; about 9 minutes.
# docs/RELIABILITY.md quotes it.
.PHONY: attack-report
attack-report: build
	@mkdir -p artifacts
	$(GO) run ./bench/attacks -bin $(BIN) -json artifacts/attacks.json

# The hot-channel and `users` figures of two builds in interleaved rounds (OLD, NEW, OLD, NEW,
# …), each run on a fresh bench/perfnode; about 40 minutes at the defaults (10,000 users).
# NEW defaults to HEAD; ROUNDS, SCENARIOS, USERS and the rest: bench/scripts/bench-compare.sh.
# docs/BENCHMARKS.md's log quotes its summaries.
.PHONY: bench-compare
bench-compare:
	OLD=$(OLD) NEW=$(or $(NEW),HEAD) bench/scripts/bench-compare.sh

# Every Go benchmark once (-benchtime 1x), so that none rots unnoticed between `make bench`
# runs (BenchmarkFanout did); CI runs it after the tests. About 45 s, mostly compiling.
.PHONY: bench-smoke
bench-smoke:
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x $(TESTFLAGS) ./...

# Three nodes on 127.0.0.1:9001-9003 sharing the local PostgreSQL (database parley) and
# Redis (127.0.0.1:6379) and an embedded three-broker Kafka run as its own process
# (:19092-19094; topics with replication factor 3 and min.insync.replicas 2, ADR 0045;
# CLUSTER_KAFKA_BROKERS=1 for one broker).
# Logs and pids go to .cluster/; `make cluster-stop` stops them all. Every setting can be
# overridden (cmd/parley/cluster_make_test.go runs the target on its own ports, database,
# Redis prefix and directory).
CLUSTER_DB         ?= postgres://postgres@127.0.0.1:5432/parley?sslmode=disable
CLUSTER_REDIS      ?= redis://127.0.0.1:6379/0
CLUSTER_PREFIX     ?= parley
CLUSTER_PORTS      ?= 9001 9002 9003
CLUSTER_KAFKA_PORT ?= 19092
CLUSTER_KAFKA_BROKERS ?= 3
CLUSTER_DIR        ?= .cluster
# REDIS_MODE=cluster runs the nodes on a local Redis Cluster (ADR 0043) started by
# `make redis-cluster` (3 masters + 3 replicas on REDIS_CLUSTER_PORTS, data in
# $(CLUSTER_DIR)/redis-cluster) instead of CLUSTER_REDIS; `make cluster-stop` stops it too.
REDIS_MODE          ?= single
REDIS_CLUSTER_PORTS ?= 17001 17002 17003 17004 17005 17006
REDIS_CLUSTER_DIR   ?= $(CLUSTER_DIR)/redis-cluster
comma := ,
empty :=
space := $(empty) $(empty)
REDIS_CLUSTER_ADDRS ?= $(subst $(space),$(comma),$(foreach p,$(REDIS_CLUSTER_PORTS),127.0.0.1:$(p)))
ifeq ($(REDIS_MODE),cluster)
CLUSTER_REDIS_ENV = REDIS_CLUSTER_ADDRS='$(REDIS_CLUSTER_ADDRS)'
CLUSTER_REDIS_DEP = redis-cluster
else ifeq ($(REDIS_MODE),single)
CLUSTER_REDIS_ENV = REDIS_URL='$(CLUSTER_REDIS)'
CLUSTER_REDIS_DEP =
else
$(error REDIS_MODE=$(REDIS_MODE): want single or cluster)
endif

cluster: build $(CLUSTER_REDIS_DEP)
	@mkdir -p $(CLUSTER_DIR)
	@$(BIN) kafka --port $(CLUSTER_KAFKA_PORT) --brokers $(CLUSTER_KAFKA_BROKERS) > $(CLUSTER_DIR)/kafka.log 2>&1 & echo $$! > $(CLUSTER_DIR)/kafka.pid
	@brokers=; rf=-1; isr=0; [ $(CLUSTER_KAFKA_BROKERS) -ge 3 ] && rf=3 && isr=2; \
	for b in $$(seq 0 $$(($(CLUSTER_KAFKA_BROKERS)-1))); do brokers=$$brokers$${brokers:+,}127.0.0.1:$$(($(CLUSTER_KAFKA_PORT)+b)); done; \
	i=0; for port in $(CLUSTER_PORTS); do i=$$((i+1)); \
		PARLEY_ADDR=127.0.0.1:$$port PARLEY_NODE_ID=$$i DATABASE_URL='$(CLUSTER_DB)' $(CLUSTER_REDIS_ENV) \
		PARLEY_REDIS_PREFIX='$(CLUSTER_PREFIX)' KAFKA_BROKERS=$$brokers \
		KAFKA_REPLICATION_FACTOR=$$rf KAFKA_MIN_INSYNC_REPLICAS=$$isr \
		$(BIN) serve > $(CLUSTER_DIR)/node$$i.log 2>&1 & echo $$! > $(CLUSTER_DIR)/node$$i.pid; \
	done
	@i=0; for port in $(CLUSTER_PORTS); do i=$$((i+1)); \
		for t in $$(seq 1 150); do curl -fs http://127.0.0.1:$$port/readyz >/dev/null && break; sleep 0.2; done; \
		curl -fs http://127.0.0.1:$$port/readyz >/dev/null && echo "node $$i ready on http://127.0.0.1:$$port" || { echo "node $$i failed, see $(CLUSTER_DIR)/node$$i.log"; exit 1; }; \
	done

cluster-stop:
	@# Nodes first (their drain flushes read receipts to Kafka), then the broker.
	@for f in $(CLUSTER_DIR)/node*.pid; do [ -f $$f ] && kill -TERM $$(cat $$f) 2>/dev/null; done; \
	for f in $(CLUSTER_DIR)/node*.pid; do \
		p=$$(cat $$f 2>/dev/null); \
		[ -n "$$p" ] && for t in $$(seq 1 100); do kill -0 $$p 2>/dev/null || break; sleep 0.2; done; \
		rm -f $$f; \
	done; \
	[ -f $(CLUSTER_DIR)/kafka.pid ] && kill -TERM $$(cat $(CLUSTER_DIR)/kafka.pid) 2>/dev/null; rm -f $(CLUSTER_DIR)/kafka.pid; \
	$(MAKE) --no-print-directory redis-cluster-stop REDIS_CLUSTER_DIR='$(REDIS_CLUSTER_DIR)'; \
	echo "cluster stopped"

# A local Redis Cluster: 3 masters + 3 replicas (redis-server 7 --cluster-enabled), joined by
# redis-cli --cluster create, ready when every node reports cluster_state:ok. Idempotent.
redis-cluster:
	@mkdir -p $(REDIS_CLUSTER_DIR)
	@if [ -f $(REDIS_CLUSTER_DIR)/created ]; then echo "redis cluster already up: $(REDIS_CLUSTER_ADDRS)"; exit 0; fi; \
	for p in $(REDIS_CLUSTER_PORTS); do mkdir -p $(REDIS_CLUSTER_DIR)/$$p; \
		redis-server --port $$p --bind 127.0.0.1 --dir $(abspath $(REDIS_CLUSTER_DIR))/$$p --cluster-enabled yes \
			--cluster-config-file nodes.conf --cluster-node-timeout 2000 --appendonly no --save '' \
			--daemonize yes --pidfile $(abspath $(REDIS_CLUSTER_DIR))/$$p/redis.pid --logfile redis.log || exit 1; \
	done; \
	for p in $(REDIS_CLUSTER_PORTS); do \
		for t in $$(seq 1 100); do redis-cli -p $$p ping >/dev/null 2>&1 && break; sleep 0.05; done; \
	done; \
	redis-cli --cluster create $(foreach p,$(REDIS_CLUSTER_PORTS),127.0.0.1:$(p)) --cluster-replicas 1 --cluster-yes >$(REDIS_CLUSTER_DIR)/create.log 2>&1 \
		|| { echo "redis-cli --cluster create failed, see $(REDIS_CLUSTER_DIR)/create.log"; exit 1; }; \
	for p in $(REDIS_CLUSTER_PORTS); do \
		for t in $$(seq 1 150); do redis-cli -p $$p cluster info | grep -q cluster_state:ok && break; sleep 0.1; done; \
		redis-cli -p $$p cluster info | grep -q cluster_state:ok || { echo "redis node $$p not ok"; exit 1; }; \
	done; \
	touch $(REDIS_CLUSTER_DIR)/created; echo "redis cluster ready: $(REDIS_CLUSTER_ADDRS)"

redis-cluster-stop:
	@# A master given SIGTERM waits (up to 10 s) for its replicas; wait for every process.
	@pids=$$(cat $(REDIS_CLUSTER_DIR)/*/redis.pid 2>/dev/null); [ -n "$$pids" ] && kill -TERM $$pids 2>/dev/null; \
	for p in $$pids; do for t in $$(seq 1 150); do kill -0 $$p 2>/dev/null || break; sleep 0.1; done; kill -KILL $$p 2>/dev/null; done; \
	rm -rf $(REDIS_CLUSTER_DIR)

clean:
	rm -rf bin .cluster

# The references of ADR 0047 against a running node (PEER_URL, PEER_DB: its --db-url): the
# reference shape (45 msg/s, 2 subscribers per channel) against Centrifugo and PostgreSQL's own
# commit latency, interleaved. The peer needs centrifugo on $PATH or in ~/go/bin:
#   go install github.com/centrifugal/centrifugo/v6@v6.9.1
# (without it the peer is skipped with that line in the report).
.PHONY: bench-references
bench-references: build
	$(BIN) bench fanout --url $(or $(PEER_URL),http://127.0.0.1:19300) --db-url $(PEER_DB) \
		--connections 27 --channels 9 --senders 9 --receivers 18 --rate 5 --duration 20s --warmup 3s \
		--rounds $(or $(ROUNDS),3) --peer centrifugo --pg-floor --quiet
# Issue 26: `parley bench fanout` on three `parley serve` nodes, on one plain redis-server
# (PUBLISH) and on a local 3+3 Redis Cluster (SPUBLISH lanes, ADR 0043), in interleaved
# rounds, each on a fresh Redis, Kafka and database; Redis CPU, calls and bytes per message
# from every Redis process (bench --redis-stats). About 4 minutes a run at the defaults
# below; CF_ROUNDS, CF_CONNECTIONS, CF_CHANNELS (coprime to 3), CF_SENDERS, CF_RATE override them.
# Tables go to artifacts/clusterfanout/summary.md; docs/BENCHMARKS.md's log quotes them.
CF_ROUNDS      ?= 3
CF_CONNECTIONS ?= 1500
CF_CHANNELS    ?= 50
CF_SENDERS     ?= 50
CF_RATE        ?= 2
.PHONY: bench-cluster-fanout
bench-cluster-fanout: build
	$(GO) run ./bench/clusterfanout -bin $(BIN) -rounds $(CF_ROUNDS) -connections $(CF_CONNECTIONS) \
		-channels $(CF_CHANNELS) -senders $(CF_SENDERS) -rate $(CF_RATE) -out artifacts/clusterfanout
