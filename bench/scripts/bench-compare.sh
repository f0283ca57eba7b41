#!/usr/bin/env bash
# bench-compare: the hot-channel, many-channels and `users` figures of two builds in interleaved rounds
# (OLD, NEW, OLD, NEW, …) on this machine, so that a shared or drifting machine weighs on
# both alike. Each run gets a fresh bench/perfnode (fresh database, dropped at exit); the
# harness is one build's `parley bench` for both (NEW's by default, HARNESS=own for each
# build's own), so the comparison is of the node. docs/BENCHMARKS.md quotes its summaries.
#
#   make bench-compare OLD=db0428d NEW=HEAD
#   OLD=db0428d NEW=HEAD ROUNDS=3 SCENARIOS="hot users" bench/scripts/bench-compare.sh
#
# Settings (environment): OLD, NEW (git revisions; NEW defaults to HEAD), ROUNDS (3),
# SCENARIOS ("hot users"; also "wide": 1,000 channels, 3,000 connections at WIDE_RATE msg/s,
# default 20000, issue 27's many-channels target), USERS (10000), USERS_CHANNELS (4000; 0: the scenario's default
# model), HOT_DURATION (20s), USERS_DURATION (30s), REDIS_DB (11, for `users`; keys go under
# perfnode's fresh prefix), PORT (19420; the pprof side address is PORT+1), HARNESS (new|own),
# WARM (1: one unrecorded hot-channel run first, so that PostgreSQL's WAL segments are ready,
# ADR 0023), OUT (artifacts/bench-compare/<time>). Needs git, go, jq, curl; PostgreSQL at
# 127.0.0.1:5432 (user postgres) and, for `users`, Redis at 127.0.0.1:6379.
set -euo pipefail

OLD=${OLD:?set OLD=<git revision> (and NEW, default HEAD)}
NEW=${NEW:-HEAD}
ROUNDS=${ROUNDS:-3}
SCENARIOS=${SCENARIOS:-hot users}
WIDE_RATE=${WIDE_RATE:-20000}
USERS=${USERS:-10000}
USERS_CHANNELS=${USERS_CHANNELS:-4000}
HOT_DURATION=${HOT_DURATION:-20s}
USERS_DURATION=${USERS_DURATION:-30s}
REDIS_DB=${REDIS_DB:-11}
PORT=${PORT:-19420}
HARNESS=${HARNESS:-new}
WARM=${WARM:-1}
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}

repo=$(git rev-parse --show-toplevel)
OUT=${OUT:-$repo/artifacts/bench-compare/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
old=$(git -C "$repo" rev-parse --short "$OLD")
new=$(git -C "$repo" rev-parse --short "$NEW")
addr=127.0.0.1:$PORT
log() { echo "$(date -u +%H:%M:%S) $*" | tee -a "$OUT/log.txt" >&2; }

# build REV: perfnode and parley of REV's tree (git archive, so no worktree is touched)
# into $OUT/bin/REV.
build() {
	local rev=$1 src=$OUT/src/$1
	[ -x "$OUT/bin/$rev/perfnode" ] && return
	mkdir -p "$src" "$OUT/bin/$rev"
	git -C "$repo" archive "$rev" | tar -x -C "$src"
	log "building $rev"
	(cd "$src" && go build -o "$OUT/bin/$rev/perfnode" ./bench/perfnode &&
		go build -ldflags "-X main.version=$rev" -o "$OUT/bin/$rev/parley" ./cmd/parley)
	rm -rf "$src"
}

node_pid=
stop_node() {
	if [ -n "$node_pid" ]; then
		kill -TERM "$node_pid" 2>/dev/null || true
		wait "$node_pid" 2>/dev/null || true # perfnode drops its database on the way out
		node_pid=
	fi
}
trap stop_node EXIT
trap 'exit 130' INT TERM # the EXIT trap stops the node

# pg_cpu: CPU seconds of the PostgreSQL processes alive now (the node's backends live as
# long as it does, so the difference over a run is PostgreSQL's work for it, plus any
# background writer or checkpointer share).
pg_cpu() { ps -C postgres -o cputimes= | awk '{s += $1} END {print s + 0}'; }

# start_node REV LOG [perfnode flags…]: sets node_pid and node_db once the node is ready,
# and node_pg to pg_cpu then.
start_node() {
	local rev=$1 nlog=$2
	shift 2
	"$OUT/bin/$rev/perfnode" -addr "$addr" -pprof "127.0.0.1:$((PORT + 1))" \
		-send-rate 5000 -send-burst 5000 "$@" 2>"$nlog" &
	node_pid=$!
	node_db=
	for _ in $(seq 1 300); do
		node_db=$(sed -n 's/.*(database \([a-z0-9_]*\)).*/\1/p' "$nlog" | head -1)
		if [ -n "$node_db" ] && curl -fs "http://$addr/readyz" >/dev/null 2>&1; then
			node_pg=$(pg_cpu)
			return
		fi
		kill -0 "$node_pid" 2>/dev/null || { cat "$nlog" >&2; log "perfnode $rev exited"; exit 1; }
		sleep 0.2
	done
	log "perfnode $rev not ready after 60 s"
	exit 1
}

# run SCENARIO REV ROUND: one node, one harness run, its report in $OUT/SCENARIO-ROUND-REV.json.
run() {
	local sc=$1 rev=$2 round=$3 harness=$OUT/bin/$new/parley
	[ "$HARNESS" = own ] && harness=$OUT/bin/$rev/parley
	local base=$OUT/$sc-$round-$rev
	local dbu="postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"
	case $sc in
	hot)
		start_node "$rev" "$base.node.log"
		log "round $round hot $rev (database $node_db, load $(cut -d' ' -f1 /proc/loadavg))"
		"$harness" bench fanout --url "http://$addr" --allow-over-rate --duration "$HOT_DURATION" \
			--warmup 5s --connections 42 --channels 1 --senders 40 --receivers 2 --rate 510 \
			--db-url "$(printf "$dbu" "$node_db")" --quiet --json "$base.json" >"$base.txt" 2>&1 || true
		;;
	wide)
		start_node "$rev" "$base.node.log" -redis-url "redis://127.0.0.1:6379/$REDIS_DB"
		log "round $round wide $rev (database $node_db, load $(cut -d' ' -f1 /proc/loadavg))"
		"$harness" bench fanout --url "http://$addr" --connections 3000 --channels 1000 \
			--senders 1000 --receivers 2000 --subs-per-conn 1 --rate "$((WIDE_RATE / 1000))" \
			--duration 20s --warmup 5s --db-url "$(printf "$dbu" "$node_db")" --quiet --json "$base.json" >"$base.txt" 2>&1 || true
		;;
	users)
		start_node "$rev" "$base.node.log" -redis-url "redis://127.0.0.1:6379/$REDIS_DB"
		log "round $round users $rev (database $node_db, load $(cut -d' ' -f1 /proc/loadavg))"
		local ch=()
		[ "$USERS_CHANNELS" != 0 ] && ch=(--channels "$USERS_CHANNELS")
		"$harness" bench users --url "http://$addr" --connections "$USERS" "${ch[@]}" \
			--duration "$USERS_DURATION" --warmup 5s --ramp 1000 \
			--db-url "$(printf "$dbu" "$node_db")" --quiet --json "$base.json" >"$base.txt" 2>&1 || true
		;;
	esac
	local pg1
	pg1=$(pg_cpu)
	stop_node
	[ -s "$base.json" ] || { log "no report: see $base.txt"; return; }
	# One line per run: scenario round build acks/s deliver P50 P99, REST P99, node and
	# harness CPU (% of a core), lost+duplicated+reordered+gaps+conflicts+missing in PostgreSQL,
	# WAL segments created, load, PostgreSQL's CPU (% of a core).
	jq -r --arg sc "$sc" --arg r "$round" --arg b "$rev" '
		def pct(x): if .run.elapsedSeconds > 0 then (x / .run.elapsedSeconds * 100 | round) else 0 end;
		[$sc, $r, $b, (.run.acksPerSec | round),
		 .latency.sendToDeliver.p50Ms, .latency.sendToDeliver.p99Ms, (.latency.rest.p99Ms // 0),
		 pct(.run.serverCpuSeconds[0] // 0), pct(.run.harnessCpuSeconds),
		 (.check | (.lost + .duplicated + .reordered + .gaps + .conflicts + .missingInDb + .dbMismatched)),
		 (.wal.created // "-"), .machine.loadAvgStart,
		 (if .run.elapsedSeconds > 0 then (($pg1 - $pg0) / .run.elapsedSeconds * 100 | round) else 0 end)] | @tsv' \
		--argjson pg0 "$node_pg" --argjson pg1 "$pg1" "$base.json" >>"$OUT/runs.tsv"
	tail -1 "$OUT/runs.tsv" | tee -a "$OUT/log.txt" >&2
}

build "$old"
build "$new"
[ "$HARNESS" = own ] || log "harness: parley bench of $new for both builds"
if [ "$WARM" = 1 ] && [[ " $SCENARIOS " == *" hot "* ]]; then
	log "warm-up run (not recorded)"
	start_node "$new" "$OUT/warm.node.log"
	"$OUT/bin/$new/parley" bench fanout --url "http://$addr" --allow-over-rate --duration 20s \
		--warmup 5s --connections 42 --channels 1 --senders 40 --receivers 2 --rate 510 \
		--db-url "postgres://postgres@127.0.0.1:5432/$node_db?sslmode=disable" --quiet >"$OUT/warm.txt" 2>&1 || true
	stop_node
fi
printf 'scenario\tround\tbuild\tacks_s\tp50_ms\tp99_ms\trest_p99_ms\tnode_cpu_pct\tharness_cpu_pct\tbad\twal_created\tload\tpg_cpu_pct\n' >"$OUT/runs.tsv"
for sc in $SCENARIOS; do
	for round in $(seq 1 "$ROUNDS"); do
		run "$sc" "$old" "$round"
		run "$sc" "$new" "$round"
	done
done

# Per scenario and build: median and range of P99 (and REST P99 for users), and NEW/OLD of
# the medians (P99, and acks/s: a saturated machine shows in the rate first).
summarize() {
	awk -F'\t' -v old="$old" -v new="$new" '
	NR == 1 { next }
	{ k = $1 SUBSEP $3; n[k]++; p99[k, n[k]] = $6; rest[k, n[k]] = $7; acks[k, n[k]] = $4; cpu[k, n[k]] = $8; pg[k, n[k]] = $13; sc[$1] = 1 }
	function med(a, k, m,   i, j, t, v) {
		for (i = 1; i <= m; i++) v[i] = a[k, i] + 0
		for (i = 2; i <= m; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
		lo = v[1]; hi = v[m]
		return m % 2 ? v[(m+1)/2] : (v[m/2] + v[m/2+1]) / 2
	}
	END {
		for (s in sc) {
			for (bi = 1; bi <= 2; bi++) {
				b = bi == 1 ? old : new; k = s SUBSEP b; m = n[k]
				if (!m) continue
				M[s, b] = med(p99, k, m); l = lo; h = hi
				R[s, b] = med(rest, k, m); rl = lo; rh = hi
				A = med(acks, k, m); K[s, b] = A; C = med(cpu, k, m); P = med(pg, k, m)
				printf "%s %s: %d runs, P99 send->deliver median %.1f ms (%.1f-%.1f)", s, b, m, M[s, b], l, h
				if (s == "users") printf ", REST P99 median %.1f ms (%.1f-%.1f)", R[s, b], rl, rh
				printf ", acks/s median %d, node CPU median %d %%, PostgreSQL CPU median %d %%\n", A, C, P
			}
			if (M[s, old] > 0) printf "%s: P99 median %s/%s = %.2f", s, new, old, M[s, new] / M[s, old]
			if (K[s, old] > 0) printf ", acks/s median %.2f", K[s, new] / K[s, old]
			if (s == "users" && R[s, old] > 0) printf ", REST P99 median %.2f", R[s, new] / R[s, old]
			print ""
		}
	}' "$OUT/runs.tsv"
}
summarize | tee "$OUT/summary.txt"
log "done: $OUT/runs.tsv, $OUT/summary.txt"
