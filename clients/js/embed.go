// Package jsclient embeds the JavaScript client's ES modules (src/*.js,
// the @wsloop/client package described in README.md) so that Go servers
// can serve them to browsers, as the feed demo page does.
//
// Files holds every module of src/, flat, as there: index.js, the entry
// point, imports the others by relative path ("./client.js", …), so they
// must be served side by side under one URL prefix. The TypeScript
// declarations (*.d.ts), tests and test kit are not included.
package jsclient

import (
	"embed"
	"io/fs"
)

//go:embed src/*.js
var src embed.FS

// Files returns the client's modules as a read-only file system whose
// root is src/: "index.js", "client.js", …. It is safe for concurrent use.
func Files() fs.FS {
	sub, err := fs.Sub(src, "src")
	if err != nil {
		panic("jsclient: " + err.Error()) // "src" is a valid path: unreachable
	}
	return sub
}
