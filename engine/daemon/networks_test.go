package daemon

import (
	"sort"
	"strings"
	"testing"
)

func TestNaturalOrder(t *testing.T) {
	names := []string{"net10", "none", "net2", "bridge", "host", "net1", "mynet"}
	sort.Slice(names, func(i, j int) bool { return naturalLess(names[i], names[j]) })
	want := "bridge host mynet net1 net2 net10 none"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("order = %s, want %s", got, want)
	}
}

// naturalLess compares runs of digits as numbers, leading zeros and all,
// and a name before its extensions.
func TestNaturalLess(t *testing.T) {
	for _, c := range []struct {
		a, b string
		less bool
	}{
		{"net2", "net10", true},
		{"net10", "net2", false},
		{"net02", "net10", true},
		{"net2", "net2", false},
		{"net", "net1", true},
		{"a9b", "a10a", true},
		{"a10a", "a10b", true},
		{"bridge", "host", true},
	} {
		if got := naturalLess(c.a, c.b); got != c.less {
			t.Errorf("naturalLess(%q, %q) = %v, want %v", c.a, c.b, got, c.less)
		}
	}
}
