// Package actors is parley's real-time core on protoactor-go: one channel actor per active
// channel per node, one connection actor per STOMP session, the registry that finds or spawns
// channel actors, and the System that owns them all.
//
// # Who may send to whom
//
//	read goroutine ──frames──▶ connection actor ──post/subscribe/event──▶ channel actor
//	REST (Poster, Events) ───────────────────────────────────────────────▶ channel actor
//	channel actor ──MESSAGE (a shared template)──▶ session Sink ┄┄ transport/outbound:
//	                 outbox ──writer pool──▶ socket (a full socket: its own goroutine waits)
//	channel actor ──postDone (Session.answer)──▶ committed: RECEIPT into the Sink
//	                                          └──▶ failed: connection actor ──ERROR──▶ Sink
//	channel actor ──user events (mentions)──▶ connection actor   (fire and forget)
//	REST (Events.AccessChanged) ──user event──▶ the user's connection actors, here and
//	                                 through the Bus on every node holding the user's topic
//	channel actor ──Post (committed batch)──▶ Bus ──▶ other nodes' channel actors
//	Bus reader ──Deliver/Resync (a message)──▶ channel actor ──reorder by seq──▶ Sinks
//	channel actor ──commitReq (a batch)──▶ coalescer ──writer: AppendBatches of all queued──▶
//	                 PostgreSQL; the answers go back as commitDone messages (ADR 0046)
//	connection actor ──slash command (goWork: Commands.Invoke, then System.Post as the bot
//	                   or a user event)──▶ commandDone ──▶ the same connection actor
//
// The rules:
//
//   - A connection actor may send to channel actors and wait for their answer (the answer is a
//     message, postDone for a post, or a Sink write, never a blocked Receive).
//
//   - A channel actor never waits on a connection actor. It writes committed events straight
//     into each subscriber's Sink (sink.go), a bounded queue that transport/outbound owns and
//     whose push never blocks: a full queue disconnects that one subscriber (slow-consumer)
//     instead of slowing the channel (ADR 0030). It may send a connection actor a message (a
//     failed post's outcome, a mention for its user), which never blocks either; no code of a
//     connection actor runs on a channel actor.
//
//   - The bus's reader goroutine only sends channel actors messages (and hands user events
//     to connection actors); a channel actor only queues posts on the bus. Neither waits on
//     the other or on Redis (cluster_channel.go, ADR 0005).
//
//   - An access change goes to the connection actors of its user only, on every node: a
//     session's access cache holds its own user's checks, so System.users (under smu, held
//     only to send to mailboxes) is the whole index. The actor forgets its cached checks of
//     the channels concerned and queues a check of those it subscribes to; later operations
//     on them wait behind it (access.go, ADR 0027).
//
//   - A channel actor hands its batch to the node's commit coalescer (commit_coalescer.go)
//     with submit, which appends to a queue under a leaf mutex and never waits; the
//     coalescer's writers never call an actor, they only send commitDone to its mailbox.
//
//   - No actor blocks on I/O inside Receive. PostgreSQL transactions, access checks and
//     since-seq replays run in goroutines that report back to the actor with a message to
//     ctx.Self() (or, for the connection actor, to its own PID).
//
//   - Behind a Sink (transport/outbound), a writer never waits: it writes without blocking or
//     hands the session to a goroutine of its own, so no client can hold the writers that
//     every session shares.
//
// The order in which the node's mutexes may nest is in locks.md beside this file.
//
// Following this order there is no cycle in which two actors wait on each other, so a slow or
// dead client can stall nothing but itself, and a slow database stalls only the channels that
// write to it (their sends queue and go out together in the next group commit).
//
// protoactor's Future (RequestFuture/Respond) and ReceiveTimeout race under -race, so replies
// are messages to a PID or callbacks that only push to a queue, and idle channel actors stop
// on their own timer (time.AfterFunc sending a message to self).
//
// Channel actors and connection actors run on the System's dispatcher (dispatcher.go): a
// mailbox that turns busy goes to a goroutine waiting for one, not to a new goroutine, so a
// run starts on a stack that has already grown (ADR 0017). The rules above are what make
// that safe: a worker is held only as long as a Receive runs, and no Receive waits.
package actors
