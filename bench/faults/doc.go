// Package faults is parley's fault suite (issue 9): Go tests that drive real nodes — in
// process through transport.New, or the built binary as a child process when a test sends it
// SIGTERM or SIGKILL — while an in-process toxiproxy (github.com/Shopify/toxiproxy/v2) sits
// in front of PostgreSQL and Redis and the Kafka broker (kfake) is stopped and restarted.
//
// Every scenario runs real STOMP clients (stomp/stompclient) under load and ends with the same
// accounting: the bench checker (bench.CheckLogs, Jepsen's total-queue checker) counts lost,
// duplicated and reordered deliveries, and PostgreSQL is queried for every acknowledged
// message, for every refused one (it must not be there) and for half-written channels.
//
// The suite takes a few minutes, so it runs only when PARLEY_FAULTS=1 (`make test-faults`,
// which CI runs); under plain `go test ./...` each test skips. docs/RELIABILITY.md lists the
// scenarios with what each measured.
package faults
