package shim_test

import (
	"testing"

	"github.com/nslab/nslab/engine/labhost"
	"github.com/nslab/nslab/engine/shim"
)

func TestMarkerIsLabHosts(t *testing.T) {
	if shim.LabHostMarker != labhost.MarkerFile {
		t.Fatalf("nslab-shim checks %s for a lab host, labhost writes %s: the helper would refuse to run in one, or run outside", shim.LabHostMarker, labhost.MarkerFile)
	}
}
