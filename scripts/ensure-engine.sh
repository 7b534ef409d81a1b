#!/usr/bin/env bash
# Make sure a Docker Engine answers on the default socket.
#
# Idempotent: if `docker info` already succeeds, nothing happens. Otherwise Debian's
# docker.io package is installed (when dockerd is missing) and dockerd is started in
# the background; we wait, bounded, until it answers. Exits non-zero with a clear
# message when no engine can be brought up.
set -euo pipefail

WAIT_SECONDS="${DOCKYARD_ENGINE_WAIT:-60}"
LOG="${DOCKYARD_ENGINE_LOG:-/var/log/dockyard-dockerd.log}"

say() { printf '[engine] %s\n' "$*" >&2; }

if docker info >/dev/null 2>&1; then
  say "a Docker Engine already answers; nothing to do"
  exit 0
fi

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    say "need root to run: $*"; return 1; fi
}

if ! command -v dockerd >/dev/null 2>&1; then
  say "dockerd not found; installing Debian's docker.io"
  if ! command -v apt-get >/dev/null 2>&1; then
    say "no apt-get on this machine: install a Docker Engine yourself, then re-run"; exit 1
  fi
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  say "starting dockerd (log: $LOG)"
  as_root sh -c "nohup dockerd >>'$LOG' 2>&1 &"
fi

deadline=$(( $(date +%s) + WAIT_SECONDS ))
until docker info >/dev/null 2>&1; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    say "dockerd did not answer within ${WAIT_SECONDS}s; last lines of $LOG:"
    tail -n 20 "$LOG" >&2 || true
    exit 1
  fi
  sleep 0.5
done
say "Docker Engine $(docker version --format '{{.Server.Version}}') is up"
