package clientaddr

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// TrustedProxies is a set of networks whose hosts are trusted to report the
// address of the peer they forward for, in X-Forwarded-For or Forwarded header
// fields. Prefixes are masked and hold no IPv4-mapped IPv6 addresses. A nil
// TrustedProxies trusts nobody. It is safe for concurrent reads.
type TrustedProxies []netip.Prefix

// ErrTrustedProxy is wrapped by the errors of ParseTrustedProxies.
var ErrTrustedProxy = errors.New("websocket: bad trusted proxy")

// ParseTrustedProxies parses a comma-separated list of CIDR prefixes and
// addresses, such as "127.0.0.1/8, 10.0.0.0/8, ::1". An address stands for
// itself alone (/32 or /128). Spaces and tabs around entries and empty entries
// are ignored. IPv4-mapped IPv6 entries become IPv4 ("::ffff:10.0.0.0/104" is
// 10.0.0.0/8); a mapped prefix shorter than /96, which would cover IPv6 too,
// and addresses with zones are errors. The error wraps ErrTrustedProxy and
// names the first bad entry.
func ParseTrustedProxies(s string) (TrustedProxies, error) {
	var t TrustedProxies
	for s != "" {
		var entry string
		entry, s, _ = strings.Cut(s, ",")
		entry = trimOWS(entry)
		if entry == "" {
			continue
		}
		p, err := parseTrustedPrefix(entry)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrTrustedProxy, err)
		}
		t = append(t, p)
	}
	return t, nil
}

func parseTrustedPrefix(entry string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(entry, "/") {
		var err error
		if p, err = netip.ParsePrefix(entry); err != nil {
			return p, err
		}
	} else {
		a, err := netip.ParseAddr(entry)
		if err != nil {
			return p, err
		}
		if a.Zone() != "" {
			return p, fmt.Errorf("address %q has a zone", entry)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("IPv4-mapped prefix %q is shorter than /96", entry)
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// Contains reports whether a, unmapped and without its zone, is in one of
// the prefixes. The invalid Addr is in none. It does not allocate.
func (t TrustedProxies) Contains(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// String returns the prefixes in ParseTrustedProxies form.
func (t TrustedProxies) String() string {
	var b strings.Builder
	for i, p := range t {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// ClientAddr returns the address of the client behind a chain of trusted
// proxies, from remote, the address of the connection's peer, and xff, the
// values of the request's X-Forwarded-For header fields in order (possibly
// several fields, each a comma-separated list; the de facto format is
// https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/X-Forwarded-For).
//
// Each proxy appends the address of its own peer, so the list reads from the
// client on the left to the last proxy on the right, and only the entries
// appended by proxies you trust are reliable: anything to their left may have
// been made up by the client. ClientAddr therefore walks from the right:
//
//   - if remote is not trusted, it is the client, and the header is ignored;
//   - otherwise the entries are taken from the right while they are trusted,
//     and the first untrusted one is the client;
//   - if every entry is trusted, the leftmost is the client;
//   - a malformed entry (not an address, such as "unknown") stops the walk,
//     and the result is the trusted hop to its right, the last address known
//     to be real. That is a proxy's address, not the client's, but it can
//     never be one the client chose; callers can tell by asking trusted.
//
// This relies on every trusted proxy appending its peer's address to the
// list it received (as nginx's $proxy_add_x_forwarded_for and HAProxy's
// "option forwardfor" do): a trusted proxy that passes the header on
// unchanged, or sets it without appending, lets its clients choose the
// result.
//
// Entries are an IPv4 or IPv6 address, optionally with a port
// ("192.0.2.1:5678", "[2001:db8::1]:80", also "[2001:db8::1]"); spaces and
// tabs around them, and empty entries, are ignored
// (https://www.rfc-editor.org/rfc/rfc9110#section-5.6.1). Zones are
// malformed. Addresses are unmapped before trusted sees them and in the
// result. trusted is called with remote and then with valid entry addresses,
// possibly also ones left of the result (the entries are read in a single
// pass from the left), so it should be cheap and free of side effects. A nil
// trusted trusts nobody, so remote is returned. TrustedProxies.Contains is a
// ready-made trusted; it considers the invalid Addr untrusted, so wrap it to
// trust a peer on a Unix socket.
//
// ClientAddr does not allocate and does not retain xff; it is safe for
// concurrent use if trusted is.
func ClientAddr(remote netip.Addr, xff []string, trusted func(netip.Addr) bool) netip.Addr {
	remote = remote.Unmap()
	if trusted == nil || !trusted(remote) {
		return remote
	}
	var c hopChain
	for _, field := range xff {
		for field != "" {
			var entry string
			entry, field, _ = strings.Cut(field, ",")
			if entry = trimOWS(entry); entry != "" {
				a, ok := parseNode(entry, false)
				c.add(a, ok, trusted)
			}
		}
	}
	return c.result(remote)
}

// ForwardedClientAddr is ClientAddr for the Forwarded header field of
// https://www.rfc-editor.org/rfc/rfc7239: forwarded holds the values of the
// request's Forwarded fields in order, and each forwarded-element is one hop,
// whose "for" parameter (section 5.2) is the address of the peer that hop
// received the request from. The rules of ClientAddr apply, and these elements
// are malformed and stop the walk: one without "for" or with it twice, one
// that breaks the syntax of section 4 (an unterminated quoted-string, a
// parameter without "="), and a "for" node that is "unknown", an obfuscated
// identifier (section 6.3) or a quoted-string with escapes. Node ports may be
// obfuscated. For leniency, IPv6 nodes may be unquoted or unbracketed, and
// whitespace around ";" and "=" is allowed.
//
// Use whichever of the two headers your proxies set, not both: a client can
// send the other one, and the walks would disagree.
//
// ForwardedClientAddr does not allocate and does not retain forwarded; it is
// safe for concurrent use if trusted is.
func ForwardedClientAddr(remote netip.Addr, forwarded []string, trusted func(netip.Addr) bool) netip.Addr {
	remote = remote.Unmap()
	if trusted == nil || !trusted(remote) {
		return remote
	}
	var c hopChain
	for _, field := range forwarded {
		for field != "" {
			var node string
			var kind int
			node, kind, field = nextForwardedElement(field)
			switch kind {
			case forwardedFor:
				a, ok := parseNode(node, true)
				c.add(a, ok, trusted)
			case forwardedBad:
				c.add(netip.Addr{}, false, trusted)
			}
		}
	}
	return c.result(remote)
}

// hopChain applies the right-to-left walk of ClientAddr in a single pass from
// the left, so that header fields and list elements can be taken in the order
// they appear without storing them. After each entry it holds the result the
// walk would give if that entry were the last:
//
//   - a malformed entry: the hop to its right, not known yet (broken);
//   - an untrusted address: that address;
//   - a trusted address: whatever the entries to its left gave, except that a
//     broken result becomes this address, and so does an empty list (this is
//     the leftmost entry).
//
// trusted is asked only when the answer depends on it. (It is passed to add
// rather than kept in the struct, which would make escape analysis move a
// caller's method value such as tp.Contains to the heap.)
type hopChain struct {
	cand   netip.Addr // result so far, if valid and not broken
	broken bool       // the last entry was malformed
}

// add takes the next entry: its address, or ok == false if malformed.
func (c *hopChain) add(a netip.Addr, ok bool, trusted func(netip.Addr) bool) {
	switch {
	case !ok:
		c.cand, c.broken = netip.Addr{}, true
	case c.broken || !c.cand.IsValid() || !trusted(a):
		c.cand, c.broken = a, false
	}
}

// result returns the walk's result, given the trusted peer remote to the
// right of all entries.
func (c *hopChain) result(remote netip.Addr) netip.Addr {
	if c.broken || !c.cand.IsValid() {
		return remote
	}
	return c.cand
}

// parseNode parses an address with an optional port: "192.0.2.1",
// "192.0.2.1:80", "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:80". If
// obfPort is set the port may also be an obfuscated identifier
// (https://www.rfc-editor.org/rfc/rfc7239#section-6.3). The address is
// returned unmapped; ok is false for anything else, including zones.
func parseNode(s string, obfPort bool) (a netip.Addr, ok bool) {
	host, port, hasPort := s, "", false
	bracketed := strings.HasPrefix(s, "[")
	if bracketed {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		if host = s[1:end]; end+1 < len(s) {
			if s[end+1] != ':' {
				return netip.Addr{}, false
			}
			port, hasPort = s[end+2:], true
		}
	} else if strings.Count(s, ":") == 1 {
		// An IPv6 address has at least two colons, so this is IPv4 and a port.
		host, port, hasPort = strings.Cut(s, ":")
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" || bracketed && !a.Is6() {
		return netip.Addr{}, false
	}
	if hasPort && !validPort(port, obfPort) {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// validPort reports whether s is a decimal port in 0-65535 or, if obf is set,
// an obfuscated port: "_" followed by letters, digits, ".", "_" or "-"
// (https://www.rfc-editor.org/rfc/rfc7239#section-6).
func validPort(s string, obf bool) bool {
	if obf && len(s) > 1 && s[0] == '_' {
		for i := 1; i < len(s); i++ {
			if c := s[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
				return false
			}
		}
		return true
	}
	if s == "" || len(s) > 5 {
		return false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v <= 0xffff
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// Kinds of forwarded-element.
const (
	forwardedEmpty = iota // an empty list element, to be ignored
	forwardedBad          // malformed or without a usable "for"
	forwardedFor          // has a "for" node
)

// nextForwardedElement parses the forwarded-element at the start of s
// (https://www.rfc-editor.org/rfc/rfc7239#section-4) and returns its kind,
// the raw "for" value (unquoted) if it has one, and the rest of s after the
// comma that ends it. After a syntax error it skips to the next comma outside
// a quoted-string, or to the end of s.
func nextForwardedElement(s string) (node string, kind int, rest string) {
	s = trimLeftOWS(s)
	if s == "" || s[0] == ',' {
		if s != "" {
			s = s[1:]
		}
		return "", forwardedEmpty, s
	}
	hasFor := false
	for {
		s = trimLeftOWS(s)
		if s == "" || s[0] == ',' {
			break
		}
		if s[0] == ';' {
			s = s[1:]
			continue
		}
		i := 0
		for i < len(s) && isTchar(s[i]) {
			i++
		}
		name := s[:i]
		s = trimLeftOWS(s[i:])
		if name == "" || s == "" || s[0] != '=' {
			return "", forwardedBad, skipForwardedElement(s)
		}
		s = trimLeftOWS(s[1:])
		var value string
		if s != "" && s[0] == '"' {
			var ok bool
			if value, s, ok = cutQuotedString(s); !ok {
				return "", forwardedBad, ""
			}
		} else {
			i = 0
			for i < len(s) && strings.IndexByte(";,\" \t", s[i]) < 0 {
				i++
			}
			value, s = s[:i], s[i:]
			if value == "" {
				return "", forwardedBad, skipForwardedElement(s)
			}
		}
		s = trimLeftOWS(s)
		if s != "" && s[0] != ';' && s[0] != ',' {
			return "", forwardedBad, skipForwardedElement(s)
		}
		if strings.EqualFold(name, "for") {
			if hasFor {
				return "", forwardedBad, skipForwardedElement(s)
			}
			hasFor, node = true, value
		}
	}
	if s != "" {
		s = s[1:] // the comma
	}
	if !hasFor {
		return "", forwardedBad, s
	}
	return node, forwardedFor, s
}

// cutQuotedString splits a quoted-string
// (https://www.rfc-editor.org/rfc/rfc9110#section-5.6.4) off the start of s,
// which starts with '"'. value is its content with quoted-pairs left as they
// are; ok is false if it is not terminated.
func cutQuotedString(s string) (value, rest string, ok bool) {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return s[1:i], s[i+1:], true
		}
	}
	return "", "", false
}

// skipForwardedElement returns s after the next comma that is not inside a
// quoted-string, or "" if there is none.
func skipForwardedElement(s string) string {
	for s != "" {
		switch s[0] {
		case ',':
			return s[1:]
		case '"':
			var ok bool
			if _, s, ok = cutQuotedString(s); !ok {
				return ""
			}
			continue
		}
		s = s[1:]
	}
	return ""
}

// isTchar reports whether c may appear in a token:
// https://www.rfc-editor.org/rfc/rfc9110#section-5.6.2
func isTchar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// trimLeftOWS trims leading spaces and tabs.
func trimLeftOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return s
}

// trimOWS drops optional whitespace (RFC 9110 §5.6.3) around s.
func trimOWS(s string) string {
	return strings.Trim(s, " \t")
}
