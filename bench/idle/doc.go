// Package idle measures what idle upgraded WebSocket connections cost the
// wsloop server: the marginal RSS per connection, (RSS with N idle
// connections - RSS of the same process with none) / N.
//
// The server (cmd/wsloop from the root module) and the load generator
// (bench/cmd/wsload) run as separate processes built by the test, so the
// numbers are those of the real binary, not of a test binary.
package idle
