package labs

import (
	"fmt"
	"os"
	"path"
	"sync"

	"github.com/nslab/nslab/engine/labhost"
	"github.com/rogpeppe/go-internal/testscript"
)

// Script is what Params' Setup gives a running script: its lab host, and a
// Close that removes it. Close is safe to call more than once and from any
// goroutine (the lab player calls it from its signal handler too); every
// call returns after the lab host is gone.
type Script struct {
	Host  *labhost.Host
	Close func()
}

type scriptKey struct{}

// ScriptOf returns what Params' Setup stored for the running script, or nil
// before the lab host has started.
func ScriptOf(env *testscript.Env) *Script {
	s, _ := env.Values[scriptKey{}].(*Script)
	return s
}

// Params is the testscript configuration shared by `go test` (TestLabs) and
// the lab player (`nslab lab run` and `lab check`): one fresh lab host per
// script, torn down even when the script fails, so a lab plays the same in
// both. Callers add their own checks by wrapping Setup and deferring them
// after it: env.Defer runs in reverse order, so they run while the lab host
// is still up.
func Params() testscript.Params {
	return testscript.Params{
		Dir:                 ".",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       os.Getenv("NSLAB_UPDATE") != "",
		Condition:           Condition,
		Setup: func(env *testscript.Env) error {
			h, err := labhost.Start(labhost.Options{Stderr: os.Stderr, Nodes: nodesOf(env)})
			if err != nil {
				return fmt.Errorf("start lab host: %w", err)
			}
			s := &Script{Host: h, Close: sync.OnceFunc(func() { h.Close() })}
			env.Defer(s.Close)
			env.Values[scriptKey{}] = s
			env.Setenv(labhost.EnvHost, h.Env())
			// testscript gives a script a fresh environment; a
			// race-enabled run's options must reach its commands
			// (labs/race_on_test.go).
			if v := os.Getenv("GORACE"); v != "" {
				env.Setenv("GORACE", v)
			}
			return nil
		},
	}
}

// nodesOf is how many nodes the running script's sandbox has: its
// header's "# nodes: N", found through the test's name (TestLabs/NAME), or
// a player's T that knows its script (Nodes). 0: one lab host.
func nodesOf(env *testscript.Env) int {
	switch t := env.T().(type) {
	case interface{ Nodes() int }:
		return t.Nodes()
	case interface{ Name() string }:
		if l, err := Get(path.Base(t.Name())); err == nil {
			return l.Nodes
		}
	}
	return 0
}
