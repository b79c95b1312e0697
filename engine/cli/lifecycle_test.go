package cli

import (
	"testing"

	"github.com/nslab/nslab/engine/api"
)

// What Docker's CLI 20.10.24 refuses itself, before the daemon sees the run.
func TestCheckLifecycleFlags(t *testing.T) {
	for _, tc := range []struct {
		o    api.RunOptions
		want string
	}{
		{api.RunOptions{Restart: "on-failure:x"}, "invalid restart policy format: maximum retry count must be an integer"},
		{api.RunOptions{Restart: "a:b:c"}, "invalid restart policy format: maximum retry count must be an integer"},
		{api.RunOptions{Restart: "always", AutoRemove: true}, "conflicting options: cannot specify both --restart and --rm"},
		{api.RunOptions{Restart: "no", AutoRemove: true}, ""},
		{api.RunOptions{Restart: "on-failure:3"}, ""},
		{api.RunOptions{Restart: "bogus"}, ""}, // the daemon's to refuse
	} {
		got := ""
		if err := checkLifecycleFlags(tc.o); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("checkLifecycleFlags(%+v) = %q, want %q", tc.o, got, tc.want)
		}
	}
}

// Docker's CLI refuses a malformed -p or --expose itself, with these words.
func TestCheckRunFlagsPorts(t *testing.T) {
	for _, tc := range []struct {
		o    api.RunOptions
		want string
	}{
		{api.RunOptions{Publish: []string{"8080:abc"}}, "invalid containerPort: abc"},
		{api.RunOptions{Publish: []string{"99999:80"}}, "invalid hostPort: 99999"},
		{api.RunOptions{Publish: []string{"8080:80/sctpx"}}, "invalid proto: sctpx"},
		{api.RunOptions{Expose: []string{"80:90"}}, "invalid port format for --expose: 80:90"},
		{api.RunOptions{Publish: []string{"8080:80", "127.0.0.1:8081:80/udp"}, Expose: []string{"443"}}, ""},
	} {
		got := ""
		if err := checkRunFlags(tc.o); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("checkRunFlags(%+v) = %q, want %q", tc.o, got, tc.want)
		}
	}
}
