package jwtauth

import "testing"

func TestPatternsAllows(t *testing.T) {
	tests := []struct {
		pattern, topic string
		want           bool
	}{
		{"md.*", "md.AAPL", true},
		{"md.*", "md.AAPL.x", false},
		{"md.*", "md", false},
		{"md.*", "news.AAPL", false},
		{"md.*", "mdx.AAPL", false},
		{"md.>", "md.AAPL", true},
		{"md.>", "md.AAPL.x", true},
		{"md.>", "md", false},
		{"md.>", "news.AAPL", false},
		{"*", "md", true},
		{"*", "md.AAPL", false},
		{">", "md", true},
		{">", "md.AAPL.x", true},
		{"*.AAPL", "md.AAPL", true},
		{"*.AAPL", "md.MSFT", false},
		{"md.*.trades", "md.AAPL.trades", true},
		{"md.*.trades", "md.AAPL.quotes", false},
		{"md.*.>", "md.AAPL", false},
		{"md.*.>", "md.AAPL.trades", true},
		{"*.*", "a.b", true},
		{"*.*", "a", false},
		{"news", "news", true},
		{"news", "news.x", false},
		{"news", "new", false},
		{"news", "newsx", false},
		{"news.x", "news", false},
		{"orders.alice", "orders.alice", true},
		{"orders.alice", "orders.bob", false},
		{"md.*", "md.*", false},   // not a concrete topic
		{"md.>", "md.>", false},   // nor
		{">", "a..b", false},      // empty token
		{">", "", false},          // empty topic
		{">", ".a", false},        // empty token
		{">", "a b", false},       // space
		{"md..x", "md..x", false}, // invalid pattern, invalid topic
		{"a.>.b", "a.x.b", false}, // invalid pattern
		{"", "a", false},          // invalid pattern
	}
	for _, tt := range tests {
		if got := (Patterns{tt.pattern}).Allows(tt.topic); got != tt.want {
			t.Errorf("%q allows %q: %v, want %v", tt.pattern, tt.topic, got, tt.want)
		}
	}
	p := Patterns{"md.*", "news", "orders.alice"}
	for topic, want := range map[string]bool{"md.AAPL": true, "news": true, "orders.alice": true, "orders.bob": false, "md": false} {
		if got := p.Allows(topic); got != want {
			t.Errorf("%q allows %q: %v, want %v", p, topic, got, want)
		}
	}
	if Patterns(nil).Allows("md.AAPL") || (Patterns{}).Allows("md.AAPL") {
		t.Error("empty Patterns allows")
	}
}

func TestValidPattern(t *testing.T) {
	for s, want := range map[string]bool{
		"md": true, "md.AAPL": true, "md.*": true, "md.>": true, "*": true, ">": true, "*.*.>": true,
		"md.AAPL-1_x:y": true, "métro.é": true,
		"": false, ".": false, "md.": false, ".md": false, "md..x": false, "a.>.b": false, ">.a": false,
		"md.*x": false, "md.x*": false, "md.>x": false, "md.a>": false, "md x": false, "md\tx": false,
		"md\x00": false, "md\x7f": false, "**": false, ">>": false,
	} {
		if got := ValidPattern(s); got != want {
			t.Errorf("ValidPattern(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestAllowsNoAlloc(t *testing.T) {
	p := Patterns{"news", "md.*.trades", "md.>"}
	if n := testing.AllocsPerRun(100, func() { p.Allows("md.AAPL.quotes") }); n != 0 {
		t.Fatalf("Allows: %v allocations", n)
	}
}
