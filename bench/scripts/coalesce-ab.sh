#!/usr/bin/env bash
# coalesce-ab: the node-wide commit coalescer (ADR 0046) off and on, in interleaved rounds
# (off, on, on, off, …) with one build, each run on a fresh bench/perfnode: many channels
# (1,000 channels, 3,000 connections, rates RATES) and the hot channel (one channel, 40
# senders at 510 msg/s each). Transactions and messages per transaction come from the node's
# /metrics at the end of each run. docs/BENCHMARKS.md's log quotes its tables.
# NODE_FLAGS adds perfnode flags to every run (e.g. -coalesce-max-channels 1024).
# AB_FLAG and AB_VALUES A/B another perfnode flag the same way, e.g. the send lane (ADR 0051):
#
#   ROUNDS=3 RATES="10000 20000" bench/scripts/coalesce-ab.sh
#   AB_FLAG=-db-send-conns AB_VALUES="0 4" bench/scripts/coalesce-ab.sh
set -euo pipefail
ROUNDS=${ROUNDS:-3}
RATES=${RATES:-10000 20000}
HOT=${HOT:-1}
PORT=${PORT:-19440}
AB_FLAG=${AB_FLAG:--commit-coalesce}
read -r AB_A AB_B <<<"${AB_VALUES:-false true}"
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
repo=$(git rev-parse --show-toplevel)
OUT=${OUT:-$repo/artifacts/coalesce-ab/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT/bin"
addr=127.0.0.1:$PORT
log() { echo "$(date -u +%H:%M:%S) $*" | tee -a "$OUT/log.txt" >&2; }
(cd "$repo" && go build -o "$OUT/bin/perfnode" ./bench/perfnode && go build -o "$OUT/bin/parley" ./cmd/parley)
rev=$(git -C "$repo" rev-parse --short HEAD)

node_pid=
stop_node() {
	if [ -n "$node_pid" ]; then
		kill -TERM "$node_pid" 2>/dev/null || true
		wait "$node_pid" 2>/dev/null || true
		node_pid=
	fi
}
trap stop_node EXIT
trap 'exit 130' INT TERM

start_node() { # MODE LOG
	"$OUT/bin/perfnode" -addr "$addr" -pprof "127.0.0.1:$((PORT + 1))" -send-rate 5000 \
		-send-burst 5000 "$AB_FLAG=$1" ${NODE_FLAGS:-} 2>"$2" &
	node_pid=$!
	node_db=
	for _ in $(seq 1 300); do
		node_db=$(sed -n 's/.*(database \([a-z0-9_]*\)).*/\1/p' "$2" | head -1)
		if [ -n "$node_db" ] && curl -fs "http://$addr/readyz" >/dev/null 2>&1; then return; fi
		kill -0 "$node_pid" 2>/dev/null || { cat "$2" >&2; exit 1; }
		sleep 0.2
	done
	log "perfnode not ready"; exit 1
}

# run SCENARIO MODE ROUND
run() {
	local sc=$1 mode=$2 round=$3 base=$OUT/$1-$3-$2
	start_node "$mode" "$base.node.log"
	local dbu="postgres://postgres@127.0.0.1:5432/$node_db?sslmode=disable"
	log "round $round $sc $AB_FLAG=$mode (load $(cut -d' ' -f1 /proc/loadavg))"
	if [ "$sc" = hot ]; then
		"$OUT/bin/parley" bench fanout --url "http://$addr" --allow-over-rate --duration 20s --warmup 5s \
			--connections 42 --channels 1 --senders 40 --receivers 2 --rate 510 \
			--db-url "$dbu" --quiet --json "$base.json" >"$base.txt" 2>&1 || true
	else
		"$OUT/bin/parley" bench fanout --url "http://$addr" --connections 3000 --channels 1000 \
			--senders 1000 --receivers 2000 --subs-per-conn 1 --rate "$((sc / 1000))" \
			--duration 20s --warmup 5s --db-url "$dbu" --quiet --json "$base.json" >"$base.txt" 2>&1 || true
	fi
	local tx msgs
	curl -fs "http://$addr/metrics" >"$base.metrics" || true
	# Transactions: the coalescer's own counter when on, the group commits' when off.
	tx=$(awk '/^parley_commit_transactions_total/ {s += $2} END {print s + 0}' "$base.metrics")
	[ "$tx" = 0 ] && tx=$(awk '/^parley_commit_batch_size_count/ {s += $2} END {print s + 0}' "$base.metrics")
	msgs=$(awk '/^parley_commit_batch_size_sum/ {s += $2} END {print s + 0}' "$base.metrics")
	stop_node
	[ -s "$base.json" ] || { log "no report: $base.txt"; return; }
	jq -r --arg sc "$sc" --arg r "$round" --arg m "$mode" --arg tx "$tx" --arg msgs "$msgs" '
		def pct(x): if .run.elapsedSeconds > 0 then (x / .run.elapsedSeconds * 100 | round) else 0 end;
		[$sc, $r, $m, (.run.acksPerSec | round), .latency.sendToDeliver.p50Ms, .latency.sendToDeliver.p99Ms,
		 pct(.run.serverCpuSeconds[0] // 0), $tx,
		 (if ($tx | tonumber) > 0 then (($msgs | tonumber) / ($tx | tonumber) * 10 | round / 10) else "-" end),
		 (.check | (.lost + .duplicated + .reordered + .gaps + .conflicts + .missingInDb + .dbMismatched)),
		 .machine.loadAvgStart] | @tsv' "$base.json" >>"$OUT/runs.tsv"
	tail -1 "$OUT/runs.tsv" | tee -a "$OUT/log.txt" >&2
}

printf 'scenario\tround\t%s\tacks_s\tp50_ms\tp99_ms\tnode_cpu_pct\ttransactions\tmsgs_per_tx\tbad\tload\n' "${AB_FLAG#-}" >"$OUT/runs.tsv"
log "build $rev, out $OUT"
scs="$RATES"
[ "$HOT" = 1 ] && scs="$scs hot"
for round in $(seq 1 "$ROUNDS"); do
	if [ $((round % 2)) = 1 ]; then order="$AB_A $AB_B"; else order="$AB_B $AB_A"; fi
	for sc in $scs; do
		for mode in $order; do run "$sc" "$mode" "$round"; done
	done
done
column -t -s $'\t' "$OUT/runs.tsv" | tee "$OUT/summary.txt"
