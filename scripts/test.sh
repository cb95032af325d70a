#!/usr/bin/env bash
# One command: install everything (with test tools) and run the whole suite:
# ruff, mypy and pytest (server, models, crypto, ledger; browser tests once the SDK exists).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --dev
export FACEPROOF_MODEL_DIR="${FACEPROOF_MODEL_DIR:-$PWD/var/models}"
.venv/bin/ruff check src tests bench
.venv/bin/mypy
.venv/bin/pytest -q "$@"
