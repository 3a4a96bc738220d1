package hostile

import "testing"

// The suite's coverage: at least these many cases per class (the brief of
// issue 12), every case fully described, names unique.
var minCases = map[Class]int{
	ClassHandshake: 35, ClassFrame: 20, ClassFlood: 8, ClassSlowReader: 5, ClassCompression: 8, ClassFault: 10,
}

func TestCatalogue(t *testing.T) {
	seen := map[string]bool{}
	per := map[Class]int{}
	all := All()
	for _, c := range all {
		if c.Name == "" || c.Does == "" || c.Want == "" || c.RFC == "" || c.Run == nil {
			t.Errorf("case %q (%s) is not fully described", c.Name, c.Class)
		}
		if seen[c.Name] {
			t.Errorf("two cases named %q", c.Name)
		}
		seen[c.Name] = true
		per[c.Class]++
		if c.Compress != (c.Class == ClassCompression) {
			t.Errorf("case %q: Compress %v in class %s", c.Name, c.Compress, c.Class)
		}
	}
	for _, cl := range Classes {
		t.Logf("%-12s %3d cases", cl, per[cl])
		if per[cl] < minCases[cl] {
			t.Errorf("class %s: %d cases, want at least %d", cl, per[cl], minCases[cl])
		}
	}
	if len(all) < 80 {
		t.Errorf("%d cases, want at least 80", len(all))
	}
	t.Logf("%d cases", len(all))
}
