package clientaddr

import "net/netip"

// The PROXY protocol v1 line's numbers and addresses, parsed strictly (the
// text forms of its section 2.1, nothing more lenient).

// parsePort parses a decimal port in 0-65535 without leading zeros.
func parsePort(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 || len(b) > 1 && b[0] == '0' {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	if v > 0xffff {
		return 0, false
	}
	return uint16(v), true
}

// parseIPv4 parses a dotted quad, "192.0.2.1", with no leading zeros in an
// octet (as netip.ParseAddr). It exists because netip.ParseAddr needs a
// string, and converting b would allocate.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var ip [4]byte
	for i := range ip {
		if i > 0 {
			if len(b) == 0 || b[0] != '.' {
				return netip.Addr{}, false
			}
			b = b[1:]
		}
		d := 0
		for d < len(b) && d < 4 && '0' <= b[d] && b[d] <= '9' {
			d++
		}
		if d == 0 || d > 3 || d > 1 && b[0] == '0' {
			return netip.Addr{}, false
		}
		v := 0
		for _, c := range b[:d] {
			v = v*10 + int(c-'0')
		}
		if v > 0xff {
			return netip.Addr{}, false
		}
		ip[i], b = byte(v), b[d:]
	}
	if len(b) != 0 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(ip), true
}

// parseIPv6 parses an IPv6 address in the text form of
// https://www.rfc-editor.org/rfc/rfc4291#section-2.2: eight groups of up to
// four hex digits, at most one "::" standing for one or more zero groups, and
// optionally a dotted quad as the last 32 bits. Zones are not accepted. It
// does not allocate.
func parseIPv6(b []byte) (netip.Addr, bool) {
	var ip [16]byte
	i := 0         // bytes of ip filled
	ellipsis := -1 // index in ip where "::" stands
	if len(b) >= 2 && b[0] == ':' && b[1] == ':' {
		ellipsis, b = 0, b[2:]
	}
	for len(b) > 0 {
		if i == len(ip) {
			return netip.Addr{}, false
		}
		d, v := 0, 0
		for ; d < len(b) && d < 5; d++ {
			h := hexVal(b[d])
			if h < 0 {
				break
			}
			v = v<<4 | h
		}
		if d == 0 || d > 4 {
			return netip.Addr{}, false
		}
		if d < len(b) && b[d] == '.' {
			// Dotted quad: the rest of b, filling exactly the last 4 bytes
			// unless "::" makes up the difference.
			if i > len(ip)-4 || ellipsis < 0 && i != len(ip)-4 {
				return netip.Addr{}, false
			}
			v4, ok := parseIPv4(b)
			if !ok {
				return netip.Addr{}, false
			}
			a4 := v4.As4()
			copy(ip[i:], a4[:])
			i += 4
			break
		}
		ip[i], ip[i+1] = byte(v>>8), byte(v)
		i += 2
		b = b[d:]
		if len(b) == 0 {
			break
		}
		if b[0] != ':' || len(b) == 1 {
			return netip.Addr{}, false
		}
		b = b[1:]
		if b[0] == ':' {
			if ellipsis >= 0 {
				return netip.Addr{}, false
			}
			ellipsis, b = i, b[1:]
		}
	}
	if ellipsis >= 0 {
		if i == len(ip) {
			return netip.Addr{}, false // "::" must stand for at least one group
		}
		gap := len(ip) - i
		copy(ip[ellipsis+gap:], ip[ellipsis:i])
		clear(ip[ellipsis : ellipsis+gap])
	} else if i != len(ip) {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16(ip), true
}

// hexVal returns the value of the hex digit c, or -1.
func hexVal(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
