// Package wire is wsloop's topics protocol on the wire, written once: the
// requests clients send, the answers and publications the server sends,
// their JSON and binary forms and the error codes. The Hub (package
// pubsub) encodes answers and publications and parses requests with it;
// the Go client (package client), the load generators and the tests encode
// requests and parse answers and publications with it. Package pubsub's
// documentation is the protocol's specification; this package is its one
// implementation in Go.
//
// Encoders append to a caller's slice (no allocation when it has room).
// Parsers of binary publications return slices of their input, valid as
// long as it is. Everything here is safe from any goroutine.
package wire
