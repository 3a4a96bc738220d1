// Package loadgen is a WebSocket load generator that itself scales to many
// connections per process (Linux only; elsewhere Run returns an error).
//
// Design:
//
//   - A few goroutines, not one per connection: Run starts one epoll loop
//     per GOMAXPROCS (Config.Loops), each owning a contiguous block of
//     connections whose whole state is one small struct in a slice (the
//     epoll event carries the slice index). Buffers exist only while needed:
//     the handshake state while upgrading, a read remainder while a frame is
//     split across reads, a write remainder while the socket is full.
//   - Non-blocking connects, at most Config.ConnectInflight in flight, each
//     with a connect-plus-upgrade timeout. Every socket is bound to a source
//     address in 127.0.0.0/8 (round-robin over Config.SrcCount addresses from
//     Config.Src) with IP_BIND_ADDRESS_NO_PORT, so the kernel picks the port
//     per destination at connect time and ~28K ports per source address are
//     available. Targets outside 127.0.0.0/8 are refused.
//   - Real upgrades: a random Sec-WebSocket-Key, the 101 and
//     Sec-WebSocket-Accept are verified. Client frames are masked with a
//     random key (ws.Cipher); server pings are answered with pongs.
//   - Echo mode puts the send time into the first 8 payload bytes, so a
//     connection needs no queue of timestamps. Closed loop (Rate 0) keeps
//     Config.Inflight messages outstanding per connection; open loop paces
//     Rate messages per second over all connections with nanosecond
//     epoll_pwait2 timeouts and stamps each message with its intended send
//     time (no coordinated omission); a message due on a connection whose
//     socket is still full is counted as backlogged, never queued.
//   - Round trips are recorded in microseconds in an HdrHistogram (1 µs to
//     60 s, 3 significant digits). Only messages whose send time falls in
//     the measured window (after Warmup, for Duration) are counted; replies
//     are awaited for up to Drain after sending stops.
//   - Fanout mode (subscribers): right after its upgrade every connection
//     sends the wire protocol's JSON subscribe request for each of
//     Config.Topics and counts as connected once each is answered
//     ({"op":"subscribed",...}; an {"op":"error",...} answer fails it).
//     Publications are recognised in wsloop's two forms (wsloop.bin,
//     wsloop.json) and as the bare payload the peers forward; the payload
//     (AppendPayload) carries its publish time, topic index and per-topic
//     number, so latency, loss, duplicates and order are measured the same
//     way for every server, and wsloop's own per-topic sequence is checked
//     too. The measurement window comes from outside (Config.Schedule):
//     the publisher (Publish) is another process. Reads are batched: after
//     a partial batch of events the loop sleeps Config.PollInterval.
//   - Everything is bounded: per-connection connect timeouts, a cap on the
//     connect phase, Hold/Duration, and a hard Deadline on the whole run.
//
// Result is what one process reports (cmd/wsload -json prints it as one JSON
// line); Merge combines the results of several processes.
package loadgen
