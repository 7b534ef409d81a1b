#!/usr/bin/env bash
# The reference peer: Prefect 1.4.1 in its own virtualenv at .venv-prefect, for the
# compatibility tests and the benchmarks. Idempotent.
#
# marshmallow 4 breaks prefect 1.4.1's state serialisation, hence the pin.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
say() { printf '[prefect-venv] %s\n' "$*" >&2; }

if .venv-prefect/bin/python -c 'import prefect, sys; sys.exit(prefect.__version__ != "1.4.1")' 2>/dev/null; then
  say "prefect 1.4.1 present in .venv-prefect"
  exit 0
fi
say "creating .venv-prefect with prefect==1.4.1"
rm -rf .venv-prefect
"$PY" -m venv .venv-prefect
.venv-prefect/bin/python -m pip install -q "prefect==1.4.1" "marshmallow<3.24" >.venv-prefect/install.log 2>&1 \
  || { tail -n 20 .venv-prefect/install.log >&2; exit 1; }
say "$(.venv-prefect/bin/prefect version) ready"
