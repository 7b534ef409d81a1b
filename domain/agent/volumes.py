"""Volume specs (``--volume``, a run's ``binds``) read the way the daemon's host reads them.

``external:internal[:mode]``: ``external`` is a host path (a bind) or a volume name, and
the rules for telling them apart follow the daemon's OS (``host_os``), not the agent's.
Prefect 1's results hold for every spec it handled correctly; where it did not, dockyard
does better, and each such place says so below:

- a relative host path (``./data``, ``data/x``) is a bind of that path resolved against the
  agent's working directory, not a named volume (Prefect made ``./x`` the volume ``x``);
- ``~`` and ``~/x`` expand to the agent's home directory; ``~user`` is refused;
- the mode is checked against what Docker accepts: ``ro``/``rw`` (at most one), ``z``/``Z``,
  propagation (binds only), ``nocopy`` (volumes only), ``consistent``/``cached``/``delegated``,
  comma-combined, on both hosts (Prefect passed anything on Unix and only ro/rw on Windows);
- a named volume may be ``ro`` (Docker allows it; Prefect refused);
- volume names follow Docker's ``[a-zA-Z0-9][a-zA-Z0-9_.-]+``;
- one host path may be mounted at several container paths; a container path only once;
- an empty spec, a lone volume name, ``C:`` and a relative container path are refused.
"""

from __future__ import annotations

import ntpath
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from dockyard.domain.errors import InvalidVolumeSpec

VOLUME_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
_MODE_GROUPS = (
    frozenset({"rw", "ro"}),
    frozenset({"z", "Z"}),
    frozenset({"shared", "rshared", "slave", "rslave", "private", "rprivate"}),
    frozenset({"nocopy"}),
    frozenset({"consistent", "cached", "delegated"}),
)
_PROPAGATION, _COPY = _MODE_GROUPS[2], _MODE_GROUPS[3]
_DRIVE_PATH = re.compile(r"[A-Za-z]:[\\/]")
_DOCKER_DESKTOP_SOCKET = "//var/run/docker.sock"


@dataclass(frozen=True)
class Mount:
    source: str  # absolute host path, or a volume name when ``named``
    target: str  # absolute container path
    mode: str = "rw"
    named: bool = False
    # The text it was read from (to read it again for another host OS); not what it is.
    spec: str = field(default="", compare=False)

    @property
    def bind(self) -> str:
        """The Engine API ``HostConfig.Binds`` entry."""
        return f"{self.source}:{self.target}:{self.mode}"


def parse_volume_specs(
    specs: Iterable[str],
    *,
    host_os: str = "linux",
    working_dir: str | None = None,
    home_dir: str | None = None,
) -> tuple[Mount, ...]:
    mounts = tuple(
        parse_volume_spec(spec, host_os=host_os, working_dir=working_dir, home_dir=home_dir) for spec in specs
    )
    check_distinct_targets(mounts)
    return mounts


def check_distinct_targets(mounts: Iterable[Mount]) -> None:
    seen: set[str] = set()
    for mount in mounts:
        if mount.target in seen:
            raise InvalidVolumeSpec(f"container path {mount.target} is mounted more than once")
        seen.add(mount.target)


def named_volumes(mounts: Iterable[Mount]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m.source for m in mounts if m.named))


def parse_volume_spec(
    spec: str, *, host_os: str = "linux", working_dir: str | None = None, home_dir: str | None = None
) -> Mount:
    """One spec as a ``Mount``; ``InvalidVolumeSpec`` (a ``ConfigurationError``) otherwise."""
    text = spec.strip() if isinstance(spec, str) else ""
    if not text:
        raise InvalidVolumeSpec("empty volume spec")
    windows = host_os == "windows"
    external, internal, mode = (_split_windows if windows else _split_unix)(text)
    if windows and external == _DOCKER_DESKTOP_SOCKET:  # Docker Desktop's socket, named as the VM sees it
        source, named = external, False
    else:
        source, named = _host_side(external, text, windows, working_dir, home_dir)
    if internal is None:
        if named:
            raise InvalidVolumeSpec(
                f"volume spec {text!r}: a named volume needs a container path (NAME:/path)"
            )
        internal = _drive_to_posix(source) if windows and _DRIVE_PATH.match(source) else source
    if not internal.startswith("/"):
        raise InvalidVolumeSpec(f"volume spec {text!r}: container path {internal!r} is not absolute")
    target = posix_normpath(internal)
    if target == "/":
        raise InvalidVolumeSpec(f"volume spec {text!r}: cannot mount over the container's /")
    mode = validate_mode(mode, named=named, spec=text)
    return Mount(source=source, target=target, mode=mode, named=named, spec=text)


def _split_unix(text: str) -> tuple[str, str | None, str | None]:
    fields = [f.strip() for f in text.split(":")]
    if len(fields) > 3 or not all(fields):
        raise InvalidVolumeSpec(
            f"Docker volume format is invalid: {text} (should be 'external:internal[:mode]')"
        )
    if len(fields) == 1:
        return fields[0], None, None
    return fields[0], fields[1], fields[2] if len(fields) == 3 else None


def _split_windows(text: str) -> tuple[str, str | None, str | None]:
    fields = [f.strip() for f in text.split(":")]
    mode = None
    if len(fields) > 1 and re.fullmatch(r"[A-Za-z,]+", fields[-1]) and len(fields[-2]) != 1:
        mode = fields.pop()
    if len(fields) == 1 or (len(fields) == 2 and len(fields[0]) == 1):
        external, internal = ":".join(fields), None
    elif len(fields) == 2:
        external, internal = fields[0], fields[1]
    elif len(fields) == 3 and len(fields[0]) == 1:
        external, internal = f"{fields[0]}:{fields[1]}", fields[2]
    else:
        raise InvalidVolumeSpec(f"Unable to parse volume specification '{text}'")
    if not external or internal == "":
        raise InvalidVolumeSpec(f"Unable to parse volume specification '{text}'")
    return external, internal, mode


def _host_side(
    external: str, text: str, windows: bool, working_dir: str | None, home_dir: str | None
) -> tuple[str, bool]:
    """``(source, named)``: a normalised absolute host path, or a checked volume name."""
    if external.startswith("~"):
        head, _, rest = external.replace("\\", "/").partition("/")
        if head != "~":
            raise InvalidVolumeSpec(f"volume spec {text!r}: only ~ (the agent's home) can be expanded")
        return _absolute(windows, home_dir, rest, text, "home directory"), False
    if windows and (_DRIVE_PATH.match(external) or external.startswith("\\\\")):
        return ntpath.normpath(external), False
    if windows and re.fullmatch(r"[A-Za-z]:.*", external):
        raise InvalidVolumeSpec(f"volume spec {text!r}: {external!r} is not an absolute path")
    if external.startswith("/"):
        return (external if windows and external.startswith("//") else posix_normpath(external)), False
    if external.startswith(".") or "/" in external or "\\" in external:
        return _absolute(windows, working_dir, external, text, "working directory"), False
    if not VOLUME_NAME.fullmatch(external):
        raise InvalidVolumeSpec(
            f"volume spec {text!r}: {external!r} is not a valid volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+); "
            "use an absolute path for a host directory"
        )
    return external, True


def _absolute(windows: bool, base: str | None, rest: str, text: str, what: str) -> str:
    if not base or not is_absolute(base, windows=windows):
        raise InvalidVolumeSpec(f"volume spec {text!r}: a relative host path needs the agent's {what}")
    if windows:
        return ntpath.normpath(ntpath.join(base, rest))
    return posix_normpath(posixpath.join(base, rest))


def is_absolute(path: str, *, windows: bool) -> bool:
    """Absolute on the daemon's host: ``/x``; on Windows a drive (``C:\\x``) or UNC path."""
    if windows:
        return bool(_DRIVE_PATH.match(path)) or path.startswith("\\\\")
    return path.startswith("/")


def posix_normpath(path: str) -> str:
    """``posixpath.normpath`` with ``..`` resolved and a leading ``//`` folded to ``/``."""
    normal = posixpath.normpath(path)
    return "/" + normal.lstrip("/") if normal.startswith("//") else normal


def _drive_to_posix(path: str) -> str:
    """``C:\\some\\path`` → ``/c/some/path``: where Docker Desktop shows a Windows drive."""
    return posixpath.normpath("/" + path[0].lower() + "/" + path[2:].replace("\\", "/"))


def validate_mode(mode: str | None, *, named: bool, spec: str = "") -> str:
    """The mode as Docker will get it (``rw`` when none is given), if Docker accepts it."""
    if mode is None:
        return "rw"
    options = mode.split(",")
    where = f"volume spec {spec!r}: " if spec else ""
    for group in _MODE_GROUPS:
        if sum(option in group for option in options) > 1:
            raise InvalidVolumeSpec(
                f"{where}mode {mode!r} combines {' and '.join(sorted(group & set(options)))}"
            )
    for option in options:
        if not any(option in group for group in _MODE_GROUPS):
            raise InvalidVolumeSpec(
                f"{where}invalid mode {option!r} (Docker accepts ro, rw, z, Z, shared, slave, private, "
                "rshared, rslave, rprivate, nocopy, consistent, cached, delegated)"
            )
        if named and option in _PROPAGATION:
            raise InvalidVolumeSpec(f"{where}mode {option!r} applies to bind mounts, not named volumes")
        if not named and option in _COPY:
            raise InvalidVolumeSpec(f"{where}mode {option!r} applies to named volumes, not bind mounts")
    return mode
