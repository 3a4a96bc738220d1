package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/wsloop/wsloop/feed"
	"github.com/wsloop/wsloop/jwtauth"
	"github.com/wsloop/wsloop/pubsub"
	"github.com/wsloop/wsloop/pubsub/natsbroker"
	"github.com/wsloop/wsloop/server"
)

// app is what the -mode serves on top of the server options of the
// flags: the connections' handler, more server options, and in the
// pubsub and feed modes the hub that the feed and the admin publish
// endpoint publish through.
type app struct {
	handler  server.Handler
	opts     []server.Option
	hub      *pubsub.Hub       // nil in echo mode
	verifier *jwtauth.Verifier // nil without -jwt-*; the caller's to close
}

// newApp builds the mode's handler from checked flags. A non-nil hub is
// the caller's to close, once the server has shut down.
func newApp(f *flags) (*app, error) {
	if !f.pubsub() {
		return &app{handler: server.Echo()}, nil
	}
	hopts := []pubsub.Option{pubsub.WithHistory(f.history, f.historyTTL)}
	if f.nats != "" {
		b, err := newBroker(f)
		if err != nil {
			return nil, err
		}
		hopts = append(hopts, pubsub.WithBroker(b))
	}
	var verifier *jwtauth.Verifier
	if f.entitled() {
		v, err := newVerifier(f)
		if err != nil {
			return nil, err
		}
		verifier = v
		hopts = append(hopts, pubsub.WithEntitlements(v), pubsub.WithMaxConnsPerUser(f.maxConnsPerUser))
	}
	hub := pubsub.New(hopts...)
	a := &app{handler: hub, hub: hub, verifier: verifier}
	if verifier != nil {
		a.opts = append(a.opts, server.WithAuth(hub.Authenticate))
	}
	if f.mode == "feed" {
		a.opts = append(a.opts, server.WithHTTPHandler(feed.Page(nil)))
	}
	return a, nil
}

// newBroker connects to the NATS server of -nats (JetStream), keeping
// -history and -history-ttl per topic.
func newBroker(f *flags) (pubsub.Broker, error) {
	b, err := natsbroker.Connect(f.nats, natsbroker.WithHistory(f.history, f.historyTTL))
	if err != nil {
		return nil, fmt.Errorf("-nats %s: %w", f.nats, err)
	}
	return b, nil
}

// newVerifier builds the connection-token verifier of the -jwt-* flags.
func newVerifier(f *flags) (*jwtauth.Verifier, error) {
	opts := []jwtauth.Option{jwtauth.WithLeeway(f.jwtLeeway)}
	if f.jwtSecretFile != "" {
		b, err := os.ReadFile(f.jwtSecretFile)
		if err != nil {
			return nil, fmt.Errorf("-jwt-secret-file: %w", err)
		}
		opts = append(opts, jwtauth.WithHMACSecret(bytes.TrimRight(b, "\r\n")))
	}
	if f.jwtKeyFile != "" {
		opts = append(opts, jwtauth.WithKeyFile(f.jwtKeyFile))
	}
	if f.jwtJWKSURL != "" {
		opts = append(opts, jwtauth.WithJWKSURL(f.jwtJWKSURL, f.jwtRefresh))
	}
	if f.jwtAudience != "" {
		opts = append(opts, jwtauth.WithAudience(f.jwtAudience))
	}
	if f.jwtIssuer != "" {
		opts = append(opts, jwtauth.WithIssuer(f.jwtIssuer))
	}
	v, err := jwtauth.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("-jwt-*: %w", err)
	}
	return v, nil
}
