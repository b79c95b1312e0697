package daemon

import (
	"testing"

	"github.com/nslab/nslab/engine/api"
)

// The handler table and api's operations are the same set: no operation
// the CLI can send is unknown here, and no handler is unreachable.
func TestHandlerTable(t *testing.T) {
	for _, op := range api.Ops {
		if handlers[op] == nil {
			t.Errorf("operation %q has no handler", op)
		}
	}
	if len(handlers) != len(api.Ops) {
		t.Errorf("%d handlers for %d operations", len(handlers), len(api.Ops))
	}
}
