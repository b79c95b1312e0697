#!/usr/bin/env bash
# lint.sh holds the checks CI runs beside the tests: tidy modules, staticcheck
# and no dead code. The tools come from the Go module proxy at pinned versions
# (go run pkg@version), so every machine runs the same checks.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export PATH="/usr/local/go/bin:$PATH"
cd "$here"

staticcheck=honnef.co/go/tools/cmd/staticcheck@v0.8.2
deadcode=golang.org/x/tools/cmd/deadcode@v0.52.0

echo "lint: go mod tidy -diff"
go mod tidy -diff

echo "lint: gofmt"
unformatted=$(gofmt -l engine labs ci scripts)
if [ -n "$unformatted" ]; then
  echo "lint: not gofmt'ed:" $unformatted >&2
  exit 1
fi

echo "lint: $staticcheck"
go run "$staticcheck" ./...

# -test: code that only a test reaches (labs.Index writes labs/README.md
# from the tests) is alive; anything nothing reaches is not.
echo "lint: $deadcode"
dead=$(go run "$deadcode" -test ./...)
if [ -n "$dead" ]; then
  echo "lint: unreachable code (remove it, or use it):" >&2
  echo "$dead" >&2
  exit 1
fi
echo "lint: ok"
