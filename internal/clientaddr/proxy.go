package clientaddr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
)

// The PROXY protocol lets a TCP proxy or load balancer pass the client's
// address to the server at the start of the connection, before any
// application bytes. Version 1 is one text line, version 2 a binary block.
// Spec: https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt
const (
	// ProxyHeaderMaxV1 is the longest version 1 header, CRLF included
	// (section 2.1).
	ProxyHeaderMaxV1 = 107
	// ProxyV2MaxLength is the largest version 2 length field (address block
	// and TLVs) that ParseProxyHeader accepts. The protocol allows 65535, but
	// real proxies send well under 1 KiB, so a larger value is treated as
	// garbage rather than waited for.
	ProxyV2MaxLength = 4096
	// ProxyHeaderMaxV2 is the longest version 2 header ParseProxyHeader
	// accepts: the 16-byte fixed part plus ProxyV2MaxLength. A caller that
	// buffers this many bytes without a result will get an error.
	ProxyHeaderMaxV2 = proxyV2FixedLen + ProxyV2MaxLength
)

// ErrProxyHeader is the error every PROXY protocol failure matches with
// errors.Is. The errors ParseProxyHeader returns wrap it with a fixed detail
// and are preallocated, so returning them allocates nothing.
var ErrProxyHeader = errors.New("websocket: bad PROXY protocol header")

// proxyError is a preallocated ErrProxyHeader with a detail message.
type proxyError struct{ msg string }

func (e *proxyError) Error() string { return e.msg }
func (e *proxyError) Unwrap() error { return ErrProxyHeader }

func newProxyError(detail string) error {
	return &proxyError{msg: ErrProxyHeader.Error() + ": " + detail}
}

var (
	errProxyNoSignature  = newProxyError("no PROXY signature")
	errProxyV1TooLong    = newProxyError("v1 line has no CRLF within 107 bytes")
	errProxyV1Protocol   = newProxyError("v1 protocol is not TCP4, TCP6 or UNKNOWN")
	errProxyV1Char       = newProxyError("v1 line has a character not allowed for its protocol")
	errProxyV1Fields     = newProxyError("v1 line does not have exactly four address and port fields")
	errProxyV1Addr       = newProxyError("v1 address does not match its protocol")
	errProxyV1Port       = newProxyError("v1 port is not a decimal in 0-65535")
	errProxyV2Version    = newProxyError("v2 version is not 2")
	errProxyV2Command    = newProxyError("v2 command is not LOCAL or PROXY")
	errProxyV2Family     = newProxyError("v2 address family or transport is invalid")
	errProxyV2Transport  = newProxyError("v2 transport is not a stream")
	errProxyV2TooLong    = newProxyError("v2 length exceeds ProxyV2MaxLength")
	errProxyV2AddrLength = newProxyError("v2 length is too short for the address block")
)

// Version 1 (section 2.1).
var (
	proxyV1Prefix = []byte("PROXY ")
	proxyV1TCP4   = []byte("TCP4 ")
	proxyV1TCP6   = []byte("TCP6 ")
	proxyV1Unk    = []byte("UNKNOWN")
	proxyCRLF     = []byte("\r\n")
)

// Version 2 (section 2.2).
var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

const (
	proxyV2FixedLen = 16 // signature, ver_cmd, fam, len

	proxyV2Version  = 0x20 // high nibble of ver_cmd
	proxyV2CmdLocal = 0x0
	proxyV2CmdProxy = 0x1

	// fam byte: address family in the high nibble, transport in the low.
	proxyV2FamUnspec = 0x0
	proxyV2FamInet   = 0x1
	proxyV2FamInet6  = 0x2
	proxyV2FamUnix   = 0x3
	proxyV2Stream    = 0x1
	proxyV2Dgram     = 0x2

	// Address block sizes: two addresses, then two ports for IP.
	proxyV2InetLen  = 4 + 4 + 2 + 2
	proxyV2Inet6Len = 16 + 16 + 2 + 2
	proxyV2UnixLen  = 108 + 108
)

// ParseProxyHeader parses a PROXY protocol header, version 1 or 2, at the
// start of b, the bytes a connection has delivered so far (the same prefix as
// at the previous call, possibly longer, as gnet's Peek returns them).
//
//   - n == 0 && err == nil: b is empty or a proper prefix of a header that
//     may still turn out valid; call again with more bytes.
//   - n > 0: the header is the first n bytes; the connection's own data
//     starts at b[n], which is not examined. src is the client, dst the
//     address the client connected to.
//   - err != nil: b cannot start a valid header; it matches ErrProxyHeader
//     (errors.Is). More bytes never turn an error into success, and the
//     error does not depend on how the bytes were split. Errors come early
//     where that is cheap: at the first byte that differs from both
//     signatures (so a client speaking HTTP or TLS directly fails at its
//     first byte), at a version 1 protocol other than TCP4, TCP6 or UNKNOWN
//     or a character that no address or port of the protocol uses, and at
//     the version 2 byte holding a bad version, command, family or length.
//     Other version 1 errors wait for the CRLF.
//
// src and dst are the zero netip.AddrPort, with n > 0, when the header
// carries no usable address: version 1 "UNKNOWN", version 2 LOCAL (the
// proxy's own health check), and version 2 PROXY with the UNSPEC or UNIX
// family. The caller should then use the connection's real endpoints.
// Addresses are returned unmapped, so "::ffff:192.0.2.1" is 192.0.2.1.
//
// Version 1 accepts TCP4 with dotted-quad addresses and TCP6 with IPv6
// addresses (without zones), single spaces and decimal ports without leading
// zeros; for UNKNOWN the rest of the line is ignored, as section 2.1 requires.
// Version 2 accepts the LOCAL command with any family, and the PROXY command
// with UNSPEC, TCP over IPv4 or IPv6, and UNIX stream; datagram transports
// are refused, and so is a length field over ProxyV2MaxLength or too short
// for the address block. TLVs after the addresses are skipped unchecked
// (their CRC32C, if any, is not verified).
//
// Only accept a PROXY header from peers known to be proxies: anyone who can
// connect directly can send one. ParseProxyHeader does not allocate and does
// not retain b; it is safe for concurrent use.
func ParseProxyHeader(b []byte) (n int, src, dst netip.AddrPort, err error) {
	switch {
	case len(b) == 0:
		return 0, netip.AddrPort{}, netip.AddrPort{}, nil
	case b[0] == proxyV1Prefix[0]:
		return parseProxyV1(b)
	case b[0] == proxyV2Sig[0]:
		return parseProxyV2(b)
	}
	return 0, netip.AddrPort{}, netip.AddrPort{}, errProxyNoSignature
}

// hasPrefixSoFar reports whether b and prefix agree on their common length.
func hasPrefixSoFar(b, prefix []byte) bool {
	m := min(len(b), len(prefix))
	return bytes.Equal(b[:m], prefix[:m])
}

// parseProxyV1 parses "PROXY <proto> <src> <dst> <sport> <dport>\r\n"
// (section 2.1). b starts with 'P'.
func parseProxyV1(b []byte) (n int, src, dst netip.AddrPort, err error) {
	if !hasPrefixSoFar(b, proxyV1Prefix) {
		return 0, src, dst, errProxyNoSignature
	}
	if len(b) <= len(proxyV1Prefix) {
		return 0, src, dst, nil
	}
	limit := min(len(b), ProxyHeaderMaxV1)
	end := bytes.Index(b[:limit], proxyCRLF)
	if end < 0 {
		// Incomplete: fail now if the line so far cannot become valid.
		if _, _, err = checkProxyV1Line(b[len(proxyV1Prefix):limit], false); err == nil && len(b) >= ProxyHeaderMaxV1 {
			err = errProxyV1TooLong
		}
		return 0, src, dst, err
	}
	n = end + len(proxyCRLF)
	fields, tcp, err := checkProxyV1Line(b[len(proxyV1Prefix):end], true)
	if err != nil {
		return 0, src, dst, err
	}
	if !tcp { // UNKNOWN: the rest of the line is ignored
		return n, src, dst, nil
	}
	var f [4][]byte
	for i := range f {
		var ok bool
		if f[i], fields, ok = bytes.Cut(fields, []byte(" ")); ok != (i < len(f)-1) || len(f[i]) == 0 {
			return 0, src, dst, errProxyV1Fields
		}
	}
	var sa, da netip.Addr
	var ok1, ok2 bool
	if b[len(proxyV1Prefix)+3] == '6' {
		sa, ok1 = parseIPv6(f[0])
		da, ok2 = parseIPv6(f[1])
	} else {
		sa, ok1 = parseIPv4(f[0])
		da, ok2 = parseIPv4(f[1])
	}
	if !ok1 || !ok2 {
		return 0, src, dst, errProxyV1Addr
	}
	sp, ok1 := parsePort(f[2])
	dp, ok2 := parsePort(f[3])
	if !ok1 || !ok2 {
		return 0, src, dst, errProxyV1Port
	}
	return n, netip.AddrPortFrom(sa.Unmap(), sp), netip.AddrPortFrom(da.Unmap(), dp), nil
}

// checkProxyV1Line checks the protocol and the characters of a version 1
// line after "PROXY ": the whole line without CRLF if complete, else what
// has arrived of it. It rejects an unknown protocol and, for TCP4 and TCP6, a
// character that no address or port of that protocol uses (a CR only as the
// last byte of an incomplete line, where the LF may follow). For a complete
// TCP4 or TCP6 line it returns tcp == true and the fields after the
// protocol; for UNKNOWN and for an incomplete line, tcp is false.
//
// Running the same checks on incomplete and complete lines makes the error
// for a line independent of how its bytes arrived.
func checkProxyV1Line(line []byte, complete bool) (fields []byte, tcp bool, err error) {
	var class uint8
	switch {
	case hasPrefixSoFar(line, proxyV1TCP4) && (!complete || len(line) > len(proxyV1TCP4)):
		class = v1CharTCP4
	case hasPrefixSoFar(line, proxyV1TCP6) && (!complete || len(line) > len(proxyV1TCP6)):
		class = v1CharTCP6
	case hasPrefixSoFar(line, proxyV1Unk) && (!complete || len(line) >= len(proxyV1Unk)):
		// A space and then anything (until CRLF), or CRLF at once.
		if len(line) <= len(proxyV1Unk) || line[len(proxyV1Unk)] == ' ' ||
			!complete && len(line) == len(proxyV1Unk)+1 && line[len(proxyV1Unk)] == '\r' {
			return nil, false, nil
		}
		return nil, false, errProxyV1Protocol
	default:
		return nil, false, errProxyV1Protocol
	}
	if len(line) <= len(proxyV1TCP4) {
		return nil, false, nil
	}
	fields = line[len(proxyV1TCP4):]
	for i, c := range fields {
		if v1Chars[c]&class == 0 && !(c == '\r' && !complete && i == len(fields)-1) {
			return nil, false, errProxyV1Char
		}
	}
	return fields, complete, nil
}

// Character classes of version 1 fields: the bytes that addresses, ports and
// separators of a TCP4 or TCP6 line consist of.
const (
	v1CharTCP4 = 1 << iota
	v1CharTCP6
)

var v1Chars = func() (t [256]uint8) {
	for c := range len(t) {
		switch {
		case c == ' ' || c == '.' || '0' <= c && c <= '9':
			t[c] = v1CharTCP4 | v1CharTCP6
		case c == ':' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F':
			t[c] = v1CharTCP6
		}
	}
	return t
}()

// parseProxyV2 parses the binary header (section 2.2). b starts with '\r'.
func parseProxyV2(b []byte) (n int, src, dst netip.AddrPort, err error) {
	if !hasPrefixSoFar(b, proxyV2Sig) {
		return 0, src, dst, errProxyNoSignature
	}
	sig := len(proxyV2Sig)
	if len(b) <= sig {
		return 0, src, dst, nil
	}
	verCmd := b[sig]
	if verCmd&0xf0 != proxyV2Version {
		return 0, src, dst, errProxyV2Version
	}
	cmd := verCmd & 0x0f
	if cmd != proxyV2CmdLocal && cmd != proxyV2CmdProxy {
		return 0, src, dst, errProxyV2Command
	}
	if len(b) <= sig+1 {
		return 0, src, dst, nil
	}
	// A LOCAL header's family is ignored (section 2.2), so only PROXY
	// headers need an address block.
	need := 0
	if cmd == proxyV2CmdProxy {
		if need, err = proxyV2AddrLen(b[sig+1]); err != nil {
			return 0, src, dst, err
		}
	}
	if len(b) < proxyV2FixedLen {
		return 0, src, dst, nil
	}
	length := int(binary.BigEndian.Uint16(b[sig+2:]))
	if length > ProxyV2MaxLength {
		return 0, src, dst, errProxyV2TooLong
	}
	if length < need {
		return 0, src, dst, errProxyV2AddrLength
	}
	n = proxyV2FixedLen + length
	if len(b) < n {
		return 0, src, dst, nil
	}
	if cmd == proxyV2CmdLocal {
		return n, src, dst, nil
	}
	a := b[proxyV2FixedLen:n]
	switch b[sig+1] >> 4 {
	case proxyV2FamInet:
		sa := netip.AddrFrom4([4]byte(a[0:4]))
		da := netip.AddrFrom4([4]byte(a[4:8]))
		src = netip.AddrPortFrom(sa, binary.BigEndian.Uint16(a[8:]))
		dst = netip.AddrPortFrom(da, binary.BigEndian.Uint16(a[10:]))
	case proxyV2FamInet6:
		sa := netip.AddrFrom16([16]byte(a[0:16])).Unmap()
		da := netip.AddrFrom16([16]byte(a[16:32])).Unmap()
		src = netip.AddrPortFrom(sa, binary.BigEndian.Uint16(a[32:]))
		dst = netip.AddrPortFrom(da, binary.BigEndian.Uint16(a[34:]))
	}
	return n, src, dst, nil
}

// proxyV2AddrLen checks the fam byte of a PROXY command and returns the size
// of the address block it implies. Family values above UNIX and transport
// values above DGRAM must be rejected (section 2.2); of the valid ones, IPv4,
// IPv6 and UNIX need a stream, and UNSPEC carries no addresses at all.
func proxyV2AddrLen(fam byte) (int, error) {
	family, transport := fam>>4, fam&0x0f
	if family > proxyV2FamUnix || transport > proxyV2Dgram {
		return 0, errProxyV2Family
	}
	if family == proxyV2FamUnspec {
		return 0, nil
	}
	if transport != proxyV2Stream {
		return 0, errProxyV2Transport
	}
	switch family {
	case proxyV2FamInet:
		return proxyV2InetLen, nil
	case proxyV2FamInet6:
		return proxyV2Inet6Len, nil
	}
	return proxyV2UnixLen, nil
}
