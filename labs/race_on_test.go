//go:build race

package labs_test

import "os"

// raceBuild: the daemon is this race-enabled binary, whose shadow memory
// the runtime does not return.
const raceBuild = true

// A race-enabled program sleeps a second before it exits (the race
// runtime's atexit_sleep_ms, 1000 by default), to let other threads
// report. Every docker and nslab command of a lab was this binary once, and
// the labs spent most of their time asleep: 762 commands, 762 seconds. The
// commands now run an nslab built without -race (cliDir, labs_test.go),
// but the daemon, docker-proxy and the supervisors are still this binary.
// A race is still reported, and fails its process (exit status 66) and the
// lab.
func init() {
	if os.Getenv("GORACE") == "" {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
}
