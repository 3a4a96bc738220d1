package feed

// Tickers are the symbols a feed starts with, large US stocks; a feed with
// more symbols continues with generated four-letter names.
var Tickers = []string{
	"AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "AVGO", "JPM", "V",
	"UNH", "XOM", "JNJ", "WMT", "MA", "PG", "HD", "CVX", "LLY", "MRK",
	"ABBV", "KO", "PEP", "COST", "ADBE", "CRM", "NFLX", "AMD", "INTC", "CSCO",
	"ORCL", "TMO", "ACN", "MCD", "NKE", "DIS", "WFC", "BAC", "PFE", "T",
	"VZ", "QCOM", "TXN", "IBM", "INTU", "AMGN", "HON", "CAT", "GS", "BA",
}

// Symbols returns n distinct symbols: Tickers first, then generated
// four-letter names (the same ones for the same n). n ≤ 0 returns none.
func Symbols(n int) []string {
	if n <= 0 {
		return nil
	}
	out := make([]string, 0, n)
	seen := make(map[string]bool, n)
	for _, s := range Tickers[:min(n, len(Tickers))] {
		out = append(out, s)
		seen[s] = true
	}
	// A full-period walk over the 26^4 four-letter names: 7919 is prime
	// and does not divide 26^4, so every name comes once before any
	// repeats, in a scattered order.
	const space = 26 * 26 * 26 * 26
	for i := 0; len(out) < n && i < space; i++ {
		k := (i*7919 + 104729) % space
		var b [4]byte
		for j := 3; j >= 0; j-- {
			b[j] = byte('A' + k%26)
			k /= 26
		}
		if s := string(b[:]); !seen[s] {
			out = append(out, s)
			seen[s] = true
		}
	}
	return out
}
