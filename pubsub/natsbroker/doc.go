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
// trip), the leader's append to its file store (buffered; NATS syncs to
// disk every two minutes by default, sync_interval), one Raft round to the
// replicas when there are any, and one message to each node subscribed to
// the topic. With an in-process server on this project's 2-core machine,
// a lone publisher waiting for each acknowledgement makes about 22,000
// publishes per second (45 µs each) and concurrent publishers about
// 45,000 per second; the client side allocates about 20 times per publish
// (the acknowledgement's JSON, the request, the key header). See
// BenchmarkPublish.
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
