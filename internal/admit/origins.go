package admit

import (
	"net"
	"strings"
)

// Origins is an Origin allowlist: full origins matched exactly (RFC 6454
// §6.2 serialization, case-insensitive), host names, and "*.domain"
// patterns matching subdomains; "*" allows every origin.
type Origins struct {
	any      bool
	exact    map[string]bool
	hosts    map[string]bool
	suffixes []string
}

// ParseOrigins builds the allowlist; no patterns allow every origin.
func ParseOrigins(patterns []string) Origins {
	var o Origins
	if len(patterns) == 0 {
		o.any = true
		return o
	}
	o.exact = make(map[string]bool)
	o.hosts = make(map[string]bool)
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(p), "/"))
		switch {
		case p == "*":
			o.any = true
		case strings.Contains(p, "://"):
			o.exact[p] = true
		case strings.HasPrefix(p, "*."):
			o.suffixes = append(o.suffixes, p[1:])
		case p != "":
			o.hosts[p] = true
		}
	}
	return o
}

// Allowed reports whether a request with this Origin may upgrade. Requests
// without one come from non-browser clients, which could send any Origin
// they like anyway: the check protects browsers' users from other sites
// (RFC 6455 §10.2), so they pass.
func (o *Origins) Allowed(origin string) bool {
	if o.any || origin == "" {
		return true
	}
	origin = strings.ToLower(origin)
	if o.exact[origin] {
		return true
	}
	_, hostport, ok := strings.Cut(origin, "://")
	if !ok {
		return false
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if o.hosts[host] {
		return true
	}
	for _, s := range o.suffixes {
		if len(host) > len(s) && strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}
