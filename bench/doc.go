// Package bench is parley's load and correctness harness, `parley bench`.
//
// A run has the same shape whatever the scenario:
//
//  1. setup: users, a workspace and channels through the public REST API only. Every client
//     is its own user with its own token, signed locally with the server's HS256 secret.
//  2. connect: clients dial /ws (round-robin over --url, bound to --source-addrs), ramped at
//     --ramp connections/s, and subscribe. The server's /metrics are scraped before and after.
//  3. run: senders post over STOMP for --warmup + --duration; the load model is the
//     scenario's (steady rate, Poisson users, read markers, reconnects).
//  4. drain and check: every receiver's delivery log is checked against the acknowledged
//     sends, Jepsen total-queue style (checker.go): lost, duplicated, reordered, gaps, and
//     acknowledged-but-missing in PostgreSQL. Any of these non-zero is a FAILURE.
//
// Latency is measured by the client's clock only: a message's content carries its sender's
// send time, and the receiver (same process or same machine) subtracts it from the time the
// frame's bytes were read. The server's clock is never used.
//
// Clients run in worker processes when --procs > 1 (`parley bench --worker`, a JSON plan on
// stdin, JSON events on stdout), because one process may hold at most 20,000 open files on
// the benchmark machine. With --procs 1 the same worker runs in-process over a pipe, so the
// protocol is exercised either way.
package bench
