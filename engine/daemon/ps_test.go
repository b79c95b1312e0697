package daemon

import (
	"errors"
	"testing"
)

// COMMAND as Docker's daemon builds it: arguments holding a space in single
// quotes, the path never.
func TestPsCommand(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{nil, ""},
		{[]string{"sleep", "3600"}, "sleep 3600"},
		{[]string{"sh", "-c", "exit 3"}, "sh -c 'exit 3'"},
		{[]string{"/docker/entrypoint.sh", "nginx", "-g", "daemon off;"}, "/docker/entrypoint.sh nginx -g 'daemon off;'"},
		{[]string{"/my prog", "a"}, "/my prog a"},
	} {
		if got := psCommand(tc.argv); got != tc.want {
			t.Errorf("psCommand(%q) = %q, want %q", tc.argv, got, tc.want)
		}
	}
}

func TestOCIStartError(t *testing.T) {
	err := ociStartError(errors.New(`exec: "nope": executable file not found in $PATH`))
	want := `failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "nope": executable file not found in $PATH: unknown`
	if err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
}
