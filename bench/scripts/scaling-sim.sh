#!/usr/bin/env bash
# scaling-sim: N parley nodes on loopback (`make cluster` on ports of their own) with the bus
# on a local Redis Cluster (REDIS_MODE=cluster, 3 masters + 3 replicas) or on a redis-server
# of their own (REDIS_MODE=single), a fresh database, and `parley bench users` spread over
# the nodes. bench/scripts/scaling_sample.py samples Redis (CPU, commands by name, network
# bytes), the nodes (CPU, RSS, bus and Kafka counters) and the database's PostgreSQL backends
# (CPU from /proc) every second; its summary divides the measured window's deltas by that
# window's messages, deliveries and read marks. docs/SCALING.md quotes the results.
#
#   NODES=3 USERS=6000 REDIS_MODE=cluster bench/scripts/scaling-sim.sh
#
# Settings (environment): NODES (3), USERS (3000), CHANNELS (0: the users model's default,
# USERS/10), DURATION (40s), WARMUP (10s), RAMP (500 connections/s), REDIS_MODE (cluster |
# single), BASE_PORT (19410: nodes on BASE_PORT+1…), REDIS_BASE_PORT (17400: single on it,
# cluster on +1…+6), KAFKA_PORT (19490), DB_CONNS (6: each node's PostgreSQL pool; the
# shared server allows 100 connections in all), OUT (artifacts/scaling/<time>). Needs make, go,
# jq, curl, psql, redis-server, redis-cli, python3; PostgreSQL at 127.0.0.1:5432 (postgres).
# Everything it starts (nodes, Kafka, Redis, the database) is stopped or dropped on exit.
#
# Harness limits worked around here, not in bench/*.go: `parley bench` samples only the
# nodes' own /metrics, so Redis and PostgreSQL are sampled beside it; a plain `parley serve`
# limits sockets per address and REST writes per user (docs/LIMITS.md), which the set-up of
# thousands of users from one address and one owner exceeds, so the nodes get them raised.
set -euo pipefail

NODES=${NODES:-3}
USERS=${USERS:-3000}
CHANNELS=${CHANNELS:-0}
DURATION=${DURATION:-40s}
WARMUP=${WARMUP:-10s}
RAMP=${RAMP:-500}
REDIS_MODE=${REDIS_MODE:-cluster}
BASE_PORT=${BASE_PORT:-19410}
REDIS_BASE_PORT=${REDIS_BASE_PORT:-17400}
KAFKA_PORT=${KAFKA_PORT:-19490}
DB_CONNS=${DB_CONNS:-6}
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
export PYTHONDONTWRITEBYTECODE=1

repo=$(git rev-parse --show-toplevel)
cd "$repo"
OUT=${OUT:-$repo/artifacts/scaling/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
dir=$OUT/cluster
log() { echo "$(date -u +%H:%M:%S) $*" | tee -a "$OUT/log.txt" >&2; }

db=parley_scaling_$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
prefix=$db
ports= urls= url_flags=
for i in $(seq 1 "$NODES"); do
	p=$((BASE_PORT + i))
	ports="$ports $p"
	urls="$urls${urls:+,}http://127.0.0.1:$p"
	url_flags="$url_flags --url http://127.0.0.1:$p"
done
rports=
if [ "$REDIS_MODE" = cluster ]; then
	for i in 1 2 3 4 5 6; do rports="$rports${rports:+ }$((REDIS_BASE_PORT + i))"; done
else
	rports=$REDIS_BASE_PORT
fi
make_args=(CLUSTER_DIR="$dir" CLUSTER_PORTS="${ports# }" CLUSTER_KAFKA_PORT="$KAFKA_PORT"
	CLUSTER_PREFIX="$prefix" CLUSTER_DB="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable"
	REDIS_MODE="$REDIS_MODE" REDIS_CLUSTER_PORTS="$rports" CLUSTER_REDIS="redis://127.0.0.1:$REDIS_BASE_PORT/0")

sampler=
cleanup() {
	[ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
	make --no-print-directory cluster-stop "${make_args[@]}" >>"$OUT/log.txt" 2>&1 || true
	if [ "$REDIS_MODE" = single ] && [ -f "$dir/redis.pid" ]; then
		kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
	fi
	psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

log "nodes $NODES, users $USERS, redis $REDIS_MODE ($rports), database $db, out $OUT; load $(cut -d' ' -f1-3 /proc/loadavg)"
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db" >/dev/null
mkdir -p "$dir"
if [ "$REDIS_MODE" = single ]; then
	redis-server --port "$REDIS_BASE_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
		--pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
	for t in $(seq 1 100); do redis-cli -p "$REDIS_BASE_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
fi
# A plain `parley serve` per node; the harness's set-up needs the limits for the internet
# lifted (docs/LIMITS.md), as bench/perfnode does in process.
PARLEY_DB_MAX_CONNS=$DB_CONNS PARLEY_MAX_SOCKETS_PER_IP=1000000 PARLEY_MAX_UNAUTH_SOCKETS_PER_IP=2048 \
	PARLEY_REST_WRITE_LIMIT=1000000,1000000 PARLEY_UNAUTHENTICATED_LIMIT=1000000,1000000 \
	make --no-print-directory cluster "${make_args[@]}" 2>&1 | tee -a "$OUT/log.txt"

pids=$(for i in $(seq 1 "$NODES"); do cat "$dir/node$i.pid"; done | paste -sd,)
python3 bench/scripts/scaling_sample.py sample --out "$OUT/samples.jsonl" --redis-ports "${rports// /,}" \
	--node-pids "$pids" --node-urls "$urls" --db "$db" --extra-pids "$(cat "$dir/kafka.pid")" --every 1 &
sampler=$!

chan_flag=
[ "$CHANNELS" != 0 ] && chan_flag="--channels $CHANNELS"
cmd="bin/parley bench users $url_flags --connections $USERS $chan_flag --duration $DURATION --warmup $WARMUP --ramp $RAMP --db-url postgres://postgres@127.0.0.1:5432/$db --quiet --json $OUT/report.json"
log "$cmd"
# shellcheck disable=SC2086
$cmd 2>&1 | tee "$OUT/bench.txt" || log "the harness exited non-zero (its report says why)"
kill "$sampler" 2>/dev/null || true
sampler=
[ -f "$OUT/report.json" ] || exit 1
python3 bench/scripts/scaling_sample.py summary --samples "$OUT/samples.jsonl" --report "$OUT/report.json" | tee "$OUT/summary.json"
log "done; load $(cut -d' ' -f1-3 /proc/loadavg)"
