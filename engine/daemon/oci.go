package daemon

import "fmt"

// ociStartError words a failure to start a container's process as Docker
// v24's daemon does (containerd's shim over runc), so the CLI gives it
// Docker's exit status: 127 when the command is not found.
//
//	failed to create shim task: OCI runtime create failed: runc create failed:
//	unable to start container process: exec: "nope": executable file not
//	found in $PATH: unknown
func ociStartError(err error) error {
	return fmt.Errorf("failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: %w: unknown", err)
}
