// Package multinode holds the cluster tests of parley (issue 6): several transport.Server
// nodes in one test process on 127.0.0.1:0, sharing one PostgreSQL database, the test
// Redis (one bus topic prefix per test) and one embedded Kafka, exercised through the
// public REST API and the stompclient package, checked with bench's Jepsen-style
// total-queue checker. The package has no code of its own; see its _test.go files.
package multinode
