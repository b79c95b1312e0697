#!/usr/bin/env bash
# test.sh is the README's test command: it provisions the machine, then
# vets and lints it (scripts/lint.sh: tidy modules, gofmt, staticcheck, no
# dead code), and runs every test, labs included, with the race detector. Run it
# as root from anywhere in the repository.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/scripts/provision.sh"
export PATH="/usr/local/go/bin:$PATH"
cd "$here"
go vet ./...
bash "$here/scripts/lint.sh"
go test -race -count=1 -timeout 20m ./...
