//go:build race

package labs_test

import "os"

// raceBuild: the daemon is this race-enabled binary, whose shadow memory
// the runtime does not return.
const raceBuild = true

// A race-enabled program sleeps a second before it exits (the race
// runtime's atexit_sleep_ms, 1000 by default), to let other threads
// report. Every docker and nslab command of a lab is this binary, so the
// labs spent most of their time asleep: 762 commands, 762 seconds. A race
// is still reported, and fails the command (exit status 66) and its lab.
func init() {
	if os.Getenv("GORACE") == "" {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
}
