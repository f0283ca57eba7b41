// Package contract holds the contract suites of parley's interfaces that have more than one
// implementation (issue 22): one suite per interface, run by the tests of every
// implementation, as watermill runs one suite against each of its Pub/Subs. A suite says
// what the interface's documentation promises, on real PostgreSQL; the caller builds the
// implementation over a fresh store for each test.
//
//   - RunPoster: api.Poster — api.StorePoster (transport/api tests) and actors.System
//     (transport/ws tests, delivery seen through real STOMP sessions).
//   - RunReadMarkers: api.ReadMarkers / actors.ReadMarks — persistence.Store,
//     api.StoreReadMarkers and actors.Receipts (the Redis → aggregator → Kafka → persister
//     pipeline).
//   - RunBlobs: files.Blobs — files.DirBlobs and files.S3Blobs (against gofakes3, a real S3
//     protocol server in process), with files.Presigner when the store is one.
//
// The package names no transport package: the interfaces are restated here (Go interfaces
// are structural), so the core's tests may run the suites too.
package contract
