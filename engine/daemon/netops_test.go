package daemon

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/nslab/nslab/engine/api"
)

// TestCreateNetworkRefusals checks the refusals that happen before any
// kernel object is made, each with Docker's message where Docker has one.
// The labs check the same refusals end to end and that nothing changed.
func TestCreateNetworkRefusals(t *testing.T) {
	lan := &Network{ID: strings.Repeat("a", 64), Name: "lan", Driver: "bridge", Subnet: netip.MustParsePrefix("10.10.0.0/24")}
	d := &Daemon{networks: map[string]*Network{lan.ID: lan}}
	icc := "com.docker.network.bridge.enable_icc"
	masq := "com.docker.network.bridge.enable_ip_masquerade"
	for _, tc := range []struct {
		req  api.NetworkCreate
		want string
	}{
		{api.NetworkCreate{Name: "x", Options: map[string]string{icc: "maybe"}},
			`failed to parse com.docker.network.bridge.enable_icc value: maybe (strconv.ParseBool: parsing "maybe": invalid syntax)`},
		{api.NetworkCreate{Name: "x", Options: map[string]string{masq: "no"}},
			`failed to parse com.docker.network.bridge.enable_ip_masquerade value: no (strconv.ParseBool: parsing "no": invalid syntax)`},
		{api.NetworkCreate{Name: "default"}, "operation is not permitted on predefined default network "},
		{api.NetworkCreate{Name: "bridge"}, "operation is not permitted on predefined bridge network "},
		{api.NetworkCreate{Name: "container:web"}, `invalid network name "container:web": it is reserved`},
		{api.NetworkCreate{Name: "a\nb"}, `invalid network name "a\nb": it contains a control character`},
		{api.NetworkCreate{Name: "x", Subnet: "300.1.0.0/16"}, "Invalid subnet 300.1.0.0/16 : invalid CIDR address: 300.1.0.0/16"},
		{api.NetworkCreate{Name: "x", Subnet: "10.10.0.128/25"}, "Pool overlaps with other one on this address space"},
		{api.NetworkCreate{Name: "x", Subnet: "10.125.0.0/16", Gateway: "10.126.0.1"}, "no matching subnet for gateway 10.126.0.1"},
		{api.NetworkCreate{Name: "x", Gateway: "10.126.0.1"}, "every ip-range or gateway must have a corresponding subnet"},
		{api.NetworkCreate{Name: "x", Subnet: "127.0.0.0/8"}, "invalid subnet 127.0.0.0/8: it overlaps 127.0.0.0/8, loopback"},
		{api.NetworkCreate{Name: "x", Subnet: "0.0.0.0/8"}, "invalid subnet 0.0.0.0/8: it overlaps 0.0.0.0/8"},
		{api.NetworkCreate{Name: "x", Subnet: "255.255.255.0/24"}, "it overlaps 255.255.255.255/32, the limited broadcast address"},
		{api.NetworkCreate{Name: "x", Subnet: "198.51.100.0/24"}, "invalid subnet 198.51.100.0/24: it overlaps 198.51.100.0/24, the lab host's uplink"},
		{api.NetworkCreate{Name: "x", Subnet: "203.0.113.0/24"}, "invalid subnet 203.0.113.0/24: it overlaps 203.0.113.0/24, the outside's servers"},
	} {
		n, err := d.createNetwork(tc.req)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("createNetwork(%+v) = %v, %v; want an error containing %q", tc.req, n, err, tc.want)
		}
	}
	if len(d.networks) != 1 {
		t.Errorf("a refused create changed the networks: %d of them", len(d.networks))
	}
}

func TestBoolOptionParsesAsDocker(t *testing.T) {
	for v, want := range map[string]bool{"0": false, "f": false, "False": false, "false": false, "1": true, "t": true, "TRUE": true} {
		n := &Network{Options: map[string]string{optICC: v}}
		if got := n.boolOption(optICC); got != want {
			t.Errorf("enable_icc=%s means %v, want %v", v, got, want)
		}
	}
	if !(&Network{Options: map[string]string{}}).boolOption(optICC) {
		t.Error("an unset enable_icc must mean true")
	}
}

func TestNetworkEmptyName(t *testing.T) {
	d := &Daemon{networks: map[string]*Network{"1": {ID: "1", Name: "a"}, "2": {ID: "2", Name: "b"}}}
	if _, err := d.network(""); err == nil || !strings.Contains(err.Error(), "the network name is empty") {
		t.Errorf(`network("") = %v, want an error saying the name is empty`, err)
	}
}
