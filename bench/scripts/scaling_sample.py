#!/usr/bin/env python3
"""Samples what `parley bench` does not: each Redis process's CPU, commands (by name) and
network bytes, each node's process CPU, RSS and bus/Kafka counters, and the CPU of the
PostgreSQL backends serving one database — then divides the deltas over the harness's
measured window by the messages, deliveries and read marks of that window (its --json).

Used by bench/scripts/scaling-sim.sh (docs/SCALING.md); standard library only.

  scaling_sample.py sample --out S.jsonl --redis-ports 17401,17402 --node-pids 1,2 \
      --node-urls http://127.0.0.1:19411,... --db parley_x --every 1
  scaling_sample.py summary --samples S.jsonl --report report.json

Why per-unit figures: the machine is shared (docs/BENCHMARKS.md), so latencies move by the
hour while CPU-seconds per message move far less.
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

TICK = os.sysconf("SC_CLK_TCK")
NODE_METRICS = (
    "parley_bus_published_messages_total",
    "parley_bus_published_bytes_total",
    "parley_bus_received_bytes_total",
    "parley_read_receipts_recorded_total",
    "parley_read_receipts_kafka_sent_total",
    "parley_commit_seconds_sum",
    "parley_commit_seconds_count",
    "parley_commit_batch_size_sum",
    "process_cpu_seconds_total",
)


def proc_cpu(pid):
    """utime+stime of a process in seconds (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except OSError:
        return None


def proc_rss(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None


def redis_info(port):
    out = subprocess.run(["redis-cli", "-p", str(port), "info", "everything"], capture_output=True,
                         text=True, timeout=5).stdout
    info, cmds = {}, {}
    for line in out.splitlines():
        if ":" not in line or line.startswith("#"):
            continue
        k, v = line.strip().split(":", 1)
        if k.startswith("cmdstat_"):
            m = re.search(r"calls=(\d+)", v)
            cmds[k[8:]] = int(m.group(1)) if m else 0
        elif k in ("used_cpu_sys", "used_cpu_user", "total_commands_processed", "total_net_input_bytes",
                   "total_net_output_bytes", "total_net_repl_input_bytes", "total_net_repl_output_bytes"):
            info[k] = float(v)
        elif k == "role":
            info[k] = v
    info["cmds"] = cmds
    return info


def node_metrics(url):
    want = {}
    try:
        body = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
    except OSError:
        return want
    for line in body.splitlines():
        if line.startswith("#"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in NODE_METRICS:
            want[name] = want.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return want


def pg_backends(db):
    """The pids of db's backends; none this time when psql is slower than 10 s (a crowded
    machine): the backends are summed from the last CPU seen, so a missed list costs little."""
    try:
        out = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc",
                              f"select pid from pg_stat_activity where datname = '{db}'"],
                             capture_output=True, text=True, timeout=10).stdout
    except subprocess.SubprocessError:
        return []
    return [int(p) for p in out.split()]


def sample(a):
    ports = [p for p in a.redis_ports.split(",") if p]
    pids = [int(p) for p in a.node_pids.split(",") if p]
    urls = [u for u in a.node_urls.split(",") if u]
    seen = {}  # backend pid -> last CPU seen, so a backend that exits keeps its share
    with open(a.out, "a") as out:
        while True:
            t = time.time()
            s = {"t": t, "redis": {}, "nodes": [], "pg": {}}
            for p in ports:
                try:
                    s["redis"][p] = redis_info(p)
                except (OSError, subprocess.SubprocessError):
                    pass
            for pid, url in zip(pids, urls):
                s["nodes"].append({"pid": pid, "cpu": proc_cpu(pid), "rss": proc_rss(pid),
                                   "m": node_metrics(url)})
            if a.db:
                for pid in pg_backends(a.db):
                    c = proc_cpu(pid)
                    if c is not None:
                        seen[pid] = c
                s["pg"] = {"cpu": sum(seen.values()), "backends": len(seen)}
            if a.extra_pids:
                s["extra"] = {p: proc_cpu(int(p)) for p in a.extra_pids.split(",") if p}
            out.write(json.dumps(s) + "\n")
            out.flush()
            time.sleep(max(0.0, a.every - (time.time() - t)))


def go_duration(s):
    total = 0.0
    for num, unit in re.findall(r"([\d.]+)(ms|h|m|s)", s):
        total += float(num) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
    return total


def at(samples, t, after):
    """The last sample at or before t (after=False) or the first at or after t."""
    if after:
        return next(s for s in samples if s["t"] >= t)
    return [s for s in samples if s["t"] <= t][-1]


def summary(a):
    rep = json.load(open(a.report))
    samples = [json.loads(l) for l in open(a.samples)]
    started = rep["run"]["startedAt"]
    started = re.sub(r"(\.\d{6})\d*", r"\1", started).replace("Z", "+00:00")
    t0 = datetime.datetime.fromisoformat(started).timestamp() + go_duration(rep["config"]["warmup"])
    t1 = t0 + go_duration(rep["config"]["duration"])
    s0, s1 = at(samples, t0, False), at(samples, t1, True)
    secs = s1["t"] - s0["t"]
    c = rep["run"]["counts"]
    # Messages: what the nodes committed in the sampled span (parley_commit_batch_size_sum);
    # on an overloaded machine many commits outlive the harness's RECEIPT timeout, so its
    # acknowledged count would understate the work done. Acks, scaled, when the metric is absent.
    committed = sum(n1["m"].get("parley_commit_batch_size_sum", 0) - n0["m"].get("parley_commit_batch_size_sum", 0)
                    for n0, n1 in zip(s0["nodes"], s1["nodes"]))
    msgs = committed or c["windowAcks"] * secs / rep["run"]["seconds"]
    dels = c["windowDeliveries"] * secs / rep["run"]["seconds"]
    recorded = sum(n1["m"].get("parley_read_receipts_recorded_total", 0) - n0["m"].get("parley_read_receipts_recorded_total", 0)
                   for n0, n1 in zip(s0["nodes"], s1["nodes"]))
    marks = recorded or c["windowReadMarks"] * secs / rep["run"]["seconds"]
    users = rep["config"]["connections"]
    r = {"sampledSeconds": round(secs, 1), "acksPerSec": rep["run"]["acksPerSec"],
         "deliveriesPerSec": rep["run"]["deliveriesPerSec"], "readMarksPerSec": rep["run"]["readMarksPerSec"],
         "loadAvg": [rep["machine"]["loadAvgStart"], rep["machine"]["loadAvgEnd"]],
         "committedMsgsPerSec": round(msgs / secs, 2), "readMarksRecordedPerSec": round(marks / secs, 2),
         "deliveriesInSpan": round(dels)}
    node_cpu = sum((n1["cpu"] or 0) - (n0["cpu"] or 0) for n0, n1 in zip(s0["nodes"], s1["nodes"]))
    r["nodeCpuCores"] = round(node_cpu / secs, 3)
    r["nodeCpuUsPerMsg"] = round(1e6 * node_cpu / msgs, 1)
    r["nodeCpuUsPerDelivery"] = round(1e6 * node_cpu / dels, 2)
    r["nodeCpuUsPerUserSecond"] = round(1e6 * node_cpu / secs / users, 2)
    r["nodeRssMiB"] = [round((n["rss"] or 0) / 2**20, 1) for n in s1["nodes"]]
    conns = rep["config"]["connections"]
    r["nodeRssKiBPerUser"] = round(sum(n["rss"] or 0 for n in s1["nodes"]) / 1024 / conns, 1)
    for k, name in (("parley_bus_published_bytes_total", "busPublishedBytesPerMsg"),
                    ("parley_bus_received_bytes_total", "busReceivedBytesPerMsg"),
                    ("parley_bus_published_messages_total", "busPublishesPerMsg"),
                    ("parley_read_receipts_kafka_sent_total", "kafkaRecordsPerReadMark")):
        d = sum(n1["m"].get(k, 0) - n0["m"].get(k, 0) for n0, n1 in zip(s0["nodes"], s1["nodes"]))
        r[name] = round(d / (marks if "Read" in name else msgs), 3) if (marks if "Read" in name else msgs) else None
    cs = sum(n1["m"].get("parley_commit_seconds_count", 0) - n0["m"].get("parley_commit_seconds_count", 0)
             for n0, n1 in zip(s0["nodes"], s1["nodes"]))
    r["commitsPerMsg"] = round(cs / msgs, 3) if msgs else None
    rc, ops, nin, nout, nrepl, cmds = 0.0, 0.0, 0.0, 0.0, 0.0, {}
    per = {}
    for p, i1 in s1["redis"].items():
        i0 = s0["redis"].get(p)
        if not i0:
            continue
        cpu = (i1["used_cpu_sys"] + i1["used_cpu_user"]) - (i0["used_cpu_sys"] + i0["used_cpu_user"])
        per[p] = {"role": i1.get("role"), "cpuCores": round(cpu / secs, 3)}
        rc += cpu
        ops += i1["total_commands_processed"] - i0["total_commands_processed"]
        nin += i1["total_net_input_bytes"] - i0["total_net_input_bytes"]
        nout += i1["total_net_output_bytes"] - i0["total_net_output_bytes"]
        nrepl += i1.get("total_net_repl_output_bytes", 0) - i0.get("total_net_repl_output_bytes", 0)
        for k, v in i1["cmds"].items():
            cmds[k] = cmds.get(k, 0) + v - i0["cmds"].get(k, 0)
    r["redisPerProcess"] = per
    r["redisCpuCores"] = round(rc / secs, 3)
    r["redisCpuUsPerMsg"] = round(1e6 * rc / msgs, 1)
    r["redisOpsPerSec"] = round(ops / secs, 1)
    r["redisOpsPerMsg"] = round(ops / msgs, 2)
    r["redisCpuUsPerUserSecond"] = round(1e6 * rc / secs / users, 3)
    r["redisNetInBytesPerMsg"] = round(nin / msgs)
    r["redisNetOutToClientsBytesPerMsg"] = round((nout - nrepl) / msgs)
    r["redisReplBytesPerMsg"] = round(nrepl / msgs)
    r["redisCommandsPerSec"] = {k: round(v / secs, 1) for k, v in sorted(cmds.items(), key=lambda kv: -kv[1]) if v > 0}
    if s0.get("pg") and s1.get("pg"):
        pg = s1["pg"]["cpu"] - s0["pg"]["cpu"]
        r["pgBackendCpuCores"] = round(pg / secs, 3)
        r["pgBackendCpuUsPerMsg"] = round(1e6 * pg / msgs, 1)
        r["pgBackendCpuUsPerUserSecond"] = round(1e6 * pg / secs / users, 3)
    if s0.get("extra"):
        r["extraCpuCores"] = {p: round(((s1["extra"].get(p) or 0) - (v or 0)) / secs, 3) for p, v in s0["extra"].items()}
    json.dump(r, sys.stdout, indent=1)
    print()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--out", required=True)
    s.add_argument("--redis-ports", default="")
    s.add_argument("--node-pids", default="")
    s.add_argument("--node-urls", default="")
    s.add_argument("--extra-pids", default="")
    s.add_argument("--db", default="")
    s.add_argument("--every", type=float, default=1.0)
    m = sub.add_parser("summary")
    m.add_argument("--samples", required=True)
    m.add_argument("--report", required=True)
    a = ap.parse_args()
    sample(a) if a.cmd == "sample" else summary(a)


if __name__ == "__main__":
    main()
