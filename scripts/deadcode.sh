#!/usr/bin/env bash
# Dead-code check: names defined but never used anywhere in src, tests, bench or tools
# (vulture, a dev dependency). Real entry points that only a framework calls are listed in
# tools/vulture_whitelist.py. Prints nothing and exits 0 when there is nothing to look at.
#   scripts/deadcode.sh                   the check
#   scripts/deadcode.sh --make-whitelist  the current findings in whitelist form
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/vulture src/faceproof tests bench tools --min-confidence 60 "$@"
