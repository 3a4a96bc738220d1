// Command gobwas is the gobwas/ws peer server for wsbench, in its
// goroutine-per-connection mode: a net.Listener accept loop, ws.Upgrade on
// the raw net.Conn, then one goroutine per connection reading with
// wsutil.Reader and writing with wsutil.WriteServerMessage.
//
// The read loop is wsutil.ReadClientData's own loop (same Reader settings,
// including its UTF-8 check of text messages, and wsutil's control frame
// handler, which answers pings with pongs carrying the same payload and
// echoes the close frame's code and reason) with one addition: messages
// larger than -max-message are refused with close 1009, since
// ReadClientData has no size limit. No extension is negotiated, so
// permessage-deflate is off. I/O is unbuffered, as gobwas intends: a frame
// header and its payload are two writes. -reuseport is supported.
package main

import (
	"errors"
	"io"
	"log"
	"net"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsloop/wsloop/bench/peers/internal/peer"
)

func main() {
	cfg := peer.ParseFlags("gobwas")
	if cfg.Mode != peer.ModeEcho {
		peer.Fatalf("-mode %s: this peer only echoes", cfg.Mode)
	}
	ln, err := peer.Listen(cfg)
	if err != nil {
		peer.Fatalf("listen: %v", err)
	}
	go accept(ln, cfg.MaxMessage)
	peer.Ready(ln.Addr())
	peer.WaitSignal()
	peer.Exit(func() { _ = ln.Close() })
}

func accept(ln net.Listener, maxMessage int) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Typically EMFILE: back off briefly, as net/http does.
			log.Printf("accept: %v", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go serve(conn, maxMessage)
	}
}

func serve(conn net.Conn, maxMessage int) {
	defer conn.Close()
	// The zero Upgrader accepts any path and negotiates no extension.
	if _, err := ws.Upgrade(conn); err != nil {
		if !peer.IsClosedOrEOF(err) {
			log.Printf("upgrade %s: %v", conn.RemoteAddr(), err)
		}
		return
	}
	control := wsutil.ControlFrameHandler(conn, ws.StateServerSide)
	rd := &wsutil.Reader{
		Source:         conn,
		State:          ws.StateServerSide,
		CheckUTF8:      true,
		OnIntermediate: control,
	}
	limit := int64(maxMessage)
	for {
		hdr, err := rd.NextFrame()
		if err != nil {
			return
		}
		if hdr.OpCode.IsControl() {
			if err := control(hdr, rd); err != nil {
				return // includes the close handshake, already answered
			}
			continue
		}
		if hdr.OpCode != ws.OpText && hdr.OpCode != ws.OpBinary {
			if err := rd.Discard(); err != nil {
				return
			}
			continue
		}
		if hdr.Length > limit {
			closeWith(conn, ws.StatusMessageTooBig)
			return
		}
		msg, err := io.ReadAll(io.LimitReader(rd, limit+1))
		if err != nil {
			if errors.Is(err, wsutil.ErrInvalidUTF8) {
				closeWith(conn, ws.StatusInvalidFramePayloadData)
			}
			return
		}
		if int64(len(msg)) > limit {
			closeWith(conn, ws.StatusMessageTooBig)
			return
		}
		if err := wsutil.WriteServerMessage(conn, hdr.OpCode, msg); err != nil {
			return
		}
	}
}

func closeWith(conn net.Conn, code ws.StatusCode) {
	_ = wsutil.WriteServerMessage(conn, ws.OpClose, ws.NewCloseFrameBody(code, ""))
}
