#!/usr/bin/env bash
# Set up everything on a fresh machine and run dockyard's main job.
#
# Set-up: the .venv virtualenv with dockyard, a Docker Engine, the local test images.
# Job:    the embedded backend and an agent; a sample run is submitted and followed to
#         its final state, with its output shown.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\n[demo] %s\n' "$*" >&2; }

say "setting up: virtualenv, Docker Engine, local images"
bash scripts/dev-install.sh
bash scripts/ensure-engine.sh
bash scripts/build-test-images.sh busybox

say "dockyard $(.venv/bin/dockyard --version | awk '{print $NF}') is installed; the Docker Engine answers:"
docker version --format '  engine {{.Server.Version}}, API {{.Server.APIVersion}}'
say "this version has no embedded backend or agent yet, so the main job stops here."
