package jwtauth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"unicode/utf8"
)

// b64 is base64url without padding (RFC 7515 §2), strict: the unused
// bits of the last character must be zero, so each segment has one
// spelling.
var b64 = base64.RawURLEncoding.Strict()

var errNotObject = errors.New("not a JSON object")

// split finds the two dots of a compact JWS (RFC 7515 §7.1), checking
// that every other byte is of the base64url alphabet (the decoder would
// skip CR and LF).
func split(token string) (dot1, dot2 int, err error) {
	dot1, dot2 = -1, -1
	for i := 0; i < len(token); i++ {
		switch c := token[i]; {
		case c == '.':
			switch {
			case dot1 < 0:
				dot1 = i
			case dot2 < 0:
				dot2 = i
			default:
				return 0, 0, errorf(ErrMalformed, "more than 3 segments")
			}
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return 0, 0, errorf(ErrMalformed, "byte %#02x at %d is not base64url", c, i)
		}
	}
	if dot2 < 0 {
		return 0, 0, errorf(ErrMalformed, "fewer than 3 segments")
	}
	return dot1, dot2, nil
}

// header is what Verify reads of a JOSE header.
type header struct {
	alg string
	kid string
	typ keyType // the type of key alg needs
}

// parseHeader decodes and checks the JOSE header segment (RFC 7515 §4).
func parseHeader(seg string) (header, error) {
	var h header
	fields, err := decodeObject(seg)
	if err != nil {
		return h, errorf(ErrMalformed, "header: %v", err)
	}
	alg, ok := jsonString(fields["alg"])
	if !ok {
		return h, errorf(ErrMalformed, `header: "alg" missing or not a string`) // RFC 7515 §4.1.1
	}
	h.alg = alg
	switch alg { // case-sensitive (RFC 7515 §4.1.1)
	case "HS256":
		h.typ = keyHMAC
	case "RS256":
		h.typ = keyRSA
	case "ES256":
		h.typ = keyEC
	default:
		return h, errorf(ErrAlgorithm, "alg %s (accepted: HS256, RS256, ES256)", quoteID(alg))
	}
	if raw, present := fields["kid"]; present {
		if h.kid, ok = jsonString(raw); !ok {
			return h, errorf(ErrMalformed, `header: "kid" is not a string`) // RFC 7515 §4.1.4
		}
	}
	if _, present := fields["crit"]; present {
		return h, errorf(ErrMalformed, `header: "crit" names extensions not understood`) // RFC 7515 §4.1.11
	}
	if cty, _ := jsonString(fields["cty"]); strings.EqualFold(cty, "JWT") {
		return h, errorf(ErrMalformed, "nested JWT not supported") // RFC 7519 §5.2
	}
	return h, nil
}

// decodeObject decodes a base64url segment holding a JSON object. Of a
// member given twice, the last counts (RFC 7515 §5.2 allows it).
func decodeObject(seg string) (map[string]json.RawMessage, error) {
	b, err := b64.DecodeString(seg)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errNotObject
	}
	return m, nil
}

// jsonString decodes raw if it is a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	if s := raw[1 : len(raw)-1]; raw[len(raw)-1] == '"' && plain(s) {
		return string(s), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// sigCheck verifies one token's signature against candidate keys.
type sigCheck struct {
	typ    keyType // of the alg: the only type of key verify accepts
	input  string
	sig    []byte
	digest [sha256.Size]byte // of input, for RS256 and ES256
	r, s   *big.Int          // ES256
}

// newSigCheck prepares the check of sig over input with alg.
func newSigCheck(h header, input string, sig []byte) (*sigCheck, error) {
	c := &sigCheck{typ: h.typ, input: input, sig: sig}
	switch h.typ {
	case keyRSA:
		c.digest = sha256.Sum256([]byte(input))
	case keyEC:
		if len(sig) != 64 { // R||S, 32 bytes each (RFC 7518 §3.4), not ASN.1 DER
			return nil, errorf(ErrSignature, "ES256 signature of %d bytes, want 64", len(sig))
		}
		c.digest = sha256.Sum256([]byte(input))
		c.r = new(big.Int).SetBytes(sig[:32])
		c.s = new(big.Int).SetBytes(sig[32:])
	}
	return c, nil
}

// verify reports whether k signed the token: HMAC SHA-256 (RFC 7518
// §3.2, compared in constant time), RSASSA-PKCS1-v1_5 SHA-256 (§3.3) or
// ECDSA P-256 SHA-256 (§3.4). The key's type was matched to alg by the
// caller; verify checks it again.
func (c *sigCheck) verify(k *key) bool {
	if k.typ != c.typ {
		return false
	}
	switch k.typ {
	case keyHMAC:
		mac := hmac.New(sha256.New, k.hmac)
		mac.Write([]byte(c.input))
		return hmac.Equal(mac.Sum(nil), c.sig)
	case keyRSA:
		return rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, c.digest[:], c.sig) == nil
	case keyEC:
		return ecdsa.Verify(k.ec, c.digest[:], c.r, c.s)
	}
	return false
}

// plain reports whether s, the inside of a JSON string, needs no
// decoding: no escape, quote or control character, valid UTF-8.
func plain(s []byte) bool {
	for _, b := range s {
		if b < 0x20 || b == '"' || b == '\\' {
			return false
		}
	}
	return utf8.Valid(s)
}
