package soak

import (
	"context"
	"net"
	"net/netip"

	"github.com/wsloop/wsloop/bench/impair"
)

// DefaultLink returns the factory of the netns phases' link on this
// machine (a bench/impair link), or nil and the reason there is none (not
// root, no /dev/net/tun, no ip command, not Linux).
func DefaultLink() (LinkFactory, string) {
	if err := impair.Supported(); err != nil {
		return nil, err.Error()
	}
	return func(name string) (Link, error) {
		l, err := impair.New(name, impair.Config{})
		if err != nil {
			return nil, err
		}
		return impairLink{l}, nil
	}, ""
}

// impairLink adapts *impair.Link to Link.
type impairLink struct{ l *impair.Link }

func (i impairLink) HostAddr() netip.Addr { return i.l.HostAddr() }

func (i impairLink) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return i.l.DialContext(ctx, network, addr)
}

func (i impairLink) Impair(im Impairment) error {
	i.l.Set(impair.Config{Loss: im.Loss, Reorder: im.Reorder, Duplicate: im.Duplicate, Delay: im.Delay, Jitter: im.Jitter})
	return nil
}

func (i impairLink) Blackhole(on bool) error {
	i.l.Blackhole(on)
	return nil
}

func (i impairLink) Close() error { return i.l.Close() }
