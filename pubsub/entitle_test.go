package pubsub_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsloop/wsloop/internal/pubsubtest"
	"github.com/wsloop/wsloop/jwtauth"
	"github.com/wsloop/wsloop/pubsub"
	"github.com/wsloop/wsloop/server"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// token signs claims for user with testSecret, expiring at exp.
func token(t testing.TB, user string, exp time.Time, extra map[string]any) string {
	t.Helper()
	c := map[string]any{"sub": user, "exp": exp, "aud": "wsloop"}
	for k, v := range extra {
		c[k] = v
	}
	tok, err := jwtauth.Sign("HS256", testSecret, "", c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// dialToken dials with a token in the query (header false) or in
// Authorization; it returns the handshake's HTTP status on refusal.
func dialToken(t testing.TB, addr, tok string, header bool) (*sub, int) {
	t.Helper()
	d := ws.Dialer{Protocols: []string{pubsub.SubprotocolJSON}, Timeout: 5 * time.Second}
	u := "ws://" + addr + "/"
	if header {
		d.Header = ws.HandshakeHeaderHTTP(http.Header{"Authorization": {"Bearer " + tok}})
	} else if tok != "" {
		u += "?token=" + url.QueryEscape(tok)
	}
	conn, br, _, err := d.Dial(context.Background(), u)
	var se ws.StatusError
	if errors.As(err, &se) {
		return nil, int(se)
	}
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if br == nil {
		br = bufio.NewReader(conn)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &sub{t: t, conn: conn, r: br}, 101
}

func entitledHub(t testing.TB, opts ...pubsub.Option) *server.Server {
	v, err := jwtauth.New(jwtauth.WithHMACSecret(testSecret), jwtauth.WithAudience("wsloop"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	hub := pubsub.New(append([]pubsub.Option{pubsub.WithEntitlements(v)}, opts...)...)
	return pubsubtest.Start(t, hub, server.WithAuth(hub.Authenticate))
}

// TestEntitlementsUpgrade: tokens that are missing, forged, expired, for
// another audience or past the user's connection limit are refused at the
// upgrade; a valid one in the query or in Authorization is accepted.
func TestEntitlementsUpgrade(t *testing.T) {
	srv := entitledHub(t, pubsub.WithMaxConnsPerUser(2))
	hour := time.Now().Add(time.Hour)
	good := token(t, "alice", hour, nil)
	forged := good[:len(good)-2] + "AA"
	other, _ := jwtauth.Sign("HS256", testSecret, "", map[string]any{"sub": "alice", "exp": hour, "aud": "elsewhere"})
	wrongKey, _ := jwtauth.Sign("HS256", []byte("another secret, 32 bytes or more!"), "", map[string]any{"sub": "alice", "exp": hour, "aud": "wsloop"})
	for _, tc := range []struct {
		name string
		tok  string
		want int
	}{
		{"none", "", 401},
		{"forged", forged, 401},
		{"expired", token(t, "alice", time.Now().Add(-time.Minute), nil), 401},
		{"wrong audience", other, 401},
		{"wrong key", wrongKey, 401},
		{"garbage", "a.b.c", 401},
	} {
		if _, status := dialToken(t, srv.Addr(), tc.tok, false); status != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, status, tc.want)
		}
	}
	a1, s1 := dialToken(t, srv.Addr(), good, false)
	a2, s2 := dialToken(t, srv.Addr(), good, true)
	if s1 != 101 || s2 != 101 {
		t.Fatalf("valid token: %d %d", s1, s2)
	}
	// Both are counted once their OnOpen ran: a request answered proves it.
	for _, a := range []*sub{a1, a2} {
		a.send(map[string]any{"op": "unsubscribe", "topic": "x"})
		a.must(5 * time.Second)
	}
	if _, status := dialToken(t, srv.Addr(), good, false); status != 429 {
		t.Errorf("third connection of alice: %d, want 429", status)
	}
	if _, status := dialToken(t, srv.Addr(), token(t, "bob", hour, nil), false); status != 101 {
		t.Errorf("bob: %d, want 101", status)
	}
}

// TestEntitlementsTopics: subscribe and publish within the claims' patterns
// only; a refresh that narrows them ends the subscriptions it no longer
// allows; another user's token does not refresh.
func TestEntitlementsTopics(t *testing.T) {
	srv := entitledHub(t)
	hour := time.Now().Add(time.Hour)
	claims := map[string]any{"subscribe": []string{"md.*", "orders.alice"}, "publish": []string{"orders.alice"}}
	a, _ := dialToken(t, srv.Addr(), token(t, "alice", hour, claims), false)
	a.subscribe("md.AAPL", nil)
	a.subscribe("orders.alice", nil)
	for _, topic := range []string{"news", "md.AAPL.x", "md", "orders.bob"} {
		a.send(map[string]any{"op": "subscribe", "topic": topic, "id": 2})
		if e := a.must(5 * time.Second); e.Op != "error" || e.Code != "forbidden" {
			t.Errorf("subscribe %s: %+v, want forbidden", topic, e)
		}
	}
	a.send(map[string]any{"op": "publish", "topic": "orders.bob", "data": map[string]any{"qty": 1}, "id": 3})
	if e := a.must(5 * time.Second); e.Op != "error" || e.Code != "forbidden" {
		t.Errorf("publish to orders.bob: %+v", e)
	}
	a.send(map[string]any{"op": "publish", "topic": "orders.alice", "key": "o1", "data": map[string]any{"qty": 5}, "id": 4})
	got := map[string]event{}
	for len(got) < 2 {
		e := a.must(5 * time.Second)
		got[e.Op] = e
	}
	if p, m := got["published"], got["msg"]; p.Seq != 1 || m.Seq != 1 || m.Key != "o1" || string(m.Data) != `{"qty":5}` {
		t.Errorf("publish: %+v", got)
	}

	narrower := token(t, "alice", hour.Add(time.Hour), map[string]any{"subscribe": []string{"orders.alice"}})
	a.send(map[string]any{"op": "refresh", "token": narrower, "id": 5})
	var un, re event
	for un.Op == "" || re.Op == "" {
		switch e := a.must(5 * time.Second); e.Op {
		case "unsubscribed":
			un = e
		case "refreshed":
			re = e
		default:
			t.Fatalf("after refresh: %+v", e)
		}
	}
	if un.Topic != "md.AAPL" || un.Reason != "forbidden" {
		t.Errorf("unsubscribed: %+v", un)
	}
	if re.Exp != hour.Add(time.Hour).Unix() || string(re.ID) != "5" {
		t.Errorf("refreshed: %+v", re)
	}
	a.send(map[string]any{"op": "refresh", "token": token(t, "bob", hour, nil), "id": 6})
	if e := a.must(5 * time.Second); e.Op != "error" || e.Code != "unauthorized" {
		t.Errorf("refresh with bob's token: %+v", e)
	}
	a.send(map[string]any{"op": "refresh", "token": "not a token", "id": 7})
	if e := a.must(5 * time.Second); e.Op != "error" || e.Code != "unauthorized" {
		t.Errorf("refresh with garbage: %+v", e)
	}
}

// TestEntitlementsExpiry: a connection whose token expires is closed with
// 3000; one that refreshed in time is not.
func TestEntitlementsExpiry(t *testing.T) {
	srv := entitledHub(t)
	now := time.Now()
	// JWT times are whole seconds: b expires a second before a.
	b, _ := dialToken(t, srv.Addr(), token(t, "bob", now.Add(2*time.Second), nil), false)
	a, _ := dialToken(t, srv.Addr(), token(t, "alice", now.Add(3*time.Second), nil), false)
	b.send(map[string]any{"op": "refresh", "token": token(t, "bob", now.Add(time.Hour), nil), "id": 1})
	if e := b.must(5 * time.Second); e.Op != "refreshed" {
		t.Fatalf("refresh: %+v", e)
	}
	_, err := a.next(10 * time.Second)
	var ce *closed
	if !errors.As(err, &ce) || ce.code != 3000 {
		t.Fatalf("alice after expiry: %v, want close 3000", err)
	}
	// b's first token expired before a's: b is still served.
	b.send(map[string]any{"op": "unsubscribe", "topic": "x", "id": 2})
	if e := b.must(5 * time.Second); e.Op != "error" || e.Code != "not_subscribed" {
		t.Errorf("bob after his first token's expiry: %+v", e)
	}
}

// jwkSetOf is a JWK Set (RFC 7517) of P-256 public keys by kid.
func jwkSetOf(keys map[string]*ecdsa.PublicKey) []byte {
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	for kid, k := range keys {
		pt, _ := k.ECDH()
		raw := pt.Bytes() // 0x04 || X || Y
		set.Keys = append(set.Keys, map[string]string{
			"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
			"x": base64.RawURLEncoding.EncodeToString(raw[1:33]),
			"y": base64.RawURLEncoding.EncodeToString(raw[33:]),
		})
	}
	b, _ := json.Marshal(set)
	return b
}

// TestEntitlementsJWKSRotation: the issuer rotates its signing key (the
// JWK Set served at the verifier's URL drops the old key for a new one)
// while a client is connected: the client's refresh with a token of the
// new key is accepted and its subscription goes on; a token of the
// removed key is refused, in a refresh and at the upgrade.
func TestEntitlementsJWKSRotation(t *testing.T) {
	oldKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	newKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var set atomic.Pointer[[]byte]
	serve := func(keys map[string]*ecdsa.PublicKey) { b := jwkSetOf(keys); set.Store(&b) }
	serve(map[string]*ecdsa.PublicKey{"k1": &oldKey.PublicKey})
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*set.Load())
	}))
	t.Cleanup(jwks.Close)
	v, err := jwtauth.New(jwtauth.WithJWKSURL(jwks.URL, time.Hour), jwtauth.WithMinRefreshInterval(time.Nanosecond), jwtauth.WithAudience("wsloop"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	hub := pubsub.New(pubsub.WithEntitlements(v))
	srv := pubsubtest.Start(t, hub, server.WithAuth(hub.Authenticate))
	signed := func(key *ecdsa.PrivateKey, kid string) string {
		tok, err := jwtauth.Sign("ES256", key, kid, map[string]any{"sub": "alice", "aud": "wsloop", "exp": time.Now().Add(time.Hour), "subscribe": []string{"md.*"}})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	a, status := dialToken(t, srv.Addr(), signed(oldKey, "k1"), false)
	if status != 101 {
		t.Fatalf("upgrade with the current key: %d", status)
	}
	if e := a.subscribe("md.AAPL", nil); e.Op != "subscribed" {
		t.Fatalf("subscribe: %+v", e)
	}

	serve(map[string]*ecdsa.PublicKey{"k2": &newKey.PublicKey})
	a.send(map[string]any{"op": "refresh", "token": signed(newKey, "k2"), "id": 2})
	if e := a.must(5 * time.Second); e.Op != "refreshed" {
		t.Fatalf("refresh with the new key: %+v", e)
	}
	if _, err := hub.Publish("md.AAPL", "", []byte(`{"px":1}`)); err != nil {
		t.Fatal(err)
	}
	if e := a.must(5 * time.Second); e.Op != "msg" || e.Seq != 1 {
		t.Fatalf("after the rotation: %+v", e)
	}
	a.send(map[string]any{"op": "refresh", "token": signed(oldKey, "k1"), "id": 3})
	if e := a.must(5 * time.Second); e.Op != "error" || e.Code != "unauthorized" {
		t.Errorf("refresh with the removed key: %+v", e)
	}
	if _, status := dialToken(t, srv.Addr(), signed(oldKey, "k1"), false); status != http.StatusUnauthorized {
		t.Errorf("upgrade with the removed key: %d, want 401", status)
	}
	if _, status := dialToken(t, srv.Addr(), signed(newKey, "k2"), false); status != 101 {
		t.Errorf("upgrade with the new key: %d", status)
	}
}
