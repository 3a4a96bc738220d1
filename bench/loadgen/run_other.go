//go:build !linux

package loadgen

import (
	"context"
	"errors"
)

// Run is only implemented on Linux (it needs epoll and
// IP_BIND_ADDRESS_NO_PORT).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if _, err := cfg.normalize(); err != nil {
		return nil, err
	}
	return nil, errors.New("loadgen: only supported on Linux")
}
