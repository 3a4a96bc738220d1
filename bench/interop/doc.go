// Package interop holds interoperability tests that drive an in-process
// wsloop echo server with third-party WebSocket clients: gorilla/websocket,
// coder/websocket, the Python websockets, websocket-client and
// Twisted/autobahn libraries, and the Node.js ws package.
//
// The package has no non-test code; see the *_test.go files and testdata/.
package interop
