#!/usr/bin/env bash
# Set up everything on a fresh machine and run dockyard's main job.
#
# Set-up: the .venv virtualenv with dockyard, a Docker Engine, the local busybox image.
# Job:    the embedded backend (`dockyard server start`) and an agent (`dockyard agent
#         start`); two sample runs are submitted with `dockyard run create` and followed
#         to their final states — one succeeds, one fails with exit code 3 — and their
#         states, messages and output are shown. Everything is stopped and removed after.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\n\033[1m[demo] %s\033[0m\n' "$*" >&2; }

say "setting up: virtualenv, Docker Engine, local image"
bash scripts/dev-install.sh
bash scripts/ensure-engine.sh
bash scripts/build-test-images.sh busybox

DY=.venv/bin/dockyard
WORK="$(mktemp -d)"
PORT="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
API="http://127.0.0.1:$PORT"
LABEL="demo-$$"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  docker rm -f $(docker ps -aq --filter "label=org.dockyard.agent=$LABEL") >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

say "starting the embedded backend on $API (database in $WORK)"
"$DY" server start --port "$PORT" --db "$WORK/dockyard.db" >"$WORK/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -fs "$API/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "$API/health" >/dev/null || { cat "$WORK/server.log"; exit 1; }

say "starting an agent serving label '$LABEL' (its log: $WORK/agent.log)"
"$DY" agent start --api "$API" --name "$LABEL" --label "$LABEL" --no-pull >"$WORK/agent.log" 2>&1 &
pids+=($!)

say "submitting two runs"
ok=$("$DY" run create --api "$API" --json --image dockyard-test/busybox:1 --label "$LABEL" --name hello-dockyard \
      --command 'echo "hello from a dockyard run"; echo "running in container $(hostname) on $(uname -sr)"' \
      | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["id"])')
bad=$("$DY" run create --api "$API" --json --image dockyard-test/busybox:1 --label "$LABEL" --name doomed-run \
      --command 'echo "this run is about to fail"; exit 3' \
      | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "  $ok  (should succeed)"
echo "  $bad  (should fail with exit code 3)"

say "following them to their final states"
for run in "$ok" "$bad"; do
  for _ in $(seq 1 120); do
    state=$("$DY" run show "$run" --api "$API" --json | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["state"])')
    case "$state" in Success|Failed|Cancelled) break ;; esac
    sleep 0.5
  done
  echo "  $run: $state"
done

for run in "$ok" "$bad"; do
  say "dockyard run show $run"
  "$DY" run show "$run" --api "$API"
  say "dockyard run logs $run"
  "$DY" run logs "$run" --api "$API"
done

left=$(docker ps -aq --filter "label=org.dockyard.agent=$LABEL" | wc -l)
say "containers left behind by the agent: $left"
say "done: the agent and server stop now; the log files are removed with $WORK"
