// Package nodetest runs the JavaScript client's tests (clients/js/test,
// node --test) from go test, against a wsloop binary it builds once, so
// that `make test` covers the client. Without node on PATH, or without a
// WebSocket for it (a global one, Node >= 22, or the ws package that
// `cd bench && npm ci` installs), the test is skipped, and fails when
// CI=true.
package nodetest
