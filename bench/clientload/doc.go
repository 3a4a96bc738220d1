// Package clientload holds many idle WebSocket client connections of one
// client library in one process, with a heartbeat, and reports what they
// cost: Go heap, goroutine stacks and goroutines, and whether they all
// stayed up. It backs cmd/wsclients, which cmd/wsbench's clients scenario
// runs in several processes to compare wsloop's client (package client)
// with the gorilla/websocket and coder/websocket clients.
//
// Every kind is used the way its users would write a long-lived client:
//
//   - wsloop: client.Dial with WithHeartbeat and WithReconnect; the
//     client's own goroutine reads, the heartbeat is a timer.
//   - gorilla: Dialer.DialContext, one reader goroutine calling
//     ReadMessage, a read deadline pushed forward by the pong handler, and
//     pings written with WriteControl from a timer (no writer goroutine:
//     the cheapest heartbeat gorilla's API allows).
//   - coder: websocket.Dial, one reader goroutine calling Read, and Ping
//     from a timer (Ping waits for the pong on the timer's goroutine); a
//     failed ping closes the connection.
//
// All three ping every Heartbeat and drop a connection that stays silent
// for 1.5·Heartbeat+HeartbeatTimeout, so a connection that survives a
// longer hold has had its pings answered. Connections are bound to source
// addresses in 127.0.0.0/8 (IP_BIND_ADDRESS_NO_PORT), spread round-robin,
// so that one process can hold more than one address's ephemeral ports.
package clientload
