package client

import (
	"bytes"
	"context"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// deflateOffer is permessage-deflate with no context takeover either way.
var deflateOffer = wsflate.Parameters{ServerNoContextTakeover: true, ClientNoContextTakeover: true}

// dial opens one connection: TCP (or TLS), the upgrade, and negotiation.
func (c *Client) dial(ctx context.Context) (*conn, error) {
	cfg := &c.cfg
	d := ws.Dialer{
		Protocols: cfg.protocols,
		Timeout:   cfg.dialTimeout,
		TLSConfig: cfg.tls,
		NetDial:   cfg.netDial,
	}
	if cfg.header != nil {
		d.Header = ws.HandshakeHeaderHTTP(cfg.header)
	}
	if cfg.compress {
		d.Extensions = append(d.Extensions, deflateOffer.Option())
	}
	if cfg.dialTimeout > 0 {
		// ws.Dialer.Timeout bounds only the TCP connect when ctx is not
		// context.Background; the context's deadline bounds the upgrade.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.dialTimeout)
		defer cancel()
	}
	nc, br, hs, err := d.Dial(ctx, c.url)
	if err != nil {
		return nil, err
	}
	deflate := false
	for _, e := range hs.Extensions {
		if bytes.Equal(e.Name, []byte("permessage-deflate")) {
			var p wsflate.Parameters
			if err := p.Parse(e); err != nil || !p.ServerNoContextTakeover {
				// We keep no inflater between messages, so a server that
				// wants context takeover cannot be served.
				_ = nc.Close()
				if err == nil {
					err = ws.ErrHandshakeBadExtensions
				}
				return nil, err
			}
			deflate = true
		}
	}
	var extra []byte
	if br != nil {
		extra, _ = br.Peek(br.Buffered())
	}
	cn := newConn(c, nc, hs.Protocol, deflate, extra)
	if br != nil {
		ws.PutReader(br)
	}
	return cn, nil
}
