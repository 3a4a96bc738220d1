// Package soak is wsloop's soak and fault suite: it runs a real wsloop
// deployment (a -procs supervisor in -mode feed, its workers joined
// through a NATS JetStream server, all separate processes on loopback),
// keeps hundreds of reconnecting client/ subscribers on the feed's topics,
// churns thousands of short connections per second through it, injects
// faults one at a time (kill -9 of a worker, a NATS restart, a client that
// stops reading, an impaired link to a network namespace, half-open
// connections), samples every process's descriptors, goroutines and RSS,
// and checks that the resources end flat and that no subscriber saw a
// sequence gap it could not recover. Run writes the figures, the samples
// and plots, and SOAK.md.
//
// The timeline of a run: a baseline with subscribers only; churn starts;
// the faults follow one another while churn goes on; a fault-free steady
// stretch of churn, over which the slopes are measured; churn stops and
// the resources must return to the baseline; every subscriber must catch
// up with the last published positions.
//
// Run is for one caller at a time (it uses fixed ports it chooses, and
// the machine). The network-namespace phases need a Link (Config.NewLink);
// without one they are reported as skipped.
package soak
