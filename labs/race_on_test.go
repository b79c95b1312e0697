//go:build race

package labs_test

// raceBuild: the daemon is this race-enabled binary, whose shadow memory
// the runtime does not return.
const raceBuild = true
