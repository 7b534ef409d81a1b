#!/usr/bin/env bash
# The whole check, as CI runs it: engine -> venv and install -> PostgreSQL -> images -> ruff -> mypy
# -> pytest.
#
#   bash scripts/test.sh                 # everything
#   bash scripts/test.sh tests/unit -x   # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { printf '\n=== %s (%ss)\n' "$*" "$(( $(date +%s) - start ))" >&2; }

step "Docker Engine"
bash scripts/ensure-engine.sh

step "virtualenv and install"
bash scripts/dev-install.sh

step "PostgreSQL for the store, e2e and compat tests"
bash scripts/ensure-postgres.sh >/dev/null

step "local test images"
bash scripts/build-test-images.sh

step "Prefect 1.4.1 reference venv"
bash scripts/prefect-venv.sh

step "Chromium for the dashboard's browser tests"
bash scripts/ensure-browser.sh

step "ruff"
.venv/bin/ruff check --output-format concise .
.venv/bin/ruff format --check .

step "mypy --strict"
# The strict editable install's link tree is what mypy reads as the `dockyard` package.
MYPYPATH="$(ls -d build/__editable__.*)" .venv/bin/mypy -p dockyard

step "pytest"
export TESTCONTAINERS_RYUK_DISABLED=true
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1  # Playwright drives Debian's chromium, never its own
# The multi-node Swarm tests (Docker-in-Docker nodes: about 4 minutes, and 2 more the first
# time to build their image) run when asked: DOCKYARD_MULTINODE=1. A later -m wins.
markers=(-m "not multinode")
if [ "${DOCKYARD_MULTINODE:-}" = "1" ]; then markers=(); fi
# Most of the suite's time is spent waiting on real processes and containers, so it runs on
# several workers (pytest-xdist), a file's tests on one of them (see tests/conftest.py).
# DOCKYARD_TEST_WORKERS=0 runs everything in this one process.
workers=(-n "${DOCKYARD_TEST_WORKERS:-3}" --dist loadgroup)
.venv/bin/python -m pytest "${workers[@]}" "${markers[@]}" "$@"

step "done"
