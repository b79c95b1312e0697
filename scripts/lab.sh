#!/usr/bin/env bash
# lab.sh runs one lab and shows it phase by phase: the narration, each
# command, its real output and every check. Usage: bash scripts/lab.sh NAME
# (default: default-bridge). Run it as root.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
name=${1:-default-bridge}
if [ ! -f "$here/labs/$name.txtar" ]; then
  echo "lab.sh: no lab called '$name'. The labs are:" >&2
  (cd "$here/labs" && ls *.txtar | sed 's/\.txtar$//; s/^/  /') >&2
  exit 2
fi
bash "$here/scripts/provision.sh"
export PATH="/usr/local/go/bin:$PATH"
cd "$here"
go test -count=1 -run "TestLabs/^${name}\$" -v ./labs/
