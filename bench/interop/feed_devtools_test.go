package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// cdpConn is a connection to one Chrome DevTools Protocol target
// (https://chromedevtools.github.io/devtools-protocol/): JSON commands
// with ids, answered by results with the same id; events, which arrive
// only for domains a command enabled, are skipped. Not safe for
// concurrent use.
type cdpConn struct {
	conn net.Conn
	id   int
}

// cdpTimeout bounds one command's round trip.
const cdpTimeout = 10 * time.Second

func dialCDP(url string) (*cdpConn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cdpTimeout)
	defer cancel()
	conn, _, _, err := ws.Dial(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("devtools %s: %w", url, err)
	}
	return &cdpConn{conn: conn}, nil
}

// call sends method with params and decodes its result into result.
func (c *cdpConn) call(method string, params any, result any) error {
	c.id++
	req, err := json.Marshal(map[string]any{"id": c.id, "method": method, "params": params})
	if err != nil {
		return err
	}
	_ = c.conn.SetDeadline(time.Now().Add(cdpTimeout))
	if err := wsutil.WriteClientText(c.conn, req); err != nil {
		return fmt.Errorf("devtools %s: %w", method, err)
	}
	for range 1000 {
		b, err := wsutil.ReadServerText(c.conn)
		if err != nil {
			return fmt.Errorf("devtools %s: %w", method, err)
		}
		var resp struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(b, &resp); err != nil {
			return fmt.Errorf("devtools %s: %w: %.200s", method, err, b)
		}
		if resp.ID != c.id {
			continue // an event or a stale answer
		}
		if resp.Error != nil {
			return fmt.Errorf("devtools %s: %s", method, resp.Error.Message)
		}
		return json.Unmarshal(resp.Result, result)
	}
	return fmt.Errorf("devtools %s: no answer among 1000 messages", method)
}

// Close closes the connection.
func (c *cdpConn) Close() error { return c.conn.Close() }
