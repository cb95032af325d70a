#!/usr/bin/env bash
# One command: install everything (venv, the SDK's npm packages for /sdk, /demo and /docs,
# pinned models) and serve faceproof on the embedded defaults
# (SQLite ledger and key store under ./var, models under ./var/models, http://127.0.0.1:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
exec .venv/bin/faceproof serve "$@"
