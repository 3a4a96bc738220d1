//go:build !linux

// Command idleload is Linux-only: it uses epoll and IP_BIND_ADDRESS_NO_PORT.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "idleload: Linux only")
	os.Exit(1)
}
