// Package ci has no code of its own. Its test checks that the three ways of running
// nslab agree: the bare machine (.ci/run), the Vagrant VM (Vagrantfile) and the Lima VM
// (ci/lima/nslab.yaml) run the same scripts under scripts/, get Go only through
// scripts/provision.sh (so at the version go.mod pins), run the README's test command,
// and find the repository at the same path. See ci/README.md.
package ci
