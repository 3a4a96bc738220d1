// Package natsbroker is a pubsub.Broker on NATS JetStream: several wsloop
// processes, on one machine or many, connected to the same NATS system
// serve one set of topics. A message published on any of them reaches the
// subscriptions of every one of them exactly once, in sequence order, and
// a client that reconnects to any of them recovers from the same history.
//
//	b, err := natsbroker.Connect("nats://127.0.0.1:4222", natsbroker.WithHistory(1000, 5*time.Minute))
//	hub := pubsub.New(pubsub.WithBroker(b))
//
// # Topics and streams
//
// Topic T is the NATS subject "wsloop.T" (the prefix is WithPrefix), and
// has its own JetStream stream, named "wsloop_" followed by T in lower-case
// base32hex (or, for topics too long for a stream name, 'z' and T's
// SHA-256), so that any valid topic, with its '.', '-', ':' or non-ASCII
// bytes, gives a valid stream name that stays distinct on case-insensitive
// file systems. The first Publish, Subscribe or History of a topic on any
// node creates its stream, on disk, with WithReplicas copies; streams
// outlive the wsloop processes. The stream's metadata gives the topic's
// name ("wsloop_topic", see nats stream info) and its history window
// (WithHistory: the last n messages, none older than ttl), which History
// serves. The stream's limits (MaxMsgs, MaxAge) are wider: twice the
// window, and at least 1000 messages and a minute more, because each node
// reads the stream a little after the messages are stored, and a burst of
// publishes beyond the window must not be dropped by the limits before
// every node has delivered it. A node that falls further behind than the
// limits misses what they dropped: its subscriptions see the sequence
// skip. Since clients choose the topics they subscribe to, bound the number
// of streams with the NATS account's limits (max_streams) where that
// matters.
//
// # Keyed state
//
// The broker keeps each topic's keyed state (pubsub.Snapshotter,
// pubsub.KindPublisher: Updates, Deletes and Events) in JetStream, so
// that every node serves the same snapshot at the same position, and the
// state outlives every wsloop process. A keyed Update or Delete is stored
// by the topic's stream, in its one sequence, on the key's own subject
// ("$WSK." the stream's name "." the key in base32hex; the key and the
// kind also travel in headers, Wsloop-Key and Wsloop-Kind). Before the
// first one, the broker creates the topic's state stream (the topic's
// stream name and "-state"), which sources the topic's stream and keeps
// the last message of each subject (MaxMsgsPerSubject 1): the latest
// Update or Delete (a tombstone) of every key, and the topic's latest
// message without key, which tells how far the source has come; each
// copy's Nats-Stream-Source header gives its position in the topic. (Not
// a mirror: NATS lets a mirror of a stream with direct gets answer them
// for that stream, and History's batched gets would then reach a stream
// that keeps one message per key.)
//
// Snapshot reads the state stream's last message per subject with an
// ordered consumer to its end, which gives the state at the source's
// position, then the topic's messages after that position, which the
// source had not copied yet, from the topic's stream (History): the state
// at the topic's latest position, exact, whatever the source's lag. The
// server does the copying, so the state cannot miss a message a node
// stored and then died. A topic without a state stream has had no keyed
// Update or Delete in its epoch. A topic stream that is recreated (a new
// epoch) gets a new state stream; one created by a wsloop that predates
// keyed state is given the key subjects at its first lookup, and its
// state then holds the keys of its retained messages.
//
// The copy is asynchronous, and the topic's stream drops its oldest
// messages past its limit (MaxMsgs, see "Topics and streams"): a message
// dropped before the state stream copied it would be missing from the
// state. So a publish to a topic with keyed state waits while the state
// stream lags more than half that limit behind the topic (this node's
// latest acknowledged sequence number against the state stream's
// position, looked up only when the lag may be that large). A burst of
// publishes then goes at the pace of the copy: on this project's machine,
// with an in-process server, 16 concurrent publishers of new keys make
// about 15,000 publishes a second (40,000 without the wait, and the state
// then lost most of the keys: TestStateKeepsUpWithBursts), and a lone
// publisher waiting for each acknowledgement is not slowed. A node that publishes only messages
// without key to a topic, and never a keyed one, does not know of the
// state stream and does not wait.
//
// The keys of a topic are bounded (WithMaxKeys): an Update of a new key
// past the bound is refused with pubsub.ErrTooManyKeys. Checking costs
// nothing until the state stream may be full; then the key is looked up,
// and the keys counted exactly by a sweep of the state stream, which also
// removes the tombstones of deleted keys. A node sweeps at once after it
// published a Delete, else at most every 5 seconds, so a key deleted on
// another node makes room within 5 seconds. Concurrent new keys on
// several nodes can overshoot the bound by the keys the source had not
// copied when each was checked.
//
// # Where sequence numbers are assigned, and why there
//
// A topic's sequence number is its stream's sequence number: the NATS
// server that leads the stream (the only one in a single-server setup, the
// stream's Raft leader in a cluster) assigns it when it stores the message,
// before acknowledging the publish, and Publish returns it from that
// acknowledgement. Every node's publishes to a topic go through that one
// writer, so the topic has a single order whichever node published; no
// node keeps a counter of its own that could diverge from another's or be
// lost with it. The number names the message in the very log that history
// and live delivery are read from, so recovery and live delivery cannot
// disagree, and a client can resume on another node. In a cluster with
// replicas a new leader continues the same log (Raft), sequence included.
//
// # Epochs
//
// A topic's epoch is its stream's creation time in nanoseconds. The server
// records it once, when the stream is created, and keeps it in the
// stream's stored configuration: it is the same for every node, after a
// restart of wsloop and after a restart of NATS on the same storage. A
// stream that is deleted and created again, or lost with a server's
// storage, starts its sequence again at 1 with a new creation time, so
// positions of the old history fail to recover, as they must. Brokers
// cache each topic's epoch: History always asks NATS; Publish asks again
// every 10 seconds and whenever an acknowledged sequence goes backwards;
// a subscription asks whenever its consumer fails.
//
// # Delivery
//
// A broker reads each subscribed topic through one JetStream consumer
// (ephemeral, pull, no acknowledgements, in memory), however many
// subscriptions the topic has on it: the hub subscribes once per topic,
// so a publish costs NATS one delivery per node, not per client. The
// consumer starts just after the stream's last message at the first
// Subscribe, so every message stored after Subscribe returns is delivered.
// Messages are handed to the subscriptions in stream order on one
// goroutine. A consumer is bound to the stream it was created on; when it
// fails (its deliveries skip, its stream is deleted, heartbeats stop, the
// server restarted) the broker creates another just after the last message
// delivered, without gap or duplicate, or from the first message of a
// recreated stream, in its new epoch.
//
// # History
//
// History asks for the stream's state (one request: the epoch, first and
// last sequence), then reads the missed messages with one batched direct
// get (NATS 2.11 or later; older servers are asked once per message).
// The latest position alone (History(topic, pubsub.Position{})) is that
// one request, or none while the broker is subscribed to the topic: it is
// then the position of the last message handed to the subscriptions.
//
// # Cost of a publish
//
// One request to the stream's leader and its acknowledgement (one round
// trip; a keyed Update or Delete adds a lookup of the state stream at
// most once a second, see "Keyed state"), the leader's append to its file store (buffered; NATS syncs to
// disk every two minutes by default, sync_interval), one Raft round to the
// replicas when there are any, and one message to each node subscribed to
// the topic, and, for a topic with keyed state, the source's copy to the
// state stream (the server's work). With an in-process server on this project's 2-core machine,
// a lone publisher waiting for each acknowledgement makes about 22,000
// publishes per second (45 µs each) and concurrent publishers about
// 45,000 per second; the client side allocates about 20 times per publish
// (the acknowledgement's JSON, the request, the key header). See
// BenchmarkPublish, whose publishes are keyed: the state stream's copy
// did not change their time (bench/BENCHMARKS.md, "Market data v2").
//
// # Running NATS
//
// A standalone server with JetStream, storing in /var/lib/nats:
//
//	nats-server -js -sd /var/lib/nats
//
// or Debian's package (apt-get install nats-server, version 2.9; History
// then reads one message per request), with "jetstream { store_dir:
// /var/lib/nats }" added to /etc/nats-server.conf (a directory the nats
// user can write). Then start each wsloop with -nats
// nats://127.0.0.1:4222. For history that survives the loss of a NATS
// server, run three servers as a cluster and use WithReplicas(3).
//
// The tests start a real nats-server (2.15) inside the test process; the
// same conformance table runs against any server given in
// WSLOOP_NATS_URL (it passes on Debian's 2.9.10).
package natsbroker
