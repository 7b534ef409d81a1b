#!/usr/bin/env bash
# A private PostgreSQL cluster for the tests and benchmarks: Debian's postgresql package, a
# cluster of this checkout's own under /tmp, listening on a unix socket only (no port to
# collide with), trust authentication, durability off (test data is thrown away).
#
#   bash scripts/ensure-postgres.sh     # prints the cluster's URL, e.g.
#   postgresql://postgres@/postgres?host=/tmp/dockyard-pg-0123456789
#
# Idempotent: installs, initialises and starts only what is missing; a running cluster
# costs a status check. PostgreSQL refuses to run as root, so as root the cluster belongs
# to (and runs as) the `postgres` user the package creates. DOCKYARD_PG_DIR overrides the
# directory.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[postgres] %s\n' "$*" >&2; }

key=$(pwd | sha1sum | cut -c1-10)
dir="${DOCKYARD_PG_DIR:-/tmp/dockyard-pg-$key}"
data="$dir/data"

find_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
bindir=$(find_bindir)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  say "installing Debian's postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # The package's own cluster is not used; policy-rc.d or no init system may keep it down.
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  bindir=$(find_bindir)
fi
version=$(basename "$(dirname "$bindir")")

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

mkdir -p "$dir"
if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; fi
chmod 700 "$dir"

exec 9>"$dir.lock"
flock 9  # one initdb / start at a time, however many test sessions ask

if [ -f "$data/PG_VERSION" ] && [ "$(cat "$data/PG_VERSION")" != "$version" ]; then
  say "the cluster in $data is of PostgreSQL $(cat "$data/PG_VERSION"), not $version: making a new one"
  as_owner "$bindir/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$data"
fi

if [ ! -f "$data/PG_VERSION" ]; then
  say "initialising a PostgreSQL $version cluster in $data"
  as_owner "$bindir/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
  cat >>"$data/postgresql.conf" <<CONF
# dockyard's test cluster: a unix socket only, no durability (the data is thrown away)
listen_addresses = ''
unix_socket_directories = '$dir'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
fi

if ! as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  say "starting PostgreSQL $version on $dir"
  # The server outlives this script: it must inherit none of its descriptors (the lock,
  # or a pipe of whatever runs the script, which would then wait for it forever).
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec </dev/null >/dev/null
    as_owner "$bindir/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 start
  ) || { tail -n 30 "$dir/server.log" >&2; exit 1; }
fi

echo "postgresql://postgres@/postgres?host=$dir"
