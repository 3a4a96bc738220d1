package jwtauth

import "strings"

// Patterns is a list of topic patterns, the value of an entitlement claim
// ("subscribe", "publish"). A nil or empty Patterns allows nothing.
//
// A topic is one or more '.'-separated tokens; a token is not empty and
// holds no '*', '>', space, control character or DEL. A pattern is the
// same, except that a token may be "*" (matches exactly one token) and the
// last token may be ">" (matches one or more tokens): NATS subject
// semantics. The patterns of Claims returned by Verify are all valid
// (ValidPattern).
type Patterns []string

// Allows reports whether one of the patterns matches topic. A topic that
// is not a concrete topic (empty, an empty token, a '*' or '>' in it) is
// never allowed. Allows does not allocate; p is only read, so calls from
// several goroutines may share it.
func (p Patterns) Allows(topic string) bool {
	if !validName(topic, false) {
		return false
	}
	for _, pat := range p {
		if match(pat, topic) {
			return true
		}
	}
	return false
}

// ValidPattern reports whether s is a topic pattern: see Patterns.
func ValidPattern(s string) bool { return validName(s, true) }

// validName checks a topic or, with wildcards, a pattern.
func validName(s string, wildcards bool) bool {
	if s == "" {
		return false
	}
	for {
		tok, rest, more := strings.Cut(s, ".")
		if !validToken(tok, wildcards, !more) {
			return false
		}
		if !more {
			return true
		}
		s = rest
	}
}

// validToken checks one token of a topic or pattern; last says whether it
// ends the name (where ">" may stand).
func validToken(tok string, wildcards, last bool) bool {
	if tok == "" {
		return false
	}
	if wildcards && (tok == "*" || (tok == ">" && last)) {
		return true
	}
	for i := 0; i < len(tok); i++ {
		b := tok[i]
		if b <= ' ' || b == 0x7f || b == '*' || b == '>' {
			return false
		}
	}
	return true
}

// match reports whether pattern matches topic, both valid.
func match(pattern, topic string) bool {
	for {
		ptok, prest, pmore := strings.Cut(pattern, ".")
		if ptok == ">" && !pmore {
			return true // topic has at least the one token left
		}
		ttok, trest, tmore := strings.Cut(topic, ".")
		if ptok != "*" && ptok != ttok {
			return false
		}
		if !pmore || !tmore {
			return pmore == tmore
		}
		pattern, topic = prest, trest
	}
}
