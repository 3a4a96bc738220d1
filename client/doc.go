// Package client is wsloop's Go WebSocket client: it dials with options
// (headers, subprotocols, permessage-deflate, TLS, timeouts), reconnects by
// itself with exponential backoff and full jitter, finds half-open
// connections with a heartbeat, and speaks wsloop's topic protocol
// (package pubsub): Subscribe, and after every reconnection an automatic
// resubscription from the last received (epoch, seq), reported as
// recovered or not, with sequence gaps detected and healed on the way.
//
// # Cost
//
// A Client holds one goroutine: it dials, reads, and runs the callbacks.
// Writes happen on the goroutine that calls Send (or on the heartbeat's
// timer) under the connection's write lock; a Send that finds another
// write in progress only queues its frame, which the writing goroutine
// then writes too, so there is no writer goroutine and a stuck peer costs
// at most WithWriteTimeout of one caller's time and WithMaxQueuedBytes of
// memory. An idle connection holds no read or write buffer: read buffers
// come from a pool while frames arrive and go back when the input is
// drained.
//
// # Concurrency and ownership
//
// Every exported method of Client is safe from any goroutine. Callbacks
// (OnOpen, OnMessage, OnClose, OnError and a subscription's handlers) run
// on the client's goroutine, one at a time and in order; a Message's or
// Publication's Data (and Key) is valid only until the callback returns.
// Send copies its payload. Send's completion callback runs on whichever
// goroutine wrote the frame (or failed to), must not block, and may call
// Send.
package client
