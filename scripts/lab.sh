#!/usr/bin/env bash
# lab.sh plays one lab for a learner: phase by phase, the narration, each
# command, its real output, and a pass or fail for every check. Usage:
# bash scripts/lab.sh [--step] [NAME] (default: default-bridge). Run it as
# root; it installs what it needs first.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
step=()
if [ "${1:-}" = "--step" ]; then step=(--step); shift; fi
name=${1:-default-bridge}
if [ ! -f "$here/labs/$name.txtar" ]; then
  echo "lab.sh: no lab called '$name'. The labs are:" >&2
  (cd "$here/labs" && ls *.txtar | sed 's/\.txtar$//; s/^/  /') >&2
  exit 2
fi
bash "$here/scripts/provision.sh"
export PATH="/usr/local/go/bin:$PATH"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
# Static (no cgo): a process of the binary starts in about 4 ms less, and
# a lab starts it several times per command (engine/README.md). nslab-shim,
# beside it, is the small helper each container's init, log shim and exec
# run from (engine/shim).
(cd "$here" && CGO_ENABLED=0 go build -o "$bin/" ./engine/cmd/nslab ./engine/cmd/nslab-shim)
"$bin/nslab" lab run "${step[@]}" "$name"
