// Package attacks holds parley's bad-input and attack tests (issue 9, SPEC "Guarantees" 6):
// each test starts a real node in process (transport.New on 127.0.0.1:0, its own
// PostgreSQL database, embedded Redis and Kafka) and attacks it over its public surface:
// frames split at every byte, subscription and SEND floods, slow consumers, oversized
// headers, other workspaces' ids on every REST route and STOMP destination, SQL
// metacharacters, a disallowed Origin, tokens that expire while connected and too many
// connections for one user. The package has no code of its own; see its _test.go files and
// docs/RELIABILITY.md.
package attacks
