#!/usr/bin/env bash
# Make sure Debian's headless-capable Chromium is installed, for the dashboard's browser tests.
#
# Idempotent: if a chromium binary answers `--version`, nothing happens. Otherwise Debian's
# `chromium` package is installed with apt-get. The tests drive it with Playwright through
# its executable path; no browser is ever downloaded by Playwright itself
# (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1). Prints the binary's path and version.
set -euo pipefail

say() { printf '[browser] %s\n' "$*" >&2; }

find_chromium() {
  local candidate
  for candidate in "${DOCKYARD_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then printf '%s\n' "$candidate"; return 0; fi
  done
  return 1
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    say "need root to run: $*"; return 1; fi
}

if binary=$(find_chromium) && "$binary" --version >/dev/null 2>&1; then
  say "$("$binary" --version) at $binary; nothing to do"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  say "no apt-get on this machine: install Chromium yourself (or set DOCKYARD_CHROMIUM), then re-run"
  exit 1
fi
say "installing Debian's chromium"
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
binary=$(find_chromium) || { say "chromium was installed but no binary was found"; exit 1; }
say "$("$binary" --version) installed at $binary"
