package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsloop/wsloop/jwtauth"
)

// TestRunEntitlements: -mode pubsub with -jwt-secret-file refuses an
// upgrade without a valid token (401), serves one with a token, and
// answers a subscribe outside its claims with "forbidden".
func TestRunEntitlements(t *testing.T) {
	secret := []byte("a secret of at least thirty-two bytes")
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, append(secret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	r := start(t, "-mode", "pubsub", "-jwt-secret-file", file, "-jwt-audience", "feed")
	tok, err := jwtauth.Sign("HS256", secret, "", map[string]any{
		"sub": "alice", "aud": "feed", "exp": time.Now().Add(time.Hour), "subscribe": []string{"md.*"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, _, err = ws.Dial(ctx, "ws://"+r.srv.Addr()+"/")
	var se ws.StatusError
	if !errors.As(err, &se) || se != 401 {
		t.Fatalf("no token: %v, want 401", err)
	}
	conn, _, _, err := ws.Dial(ctx, "ws://"+r.srv.Addr()+"/?token="+tok)
	if err != nil {
		t.Fatalf("with a token: %v", err)
	}
	defer conn.Close()
	for topic, want := range map[string]string{"md.AAPL": `"op":"subscribed"`, "news": `"code":"forbidden"`} {
		send(t, conn, `{"op":"subscribe","topic":"`+topic+`"}`)
		b, err := wsutil.ReadServerText(conn)
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("subscribe %s: %s %v, want %s", topic, b, err, want)
		}
	}
}
