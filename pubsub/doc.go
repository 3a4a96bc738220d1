// Package pubsub is wsloop's topics: publish a message once and every
// subscriber of the topic receives it, with what market-data feeds need on
// top: per-topic sequence numbers and epochs, a bounded history from which
// reconnecting clients recover what they missed, and per-subscription
// conflation for subscribers that fall behind.
//
// A Hub serves the wire protocol below as a server.Handler and publishes
// from Go (Hub.Publish). Its topics go through a Broker: NewLocal keeps
// them in this process; package natsbroker joins several wsloop processes
// or machines through NATS JetStream.
//
// # Delivery
//
// A publication is encoded once per wire form (and compressed once for the
// subscribers that negotiated permessage-deflate); each event loop gets one
// task for all of its subscribers, and a connection with several pending
// publications gets them in one write. A subscription ends with its
// connection, in O(1). Publications of one topic reach each subscriber in
// sequence order, after the "subscribed" answer and any replayed messages,
// and in order with the connection's own Conn.Send calls (one queue per
// event loop carries both).
//
// # Wire protocol
//
// This section is the protocol's specification; package wire is its one
// implementation in Go, which the Hub, the Go client (package client) and
// bench's load generators share.
//
// Clients send JSON text messages; the subprotocol (Sec-WebSocket-Protocol)
// picks the form of publications: "wsloop.json" (also when none is
// negotiated) or "wsloop.bin". Every client message may carry an "id"
// (a JSON number or string), echoed in its answer.
//
//	→ {"op":"subscribe","topic":"AAPL","id":1}
//	→ {"op":"subscribe","topic":"AAPL","since":{"epoch":"9f86d081884c7d65","seq":41},"conflate":true}
//	→ {"op":"unsubscribe","topic":"AAPL","id":2}
//
//	← {"op":"subscribed","id":1,"topic":"AAPL","epoch":"9f86d081884c7d65","seq":41}
//	← {"op":"subscribed","topic":"AAPL","epoch":"9f86d081884c7d65","seq":41,"recovery":"ok"}
//	← {"op":"msg","topic":"AAPL","epoch":"9f86d081884c7d65","seq":42,"key":"AAPL","data":{"px":101.5}}
//	← {"op":"unsubscribed","id":2,"topic":"AAPL"}
//	← {"op":"error","id":3,"code":"bad_request","message":"unknown op \"subscrib\""}
//
// "subscribed" gives the position the subscription's stream continues
// from: the messages that follow have seq+1, seq+2, … in that epoch. The
// epoch is 16 hex digits; seq counts from 1. A subscribe with "since" (the
// position of the last message the client has) asks for recovery:
// "recovery":"ok" answers with since itself and is followed by the missed
// messages, oldest first, then by live ones, with no gap and no duplicate;
// "recovery":"failed" means the gap is older than the topic's history, or
// from another epoch, and the client must take a fresh snapshot: the answer
// carries the topic's current position and live messages follow (with
// "snapshot":true, a snapshot instead: see below). "key" is the
// publisher's key (of the topic's state, and of conflation), absent when
// empty. "data" is the published payload,
// embedded as is when it is JSON and as a JSON string otherwise.
//
// With "conflate":true, a subscriber whose connection falls behind (more
// than the conflation threshold queued for it) gets only the latest
// message per key while it catches up: sequence numbers then skip, but
// each key's last value arrives. Messages without a key are never
// conflated (publish trades without one): such a message first sends the
// pending conflated values, then itself, so a slow subscriber sees every
// trade, and every message in sequence order.
//
// # Keyed state, snapshots and deltas
//
// A topic keeps the latest value of every key: each publication with a
// key is an update of it (Hub.Publish), unless published as a delete
// (the key leaves the state; Hub.PublishKind with Delete) or as an event
// (a keyed fact such as a trade: delivered in order, never conflated, not
// state; Event). A publication without a key is never state. The state
// is bounded (WithMaxKeys, default 100,000 keys per topic): an update of
// a new key past the bound is refused (ErrTooManyKeys) until keys are
// deleted. Snapshots need a broker that keeps state (a Snapshotter: the
// in-process Local broker, and natsbroker, which keeps it in JetStream so
// that every node serves the same snapshot at the same position); with
// another broker a snapshot request is answered "unavailable".
//
//	→ {"op":"subscribe","topic":"md.AAPL","snapshot":true,"id":1}
//	← {"op":"subscribed","id":1,"topic":"md.AAPL","epoch":"9f86d081884c7d65","seq":41,"snapshot":2}
//	← {"op":"msg","topic":"md.AAPL","epoch":"9f86d081884c7d65","seq":17,"key":"bid.1","data":{"px":101.5},"kind":"snapshot"}
//	← {"op":"msg","topic":"md.AAPL","epoch":"9f86d081884c7d65","seq":40,"key":"ask.1","data":{"px":101.6},"kind":"snapshot"}
//	← {"op":"msg","topic":"md.AAPL","epoch":"9f86d081884c7d65","seq":42,"key":"bid.1","kind":"delete"}
//	← {"op":"msg","topic":"md.AAPL","epoch":"9f86d081884c7d65","seq":43,"key":"AAPL","data":{"trade":101.55},"kind":"event"}
//
// With "snapshot":true the answer says how many snapshot entries follow:
// the value of every key at the answer's position (each with the
// sequence number of the update that set it, in increasing order), then
// live messages from the position's seq+1, with no gap and no duplicate
// between them. With "since" as well, a recovery that works replays as
// usual (no snapshot), and one that cannot answers "recovery":"snapshot"
// followed by the snapshot. A client's view of a topic is then its
// snapshot with every later message applied: an update sets its key, a
// delete removes it, events and keyless messages leave it alone.
//
// With "delta":"fossil" (which needs "snapshot":true and the wsloop.bin
// subprotocol, and excludes "conflate"), an update of a key that has a
// value comes as a Fossil delta (fossil-scm's delta format, package
// internal/fossil) against that previous value, the one the subscriber
// already has: computed once per publication, not per subscriber. The
// first value of a key, and any after a delete, comes whole.
//
// # Entitlements
//
// A hub built WithEntitlements serves only connections that presented a
// JWT connection token at the upgrade ("Authorization: Bearer <token>" or
// "?token=<token>"; 401 otherwise, 429 past WithMaxConnsPerUser), and only
// the topics its claims allow (package jwtauth: "subscribe" and "publish",
// arrays of patterns such as "md.*" or "md.>"):
//
//	→ {"op":"subscribe","topic":"news","id":4}
//	← {"op":"error","id":4,"code":"forbidden","message":"not entitled to subscribe to news"}
//	→ {"op":"publish","topic":"orders.alice","key":"o1","data":{"qty":5},"id":5}
//	← {"op":"published","id":5,"topic":"orders.alice","epoch":"9f86d081884c7d65","seq":7}
//	→ {"op":"refresh","token":"eyJ…","id":6}
//	← {"op":"unsubscribed","topic":"md.AAPL","reason":"forbidden"}
//	← {"op":"refreshed","id":6,"exp":1767225600}
//
// "publish" is served only with entitlements, to the topics of the
// "publish" claim; "data" is any JSON value, published as is. A
// connection whose token expires is closed with 3000 ("token expired")
// unless the client sent "refresh" with a newer token of the same user
// ("sub") before: the answer gives the new expiry (Unix seconds), and the
// subscriptions the new token no longer allows end first, each with an
// "unsubscribed" carrying "reason":"forbidden". A refused refresh
// ("unauthorized": invalid, expired, or another user's) leaves the
// current token in force.
//
// Error codes: "bad_request" (not JSON, unknown op, binary message),
// "bad_topic", "bad_position", "already_subscribed", "not_subscribed",
// "too_many_subscriptions", "forbidden" (outside the token's claims),
// "unauthorized" (a refresh with a bad token), "unavailable" (the broker
// failed). After too many errors (WithMaxErrors) the server closes with
// 1008.
//
// In "wsloop.bin", publications are binary messages: the kind (1 byte:
// 0x01 a publication, 0x02 a Fossil delta, 0x03 a snapshot entry, 0x04 a
// delete, 0x05 an event), the topic's length (1 byte) and bytes, the epoch
// and the sequence (8 bytes each, big endian), the key's length (1 byte)
// and bytes, then the data to the end of the message (for 0x02 the delta;
// none for 0x04). In "wsloop.json" the kind is the "kind" member, absent
// for a publication; deltas have no JSON form. Answers stay JSON text.
//
// Topic names are 1–255 bytes without control characters, spaces, '*',
// '>' or empty '.'-separated parts (ValidTopic).
package pubsub
