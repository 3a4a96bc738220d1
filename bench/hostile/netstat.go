package hostile

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// RecvQueue returns how many bytes wait unread in the kernel's receive
// queue of the server's end of c (the row of /proc/net/tcp whose local
// port is the server's and remote port is c's): what the server has not
// read from the socket yet.
func RecvQueue(c *Client) (int, error) {
	local := c.LocalAddr().(*net.TCPAddr)
	remote := c.RemoteAddr().(*net.TCPAddr)
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return 0, err
	}
	want := fmt.Sprintf(":%04X", remote.Port)
	peer := fmt.Sprintf(":%04X", local.Port)
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || !strings.HasSuffix(f[1], want) || !strings.HasSuffix(f[2], peer) {
			continue
		}
		_, rx, ok := strings.Cut(f[4], ":")
		if !ok {
			break
		}
		n, err := strconv.ParseInt(rx, 16, 64)
		return int(n), err
	}
	return 0, fmt.Errorf("no socket %v→%v in /proc/net/tcp", local, remote)
}
