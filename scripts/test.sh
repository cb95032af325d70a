#!/usr/bin/env bash
# One command: install everything (with test tools) and run the whole suite:
# ruff, mypy, the SDK's node unit tests and pytest (server, models, crypto, ledger, and the
# end-to-end tests in Debian's Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --dev
export FACEPROOF_MODEL_DIR="${FACEPROOF_MODEL_DIR:-$PWD/var/models}"
.venv/bin/ruff check src tests bench
.venv/bin/mypy
node --test sdk/test/unit/  # the SDK's unit tests (pure parts: options, colours, envelope…)
.venv/bin/pytest -q "$@"    # includes the browser end-to-end tests (tests/test_browser_e2e.py)
