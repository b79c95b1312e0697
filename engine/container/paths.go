package container

// MaskedPaths is the paths a container that is not privileged finds masked,
// as inspect's HostConfig.MaskedPaths lists them.
func MaskedPaths() []string { return append([]string(nil), maskedPaths...) }

// ReadonlyPaths is the paths a container that is not privileged finds
// read-only, as inspect's HostConfig.ReadonlyPaths lists them.
func ReadonlyPaths() []string { return append([]string(nil), readonlyPaths...) }
