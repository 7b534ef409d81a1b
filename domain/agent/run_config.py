"""A flow run's ``run_config``: what the flow author asked for, checked.

The backend stores the run config as Prefect serialises it
(``{"type": "DockerRun", "__version__": ..., "image": ..., "env": ..., ...}``). The Docker
agent runs ``DockerRun`` configs; a ``UniversalRun`` keeps its ``env`` and ``labels`` and
runs as a ``DockerRun``; no run config at all is an empty ``DockerRun``. dockyard adds three
keys: ``command`` (a string runs under ``/bin/sh -c``, a list is the exact argv),
``timeout`` (seconds) and ``placement`` (Swarm constraints and preferences: ``placement``).

The backend checks a ``DockerRun`` when a run is created (``check_docker_run``) by the same
rules the agent reads it with, so a run the agent would refuse is refused at once, with the
reason, instead of failing when it is deployed.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dockyard.domain.agent.images import parse_image_reference
from dockyard.domain.agent.placement import RunPlacement, parse_run_placement
from dockyard.domain.errors import InvalidImageReference, RunRefused

_COMMON_KEYS = frozenset({"type", "__version__", "env", "labels"})
# Linux refuses to start a process with one environment string over 128 KiB (MAX_ARG_STRLEN,
# with its NUL) and with arguments and environment over about 2 MiB together; a run's env
# gets half of that, the count a bound no real flow comes near.
MAX_ENV_VAR_BYTES = 128 * 1024 - 1
MAX_ENV_BYTES = 1024 * 1024
MAX_ENV_VARS = 4096
# Prefect 1.4.1's DockerRun fields (its DockerRunSchema), and the three dockyard adds.
PREFECT_DOCKER_RUN_KEYS = _COMMON_KEYS | {"image", "ports", "host_config"}
DOCKYARD_DOCKER_RUN_KEYS = frozenset({"command", "timeout", "placement"})
DOCKER_RUN_KEYS = PREFECT_DOCKER_RUN_KEYS | DOCKYARD_DOCKER_RUN_KEYS
# The keys a user writes (the serialisation's own are filled in for them).
DOCKER_RUN_SETTINGS = tuple(sorted(DOCKER_RUN_KEYS - {"type", "__version__"}))


@dataclass(frozen=True)
class DockerRunConfig:
    image: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    # Routing labels (which agents may take the run), not container labels.
    labels: tuple[str, ...] = ()
    ports: tuple[str, ...] = ()  # exposed container ports, "8080/tcp"
    host_config: Mapping[str, Any] = field(default_factory=dict)
    command: tuple[str, ...] | None = None
    timeout: float | None = None
    placement: RunPlacement | None = None  # where Swarm may run it (swarm mode only)


def parse_run_config(flow_run_id: str, raw: Mapping[str, Any] | None) -> DockerRunConfig:
    """The run config a flow run will be deployed with, or ``RunRefused`` saying why not."""
    if raw is None:
        return DockerRunConfig()
    if not isinstance(raw, Mapping):
        raise RunRefused(f"Flow run {flow_run_id} has a `run_config` that is not an object")
    kind = raw.get("type")
    if kind == "UniversalRun":
        _reject_unknown(flow_run_id, raw, _COMMON_KEYS, kind)
        return DockerRunConfig(env=_env(raw.get("env")), labels=_labels(raw.get("labels")))
    if kind != "DockerRun":
        raise RunRefused(
            f"Flow run {flow_run_id} has a `run_config` of type `{kind}`, only `DockerRun` is supported"
        )
    _reject_unknown(flow_run_id, raw, DOCKER_RUN_KEYS, kind)
    image = raw.get("image")
    if image is not None and (not isinstance(image, str) or not image.strip()):
        raise RunRefused("run_config `image` must be a non-empty string")
    host_config = raw.get("host_config")
    if host_config is not None and not isinstance(host_config, Mapping):
        raise RunRefused("run_config `host_config` must be an object of create_host_config arguments")
    return DockerRunConfig(
        image=image.strip() if isinstance(image, str) else None,
        env=_env(raw.get("env")),
        labels=_labels(raw.get("labels")),
        ports=exposed_ports(raw.get("ports")),
        host_config=dict(host_config or {}),
        command=_command(raw.get("command")),
        timeout=_timeout(raw.get("timeout")),
        placement=parse_run_placement(raw.get("placement")),
    )


def check_docker_run(raw: Mapping[str, Any]) -> DockerRunConfig:
    """A ``DockerRun`` as a new run asks for it: every key known, every value as the agent
    reads it, and the image a valid reference. ``RunRefused`` names the key at fault."""
    unknown = unknown_keys(raw, DOCKER_RUN_KEYS)
    if unknown:
        raise RunRefused(
            f"DockerRun has unsupported keys: {', '.join(f'`{key}`' for key in unknown)}; "
            f"its keys are {', '.join(DOCKER_RUN_SETTINGS)}"
        )
    config = parse_run_config("", raw)
    if config.image is not None:
        try:
            parse_image_reference(config.image)
        except InvalidImageReference as exc:
            raise RunRefused(f"run_config `image`: {exc}") from None
    return config


def unknown_keys(raw: Mapping[str, Any], known: frozenset[str]) -> list[str]:
    return sorted(str(key) for key in raw if key not in known)


def _reject_unknown(flow_run_id: str, raw: Mapping[str, Any], known: frozenset[str], kind: str) -> None:
    unknown = unknown_keys(raw, known)
    if unknown:
        raise RunRefused(
            f"Flow run {flow_run_id} has a `{kind}` run_config with unsupported keys: "
            + ", ".join(f"`{key}`" for key in unknown)
        )


def env_value(key: str, value: object) -> str:
    """An env value as Docker gets it. Numbers and booleans read as Python prints them,
    which is what Prefect's Docker client sent for them."""
    if isinstance(value, str):
        if "\x00" in value:
            raise RunRefused(f"env value of `{key}` contains a NUL character")
        return value
    if isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
        return str(value)
    raise RunRefused(f"env value of `{key}` must be a string, not {type(value).__name__}")


def env_key(key: object) -> str:
    """A variable name: not empty, no ``=``, and no invisible or control characters (a
    zero-width space or a right-to-left override makes one name pass for another)."""
    if (
        not isinstance(key, str)
        or not key
        or "=" in key
        or any(unicodedata.category(char)[0] in "CZ" for char in key)
    ):
        raise RunRefused(f"env key {key!r} is not a valid environment variable name")
    return key


def _env(raw: object) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise RunRefused("run_config `env` must be an object of NAME: value")
    if len(raw) > MAX_ENV_VARS:
        raise RunRefused(f"run_config `env` has {len(raw)} variables; at most {MAX_ENV_VARS} are accepted")
    env = {env_key(key): env_value(key, value) for key, value in raw.items()}
    total = 0
    for key, value in env.items():
        size = len(key.encode()) + 1 + len(value.encode())
        if size > MAX_ENV_VAR_BYTES:
            raise RunRefused(
                f"env value of `{key}` is too large: {size} bytes as {key}=..., and a process "
                f"cannot be started with a variable over {MAX_ENV_VAR_BYTES} bytes"
            )
        total += size
    if total > MAX_ENV_BYTES:
        raise RunRefused(f"run_config `env` is {total} bytes in all; at most {MAX_ENV_BYTES} are accepted")
    return env


def _labels(raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple) or not all(isinstance(label, str) for label in raw):
        raise RunRefused("run_config `labels` must be a list of strings")
    return tuple(raw)


def _command(raw: object) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        if not raw.strip():
            raise RunRefused("run_config `command` must not be empty")
        return ("/bin/sh", "-c", raw)
    if isinstance(raw, list | tuple) and all(isinstance(arg, str) for arg in raw):
        return tuple(raw)  # empty: the image's own command (see plan_container)
    raise RunRefused("run_config `command` must be a string or a list of strings")


def _timeout(raw: object) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw) or raw <= 0:
        raise RunRefused("run_config `timeout` must be a positive number of seconds")
    return float(raw)


def exposed_ports(raw: object) -> tuple[str, ...]:
    """``DockerRun.ports`` as Engine API port keys: ``8080``, ``"8080/udp"`` or
    ``[8080, "udp"]`` (a tuple after JSON) become ``8080/tcp``, ``8080/udp``."""
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple):
        raise RunRefused("run_config `ports` must be a list of container ports")
    return tuple(dict.fromkeys(port_key(item) for item in raw))


def port_key(item: object) -> str:
    """One container port as ``<port>/<protocol>``."""
    if isinstance(item, list | tuple) and len(item) == 2:
        port, protocol = item
    elif isinstance(item, str) and "/" in item:
        port, protocol = item.split("/", 1)
    else:
        port, protocol = item, "tcp"
    number = port_number(port)
    if number is None or number == 0 or protocol not in ("tcp", "udp", "sctp"):
        raise RunRefused(f"{item!r} is not a container port (PORT or PORT/tcp|udp|sctp)")
    return f"{number}/{protocol}"


def port_number(raw: object) -> int | None:
    """A port 0..65535 from an int or a string of digits; None if it is not one."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str) and raw.isascii() and raw.isdigit():
        raw = int(raw)
    if isinstance(raw, int) and 0 <= raw <= 65535:
        return raw
    return None
