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
