#!/usr/bin/env bash
# Build dockyard's local test images without any registry.
#
#   scripts/build-test-images.sh            # all images but dind
#   scripts/build-test-images.sh busybox    # only the named ones (busybox python registry prefect prefect-stub dind)
#
# dind (Docker-in-Docker: Debian's docker.io, for the multi-node Swarm tests) is built only
# when named: about two minutes of debootstrap, cached as a tarball like the Python rootfs.
#
# Idempotent: an image whose tag is already present is skipped. Every image is tagged
# under dockyard-test/ and carries the label org.dockyard.test-image=true, so
#   docker images --filter label=org.dockyard.test-image=true
# lists them and `docker rmi` of that list removes them.
set -euo pipefail

PREFIX="dockyard-test"
LABEL="org.dockyard.test-image=true"
CACHE="${DOCKYARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dockyard}"
HERE="$(cd "$(dirname "$0")" && pwd)"

BUSYBOX="$PREFIX/busybox:1"
PYTHON="$PREFIX/python:3.11"
REGISTRY="$PREFIX/registry:2"
PREFECT="$PREFIX/prefect:1.4.1"
PREFECT_STUB="$PREFIX/prefect-stub:1"
DIND="$PREFIX/dind:20.10"

say() { printf '[images] %s\n' "$*" >&2; }
have() { docker image inspect "$1" >/dev/null 2>&1; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
need_pkg() {  # need_pkg <file that must exist> <debian package>
  [ -e "$1" ] && return 0
  say "installing Debian package $2"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

scratch_dir() { local d; d="$(mktemp -d)"; echo "$d"; }

# docker build, quiet unless it fails (the CLI's builder notices are noise here).
quiet_build() {  # quiet_build <tag> <context>
  local out
  out="$(docker build -q -t "$1" "$2" 2>&1)" || { say "building $1 failed:"; printf '%s\n' "$out" >&2; exit 1; }
}

build_busybox() {
  have "$BUSYBOX" && { say "$BUSYBOX present"; return; }
  need_pkg /bin/busybox busybox-static
  local ctx; ctx="$(scratch_dir)"
  cp /bin/busybox "$ctx/busybox"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
LABEL $LABEL
CMD ["/bin/sh"]
DOCKERFILE
  quiet_build "$BUSYBOX" "$ctx"
  rm -rf "$ctx"
  say "built $BUSYBOX"
}

build_prefect_stub() {
  # A shell image whose `prefect` succeeds at once: what an agent benchmark needs.
  have "$PREFECT_STUB" && { say "$PREFECT_STUB present"; return; }
  build_busybox
  local ctx; ctx="$(scratch_dir)"
  printf '#!/bin/sh\nexit 0\n' >"$ctx/prefect"
  chmod +x "$ctx/prefect"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $BUSYBOX
COPY prefect /usr/local/bin/prefect
ENV PATH=/usr/local/bin:/bin
LABEL $LABEL
DOCKERFILE
  quiet_build "$PREFECT_STUB" "$ctx"
  rm -rf "$ctx"
  say "built $PREFECT_STUB"
}

build_python() {
  have "$PYTHON" && { say "$PYTHON present"; return; }
  need_pkg /usr/sbin/debootstrap debootstrap
  mkdir -p "$CACHE"
  local root="$CACHE/python-rootfs" tarball="$CACHE/python-rootfs.tar"
  if [ ! -s "$tarball" ]; then
    say "debootstrapping bookworm with python3 (about a minute)"
    as_root rm -rf "$root"
    as_root debootstrap --variant=minbase --include=python3 bookworm "$root" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 \
      || { say "debootstrap failed; see $CACHE/debootstrap.log"; tail -n 20 "$CACHE/debootstrap.log" >&2; exit 1; }
    as_root rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
    as_root tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    as_root rm -rf "$root"
  fi
  docker import --change "LABEL $LABEL" --change 'CMD ["/usr/bin/python3"]' \
    --change 'ENV LANG=C.UTF-8' "$tarball" "$PYTHON" >/dev/null
  say "built $PYTHON"
}

build_registry() {
  have "$REGISTRY" && { say "$REGISTRY present"; return; }
  need_pkg /usr/bin/docker-registry docker-registry
  local ctx; ctx="$(scratch_dir)"
  mkdir -p "$ctx/root/bin" "$ctx/root/etc/docker/registry" "$ctx/root/var/lib/registry" "$ctx/root/tmp"
  cp /usr/bin/docker-registry "$ctx/root/bin/registry"
  # The binary is dynamically linked: bring its libraries and loader along.
  ldd /usr/bin/docker-registry | grep -o '/[^ ]*' | sort -u | while read -r lib; do
    mkdir -p "$ctx/root$(dirname "$lib")"
    cp -L "$lib" "$ctx/root$lib"
  done
  cat >"$ctx/root/etc/docker/registry/config.yml" <<'YAML'
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
YAML
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY root/ /
EXPOSE 5000
LABEL $LABEL
ENTRYPOINT ["/bin/registry"]
CMD ["serve", "/etc/docker/registry/config.yml"]
DOCKERFILE
  quiet_build "$REGISTRY" "$ctx"
  rm -rf "$ctx"
  say "built $REGISTRY"
}

build_prefect() {
  have "$PREFECT" && { say "$PREFECT present"; return; }
  build_python
  local site="$CACHE/prefect-1.4.1-site"
  if [ ! -f "$site/.complete" ]; then
    say "installing prefect 1.4.1 for the image (host pip, --target)"
    rm -rf "$site"
    python3 -m pip install -q --no-compile --target "$site" "prefect==1.4.1" "marshmallow<3.24" \
      >"$CACHE/prefect-pip.log" 2>&1 || { say "pip failed; see $CACHE/prefect-pip.log"; tail -n 20 "$CACHE/prefect-pip.log" >&2; exit 1; }
    touch "$site/.complete"
  fi
  local ctx; ctx="$(scratch_dir)"
  cp -r "$site" "$ctx/site"
  rm -f "$ctx/site/.complete"
  rm -rf "$ctx/site/bin"
  cat >"$ctx/prefect" <<'LAUNCHER'
#!/usr/bin/python3
import sys

from prefect.cli import cli

sys.exit(cli())
LAUNCHER
  chmod +x "$ctx/prefect"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $PYTHON
COPY site/ /usr/local/lib/python3.11/dist-packages/
COPY prefect /usr/local/bin/prefect
LABEL $LABEL
DOCKERFILE
  quiet_build "$PREFECT" "$ctx"
  rm -rf "$ctx"
  say "built $PREFECT"
}

build_dind() {
  # Debian's Engine in a container: each one a node of a multi-node Swarm in the tests.
  have "$DIND" && { say "$DIND present"; return; }
  need_pkg /usr/sbin/debootstrap debootstrap
  mkdir -p "$CACHE"
  local root="$CACHE/dind-rootfs" tarball="$CACHE/dind-rootfs.tar"
  if [ ! -s "$tarball" ]; then
    say "debootstrapping bookworm with docker.io (about two minutes)"
    as_root rm -rf "$root"
    as_root debootstrap --variant=minbase --include=docker.io,iptables,ca-certificates,procps \
      bookworm "$root" http://deb.debian.org/debian >"$CACHE/debootstrap-dind.log" 2>&1 \
      || { say "debootstrap failed; see $CACHE/debootstrap-dind.log"; tail -n 20 "$CACHE/debootstrap-dind.log" >&2; exit 1; }
    as_root rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
    as_root tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    as_root rm -rf "$root"
  fi
  # Plain TCP on the container's own address (the tests publish it on 127.0.0.1 only);
  # --tls=false skips the start-up delay dockerd adds to warn about it.
  docker import --change "LABEL $LABEL" \
    --change 'CMD ["dockerd", "--host=unix:///var/run/docker.sock", "--host=tcp://0.0.0.0:2375", "--tls=false"]' \
    "$tarball" "$DIND" >/dev/null
  say "built $DIND"
}

# One build at a time on this machine: test fixtures may call us concurrently.
mkdir -p "$CACHE"
exec 9>"$CACHE/build.lock"
flock 9

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(busybox prefect-stub python registry prefect)
for t in "${targets[@]}"; do
  case "$t" in
    busybox) build_busybox ;;
    prefect-stub) build_prefect_stub ;;
    python) build_python ;;
    registry) build_registry ;;
    prefect) build_prefect ;;
    dind) build_dind ;;
    *) say "unknown image '$t' (known: busybox prefect-stub python registry prefect dind)"; exit 2 ;;
  esac
done
