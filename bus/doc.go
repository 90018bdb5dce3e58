// Package bus joins several `hexward serve` nodes that share one
// PostgreSQL database into one live stream, over NATS JetStream.
//
// Each node's layers.Store hands its committed batches of changes to the
// bus (Store.SetRelay); the bus publishes them, and hands the batches of
// the other nodes to Store.Receive, so that every node's subscribers (the
// tile engine, the websocket hub, scope caches) see every node's writes.
// Without a NATS URL a node runs alone and the store's in-process
// subscribers are the whole bus.
//
// # Stream and subjects
//
// One stream, HEXWARD_CHANGES by default (Options.Stream), file storage,
// limits retention (Options.MaxAge, 24 h, and Options.MaxBytes, 1 GiB,
// oldest discarded first), created or updated at Connect (idempotent; a
// node that finds it gone while publishing creates it again). It holds the
// subjects <prefix>.> with the prefix hexward.changes by default
// (Options.Subject); a node publishes on <prefix>.<node> (the node id with
// characters other than letters, digits, '-' and '_' replaced by '_').
//
// A message is one batch of at most 500 changes (a larger batch, such as an
// import, is split in commit order), as compact JSON:
//
//	[{"seq":42,"layer":"alerts","id":7,"op":"insert","before":null,"after":[114.1,22.5,114.1,22.5],"at":"2025-05-01T08:00:00Z"}]
//
// Bounds are [minx, miny, maxx, maxy] in EPSG:4326, null when empty (no
// geometry on that side). Headers: Hexward-Node (the publishing node; a node
// skips its own messages) and Nats-Msg-Id (<node>:<first seq>-<last seq>,
// so JetStream drops a message published again within 10 minutes).
//
// # Delivery
//
// Publishing never blocks a writer: batches go to a bounded queue
// (Options.MaxPending changes) that one goroutine publishes in order with
// asynchronous publishes, keeping each message until JetStream has
// acknowledged it. While NATS is unreachable the queue keeps them and the
// connection reconnects forever with backoff; they are published after the
// reconnect. When the queue is full, new batches are deferred: only their
// seqs are kept (up to Options.MaxDeferred), and once the queue drains the
// changes are read back from the change log in PostgreSQL and published,
// so the other nodes miss nothing of a long outage. Past MaxDeferred, or
// when the change log was pruned first, they are dropped, counted
// (hexward_bus_dropped_total) and logged. Healthy reports a full queue.
// Close gives the queue Options.FlushTimeout to empty.
//
// Each node consumes with an ordered consumer that starts at the end of
// the stream at Attach ("new") and, after a reconnect, a NATS restart or a
// lost consumer, resumes right after the last message it delivered, so
// messages published meanwhile are not lost (JetStream keeps them). The
// delivery is at least once (JetStream) and each change is handed on at
// most once per node: changes are deduplicated by their seq (an LRU of
// Options.Dedupe seqs).
//
// The change log in PostgreSQL remains the truth. The bus is a fast path:
// a change dropped past MaxDeferred, or published while a node was down,
// is not replayed to that node's subscribers by the bus. A node that restarts
// starts from "new", and its websocket clients resume from the change log
// with the live protocol's since (web/live/PROTOCOL.md); its tile engine
// loads from the database.
//
// # Metrics
//
// hexward_bus_published_total, hexward_bus_received_total,
// hexward_bus_duplicates_skipped_total, hexward_bus_bad_messages_total,
// hexward_bus_pending, hexward_bus_deferred, hexward_bus_recovered_total,
// hexward_bus_reconnects_total, hexward_bus_dropped_total; all count
// changes except reconnects and bad messages.
package bus
