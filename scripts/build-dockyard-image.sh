#!/usr/bin/env bash
# Build a dockyard image on the local daemon, without a registry and without network inside
# the build: the dockyard wheel is built from this checkout, its dependencies (and pip) are
# downloaded from PyPI on the host into a wheelhouse, and deploy/container/Dockerfile
# installs them into the local dockyard-test/python:3.11 image.
#
#   scripts/build-dockyard-image.sh                      # tags dockyard:local
#   scripts/build-dockyard-image.sh TAG [docker build options...]
#
# DOCKYARD_IMAGE_BASE names another base image with Python 3.11 (and /bin/sh).
set -euo pipefail
cd "$(dirname "$0")/.."

TAG="${1:-dockyard:local}"
shift || true
BASE="${DOCKYARD_IMAGE_BASE:-dockyard-test/python:3.11}"
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] && PY=.venv/bin/python
say() { printf '[image] %s\n' "$*" >&2; }
quietly() {  # quietly <command...>: its output only if it fails
  local out
  out="$("$@" 2>&1)" || { printf '%s\n' "$out" >&2; return 1; }
}

if [ "$BASE" = "dockyard-test/python:3.11" ]; then
  bash scripts/build-test-images.sh python
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src" "$work/context/wheels"

# The checkout as it is (committed or not, ignored files left out), built outside the tree.
git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - | tar -xf - -C "$work/src"
say "building the dockyard wheel"
quietly "$PY" -m pip wheel --quiet --no-deps --wheel-dir "$work/context/wheels" "$work/src"

# Its dependencies and pip, as wheels for the image's Python (3.11 on Linux), whatever the host's.
say "downloading its dependencies into the wheelhouse"
machine="$(uname -m)"
quietly "$PY" -m pip download --quiet --dest "$work/context/wheels" --only-binary=:all: \
  --python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none \
  --platform "manylinux2014_$machine" --platform "manylinux_2_28_$machine" --platform any \
  "$work"/context/wheels/dockyard-*.whl pip

cp deploy/container/Dockerfile "$work/context/Dockerfile"
say "building $TAG from $BASE"
quietly docker build --quiet --force-rm --build-arg "BASE=$BASE" --tag "$TAG" "$@" "$work/context"
say "built $TAG ($(docker image inspect --format '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}'))"
