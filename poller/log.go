package poller

import (
	"fmt"
	"log/slog"

	"github.com/wsloop/wsloop/codec"
)

// logReject logs a refused handshake: one line at info.
func (e *Engine) logReject(c *Conn, status int, err error) {
	e.cfg.Logger.Info("upgrade rejected", "remote", c.remote, "status", status, "err", err.Error())
}

// logAbnormal logs a connection closed for misbehaving: one line at info.
func (e *Engine) logAbnormal(c *Conn, err *codec.CloseError) {
	e.cfg.Logger.Info("closing connection", "remote", c.remote, "code", int(err.Code), "reason", err.Reason)
}

// gnetLogger routes gnet's own logging to slog; gnet's chatter at info
// level (start-up banners) goes to debug.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug(fmt.Sprintf(f, a...), "from", "gnet") }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Debug(fmt.Sprintf(f, a...), "from", "gnet") }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn(fmt.Sprintf(f, a...), "from", "gnet") }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...), "from", "gnet") }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...), "from", "gnet") }
