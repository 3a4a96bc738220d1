package jwtauth

import (
	"bytes"
	"encoding/json"
	"math"
	"time"
)

// Claims is what a verified token says. Verify fills it; the caller owns
// it, and may share it between goroutines that only read it.
type Claims struct {
	// Subject is "sub", the user ("" if absent).
	Subject string
	// Issuer is "iss" ("" if absent).
	Issuer string
	// Audience is "aud", one string or several (nil if absent).
	Audience []string
	// Expiry is "exp", always present in a verified token.
	Expiry time.Time
	// NotBefore is "nbf"; the zero Time if absent.
	NotBefore time.Time
	// IssuedAt is "iat", not checked; the zero Time if absent.
	IssuedAt time.Time
	// Subscribe is "subscribe": the topics the user may subscribe to.
	Subscribe Patterns
	// Publish is "publish": the topics the user may publish to.
	Publish Patterns
	// Raw is every member of the claims set, the above included, as
	// JSON, for claims this package does not read.
	Raw map[string]json.RawMessage
}

// maxNumericDate is 9999-12-31T23:59:59Z, the latest NumericDate read.
const maxNumericDate = 253402300799

// parseClaims decodes the payload segment: a JSON object (RFC 7519 §7.2)
// with the registered claims (RFC 7519 §4.1) of the right types, an
// "exp", and valid entitlement patterns.
func parseClaims(seg string) (*Claims, error) {
	raw, err := decodeObject(seg)
	if err != nil {
		return nil, errorf(ErrMalformed, "payload: %v", err)
	}
	c := &Claims{Raw: raw}
	var ok bool
	if v, present := raw["sub"]; present {
		if c.Subject, ok = jsonString(v); !ok {
			return nil, errorf(ErrMalformed, `"sub" is not a string`)
		}
	}
	if v, present := raw["iss"]; present {
		if c.Issuer, ok = jsonString(v); !ok {
			return nil, errorf(ErrMalformed, `"iss" is not a string`)
		}
	}
	if v, present := raw["aud"]; present {
		if c.Audience, ok = audience(v); !ok {
			return nil, errorf(ErrMalformed, `"aud" is neither a string nor an array of strings`)
		}
	}
	exp, present := raw["exp"]
	if !present {
		return nil, errorf(ErrMalformed, `no "exp": a token must expire`)
	}
	if c.Expiry, ok = numericDate(exp); !ok {
		return nil, errorf(ErrMalformed, `"exp" is not a NumericDate`)
	}
	if v, present := raw["nbf"]; present {
		if c.NotBefore, ok = numericDate(v); !ok {
			return nil, errorf(ErrMalformed, `"nbf" is not a NumericDate`)
		}
	}
	if v, present := raw["iat"]; present {
		if c.IssuedAt, ok = numericDate(v); !ok {
			return nil, errorf(ErrMalformed, `"iat" is not a NumericDate`)
		}
	}
	if c.Subscribe, err = patterns(raw, "subscribe"); err != nil {
		return nil, err
	}
	if c.Publish, err = patterns(raw, "publish"); err != nil {
		return nil, err
	}
	return c, nil
}

// numericDate decodes a NumericDate (RFC 7519 §2): a JSON number of
// seconds since the epoch, maybe fractional, here within years 1970-9999.
func numericDate(raw json.RawMessage) (time.Time, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return time.Time{}, false
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil || !(f >= 0 && f <= maxNumericDate) {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// audience decodes "aud": a string or an array of strings (RFC 7519
// §4.1.3).
func audience(raw json.RawMessage) ([]string, bool) {
	if s, ok := jsonString(raw); ok {
		return []string{s}, true
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		return nil, false
	}
	var elems []json.RawMessage
	if json.Unmarshal(raw, &elems) != nil {
		return nil, false
	}
	aud := make([]string, len(elems))
	for i, e := range elems {
		var ok bool
		if aud[i], ok = jsonString(e); !ok {
			return nil, false
		}
	}
	return aud, true
}

// patterns decodes an entitlement claim: absent or null allows nothing;
// otherwise an array of strings, each a valid pattern, or the whole
// token is malformed.
func patterns(raw map[string]json.RawMessage, name string) (Patterns, error) {
	v := bytes.TrimSpace(raw[name])
	if len(v) == 0 || string(v) == "null" {
		return nil, nil
	}
	if v[0] != '[' {
		return nil, errorf(ErrMalformed, "%q is not an array of topic patterns", name)
	}
	var p Patterns
	if err := json.Unmarshal(v, &p); err != nil {
		return nil, errorf(ErrMalformed, "%q: %v", name, err)
	}
	for i, s := range p {
		if !ValidPattern(s) { // a null element is "" here: invalid too
			return nil, errorf(ErrMalformed, "%q: element %d is not a valid topic pattern", name, i)
		}
	}
	return p, nil
}
