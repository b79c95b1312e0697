#!/usr/bin/env bash
# mutate.sh is the labs' mutation check, run by .ci/run after the test command:
# it applies each mutant of scripts/mutants.txt (one curated break of the
# engine) to a temporary copy of the repository, builds the labs once per
# mutant and runs the labs the mutant names. It prints the lab that killed each
# mutant, or SURVIVED, then the score, and fails below 95%. The real tree is
# never modified. Run it as root from anywhere in the repository; arguments go
# to scripts/mutate (-only ID,ID runs some mutants, -check only checks that
# every snippet is still in the engine).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export PATH="/usr/local/go/bin:$PATH"
cd "$here"
exec go run ./scripts/mutate "$@"
