#!/usr/bin/env bash
# Create (or refresh) the development virtualenv at .venv and install dockyard into it.
#
# dockyard's import package maps top-level folders onto the `dockyard` namespace, so the
# install is a *strict* editable one: a link tree under build/ that mypy can read as well.
# Re-run after adding or renaming a module (the link tree lists files, not folders).
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1  # the browser tests use Debian's chromium
say() { printf '[venv] %s\n' "$*" >&2; }

if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $($PY --version 2>&1)"
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi

stamp=.venv/.dockyard-deps
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installing dockyard with its dev extras"
  .venv/bin/python -m pip install -q -e '.[dev]' --config-settings editable_mode=strict 2>build-install.log \
    || { cat build-install.log >&2; exit 1; }
  touch "$stamp"
else
  # Dependencies are current; only rebuild the link tree (fast).
  rm -rf build/__editable__.*
  .venv/bin/python -m pip install -q --no-deps -e . --config-settings editable_mode=strict 2>build-install.log \
    || { cat build-install.log >&2; exit 1; }
fi
rm -f build-install.log
say "dockyard $(.venv/bin/dockyard --version | awk '{print $NF}') installed in .venv"
