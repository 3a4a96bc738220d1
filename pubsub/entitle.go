package pubsub

import (
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/wsloop/wsloop/jwtauth"
	"github.com/wsloop/wsloop/pubsub/wire"
	"github.com/wsloop/wsloop/server"
)

// WithEntitlements has the hub serve only connections with a JWT
// connection token that v accepts, and only the topics the token's claims
// allow (package jwtauth: "subscribe" and "publish", arrays of topic
// patterns such as "md.*"). Serve it with server.WithAuth(hub.Authenticate),
// which verifies the token of each upgrade. Then:
//
//   - a subscribe outside the "subscribe" claim is answered "forbidden";
//   - a client may publish ({"op":"publish",...}) to the topics of its
//     "publish" claim, and only with entitlements;
//   - a connection whose token expires is closed with 3000
//     (wire.CloseTokenExpired) unless the client sent a new token of the
//     same user before ({"op":"refresh","token":...}, answered
//     "refreshed" with the new expiry); subscriptions the new token no
//     longer allows end, each with an "unsubscribed" answer carrying
//     "reason":"forbidden".
//
// Subscribe and Publish called from Go are not checked: the program
// decides. The hub does not close v.
func WithEntitlements(v *jwtauth.Verifier) Option { return func(c *config) { c.verifier = v } }

// WithMaxConnsPerUser limits the connections one user (a token's "sub")
// may hold at once, with WithEntitlements: Authenticate refuses more with
// HTTP 429. 0 (the default) is no limit.
func WithMaxConnsPerUser(n int) Option { return func(c *config) { c.maxPerUser = n } }

// users counts connections per user.
type users struct {
	mu sync.Mutex
	n  map[string]int
}

func (u *users) count(user string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.n[user]
}

// add counts one more connection of user unless it has max already (0: no
// limit).
func (u *users) add(user string, max int) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if max > 0 && u.n[user] >= max {
		return false
	}
	if u.n == nil {
		u.n = make(map[string]int)
	}
	u.n[user]++
	return true
}

func (u *users) done(user string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.n[user]--; u.n[user] <= 0 {
		delete(u.n, user)
	}
}

// Authenticate is the server's auth hook for a hub built WithEntitlements
// (server.WithAuth(hub.Authenticate)): it verifies the upgrade's token,
// from "Authorization: Bearer <token>" or else the "token" query parameter
// (browsers cannot set headers on a WebSocket), and attaches its
// *jwtauth.Claims to the connection (server.Conn.Identity). A missing,
// invalid or expired token is refused with 401, a user at
// WithMaxConnsPerUser with 429. Without WithEntitlements it accepts every
// upgrade. Safe from any goroutine.
func (h *Hub) Authenticate(req *server.Request, _ net.Addr) (any, error) {
	v := h.cfg.verifier
	if v == nil {
		return nil, nil
	}
	tok, ok := strings.CutPrefix(req.Header("Authorization"), "Bearer ")
	if !ok {
		tok = req.Query().Get("token")
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return nil, server.Reject(401, "missing token: send Authorization: Bearer <token> or ?token=<token>")
	}
	cl, err := v.Verify(tok)
	if err != nil {
		return nil, server.Reject(401, "invalid token: "+err.Error())
	}
	if max := h.cfg.maxPerUser; max > 0 && h.users.count(cl.Subject) >= max {
		return nil, server.Reject(429, "too many connections for this user")
	}
	return cl, nil
}

// entitle starts an entitled connection's session (OnOpen): its claims,
// its place in the user's count and the timer of its token's expiry.
func (h *Hub) entitle(c *server.Conn) {
	cl, _ := c.Identity().(*jwtauth.Claims)
	if cl == nil {
		slog.Error("pubsub: a connection without token claims; serve the hub with server.WithAuth(hub.Authenticate)")
		_ = c.Close(server.StatusPolicyViolation, "no token")
		return
	}
	if !h.users.add(cl.Subject, h.cfg.maxPerUser) {
		_ = c.Close(server.StatusPolicyViolation, "too many connections for this user")
		return
	}
	s := h.session(c, true)
	s.claims, s.counted = cl, true
	s.expiry = time.AfterFunc(time.Until(cl.Expiry), func() {
		_ = c.Close(wire.CloseTokenExpired, "token expired")
	})
}

// release ends what entitle started (OnClose, through Forget).
func (h *Hub) release(s *session) {
	if s.expiry != nil {
		s.expiry.Stop()
	}
	if s.counted {
		s.counted = false
		h.users.done(s.claims.Subject)
	}
}

// allowed reports whether c may subscribe to (publish to, when pub) topic:
// always without entitlements.
func (h *Hub) allowed(c *server.Conn, topic string, pub bool) bool {
	if h.cfg.verifier == nil {
		return !pub
	}
	s := h.session(c, false)
	if s == nil || s.claims == nil {
		return false
	}
	if pub {
		return s.claims.Publish.Allows(topic)
	}
	return s.claims.Subscribe.Allows(topic)
}

// serveRefresh replaces c's token with a newer one of the same user.
func (h *Hub) serveRefresh(c *server.Conn, req *wire.Request) {
	s := h.session(c, false)
	if h.cfg.verifier == nil || s == nil || s.claims == nil {
		h.fail(c, req.ID, wire.CodeBadRequest, "this server takes no tokens")
		return
	}
	cl, err := h.cfg.verifier.Verify(req.Token)
	if err != nil {
		h.fail(c, req.ID, wire.CodeUnauthorized, "invalid token: "+err.Error())
		return
	}
	if cl.Subject != s.claims.Subject {
		h.fail(c, req.ID, wire.CodeUnauthorized, "the token is another user's")
		return
	}
	s.claims = cl
	s.expiry.Reset(time.Until(cl.Expiry))
	for name, sub := range s.subs {
		if !cl.Subscribe.Allows(name) {
			delete(s.subs, name)
			h.drop(sub, wire.AppendUnsubscribedReason(nil, nil, name, wire.CodeForbidden))
		}
	}
	_ = c.Send(server.Text, wire.AppendRefreshed(nil, req.ID, cl.Expiry.Unix()), nil)
}

// servePublish publishes a client's message, when its token allows.
func (h *Hub) servePublish(c *server.Conn, req *wire.Request) {
	if !ValidTopic(req.Topic) {
		h.fail(c, req.ID, wire.CodeBadTopic, "invalid topic name")
		return
	}
	if !h.allowed(c, req.Topic, true) {
		h.fail(c, req.ID, wire.CodeForbidden, "not entitled to publish to "+req.Topic)
		return
	}
	pos, err := h.Publish(req.Topic, req.Key, req.Data)
	switch {
	case err == nil:
		_ = c.Send(server.Text, wire.AppendPublished(nil, req.ID, req.Topic, pos), nil)
	case errors.Is(err, ErrBadKey), errors.Is(err, ErrTooLarge):
		h.fail(c, req.ID, wire.CodeBadRequest, err.Error())
	default:
		h.fail(c, req.ID, wire.CodeUnavailable, "publish failed: "+err.Error())
	}
}
