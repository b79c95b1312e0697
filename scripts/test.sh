#!/usr/bin/env bash
# test.sh is the README's test command: it provisions the machine, then
# vets and lints it (scripts/lint.sh: tidy modules, gofmt, staticcheck, no
# dead code), and runs the tests, labs included, with the race detector (two
# after, without it; see below). Run it as root from anywhere in
# the repository.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/scripts/provision.sh"
export PATH="/usr/local/go/bin:$PATH"
cd "$here"
go vet ./...
bash "$here/scripts/lint.sh"
# The labs wait on packets, processes and DNS as much as they compute, so
# they run more lab hosts at once than there are cores (-parallel). Two
# tests run after, without -race: the player test plays every lab again
# through the CLI, engine code TestLabs already runs under the race
# detector; TestResourcesReturn (500 containers through one daemon) checks
# the daemon's memory, which a race-enabled daemon never gives back. Built
# without cgo, the binary is static and starts faster (engine/README.md);
# -race needs cgo.
go test -race -count=1 -timeout 25m -parallel 6 -skip '^(TestPlayerPlaysEveryLab|TestResourcesReturn)$' ./...
# -trimpath matches scripts/mutate's build, so the mutation check in .ci/run
# finds these packages in the build cache instead of compiling them again in
# its copies of the tree (about 2.5 minutes on a slow 2-core VM).
CGO_ENABLED=0 go test -trimpath -count=1 -timeout 10m -run '^(TestPlayerPlaysEveryLab|TestResourcesReturn)$' ./labs/
