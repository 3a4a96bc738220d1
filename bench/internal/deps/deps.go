// Package deps pins the bench module's dependencies while its packages are
// being written; it is removed once they import what they use.
package deps

import (
	_ "github.com/HdrHistogram/hdrhistogram-go"
	_ "github.com/lesismal/nbio/nbhttp/websocket"
	_ "github.com/lxzan/gws"
	_ "github.com/schollz/progressbar/v3"
	_ "gonum.org/v1/plot"
	_ "gonum.org/v1/plot/plotter"
	_ "gonum.org/v1/plot/vg"
	_ "golang.org/x/sys/unix"
)
