"""Values of a run's ``host_config`` (docker-py keyword form) as the Engine API takes them.

Each converter gets the docker-py key (for messages) and the JSON value, and returns the
Engine API value or raises ``RunRefused`` naming the key. JSON has no tuples: docker-py's
``("127.0.0.1", 8080)`` arrives as ``["127.0.0.1", 8080]`` and is read as that tuple.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any

from dockyard.domain.agent.networks import NETWORK_NAME
from dockyard.domain.agent.run_config import port_key, port_number
from dockyard.domain.agent.volumes import posix_normpath
from dockyard.domain.errors import RunRefused

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([bkmgt]?)b?", re.IGNORECASE)
_CAPABILITY = re.compile(r"(?:CAP_)?[A-Z][A-Z0-9_]*", re.IGNORECASE | re.ASCII)
# Log drivers `docker logs` reads back: dockyard ships a run's output and its last lines
# from there, and any other driver (syslog, gelf, fluentd...) would send the output off
# to wherever the run says, past the container's own network settings.
READABLE_LOG_DRIVERS = ("json-file", "local")
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(value: object) -> int:
    """Bytes from an int or a docker-style size (``512m``, ``1g``, ``1.5GB``); ValueError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = _SIZE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a size (bytes, or a number with b, k, m, g or t)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def refuse(key: str, why: str) -> RunRefused:
    return RunRefused(f"host_config `{key}`: {why}")


def size(key: str, value: object) -> int:
    try:
        return parse_size(value)
    except ValueError as exc:
        raise refuse(key, str(exc)) from None


def swap_size(key: str, value: object) -> int:
    return -1 if value == -1 else size(key, value)


def boolean(key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise refuse(key, "must be true or false")
    return value


def integer(key: str, value: object, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise refuse(key, "must be an integer")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise refuse(key, f"{value} is out of range")
    return value


def text(key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise refuse(key, "must be a non-empty string")
    return value


def text_list(key: str, value: object) -> list[str]:
    if not isinstance(value, list | tuple):
        raise refuse(key, "must be a list of strings")
    return [text(key, item) for item in value]


def capabilities(key: str, value: object) -> list[str]:
    names = text_list(key, value)
    for name in names:
        if not _CAPABILITY.fullmatch(name.strip()):
            raise refuse(key, f"{name!r} is not a capability name")
    return names


def namespace_mode(*modes: str, container: bool = False) -> Callable[[str, object], str]:
    """A converter for pid/ipc/uts/userns modes: one of ``modes``, ``host``, or (where
    Docker has it) ``container:NAME``. The daemon would take anything else silently as a
    private namespace, so ``host`` with an invisible character would look like a request
    for the host's namespace and be none; refusing says what is wrong instead."""
    allowed = ("host", *modes)

    def convert(key: str, value: object) -> str:
        mode = text(key, value)
        name = mode.removeprefix("container:")
        if mode in allowed or (container and name != mode and NETWORK_NAME.fullmatch(name)):
            return mode
        shown = ", ".join(allowed) + (", container:NAME" if container else "")
        raise refuse(key, f"{mode!r} is not a mode ({shown})")

    return convert


def network_mode(key: str, value: object) -> str:
    """``bridge``, ``host``, ``none``, ``container:NAME`` or a network's name."""
    mode = text(key, value)
    if not NETWORK_NAME.fullmatch(mode.removeprefix("container:")):
        raise refuse(key, f"{mode!r} is not a network mode or network name")
    return mode


def group_list(key: str, value: object) -> list[str]:
    if not isinstance(value, list | tuple):
        raise refuse(key, "must be a list of group names or ids")
    return [
        str(item) if isinstance(item, int) and not isinstance(item, bool) else text(key, item)
        for item in value
    ]


def text_map(key: str, value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise refuse(key, "must be an object of name: value")
    out = {}
    for name, item in value.items():
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise refuse(key, f"value of {name!r} must be a string")
        out[text(key, name)] = str(item)
    return out


def ulimits(key: str, value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list | tuple):
        raise refuse(key, "must be a list of {name, soft, hard}")
    out = []
    for item in value:
        if not isinstance(item, Mapping) or not set(item) <= {"name", "soft", "hard", "Name", "Soft", "Hard"}:
            raise refuse(key, f"{item!r} is not a ulimit {{name, soft, hard}}")
        name = text(key, item.get("name", item.get("Name")))
        soft = integer(key, item.get("soft", item.get("Soft")), minimum=-1)
        hard = integer(key, item.get("hard", item.get("Hard", soft)), minimum=-1)
        out.append({"Name": name, "Soft": soft, "Hard": hard})
    return out


def devices(key: str, value: object) -> list[dict[str, str]]:
    if not isinstance(value, list | tuple):
        raise refuse(key, "must be a list of HOST[:CONTAINER[:PERMISSIONS]]")
    out = []
    for item in value:
        if isinstance(item, Mapping):
            host = text(key, item.get("PathOnHost"))
            inside = text(key, item.get("PathInContainer", host))
            perms = text(key, item.get("CgroupPermissions", "rwm"))
        else:
            parts = text(key, item).split(":")
            if len(parts) > 3:
                raise refuse(key, f"{item!r} is not HOST[:CONTAINER[:PERMISSIONS]]")
            host = parts[0]
            inside = parts[1] if len(parts) > 1 else host
            perms = parts[2] if len(parts) > 2 else "rwm"
        if not host.startswith("/") or not inside.startswith("/") or not re.fullmatch(r"[rwm]{1,3}", perms):
            raise refuse(key, f"{item!r} needs absolute paths and permissions made of r, w, m")
        # Checked and created by the same, normalised path: /dev/null/../mem is /dev/mem.
        out.append(
            {
                "PathOnHost": posix_normpath(host),
                "PathInContainer": posix_normpath(inside),
                "CgroupPermissions": perms,
            }
        )
    return out


_REQUEST_KEYS = {
    "driver": "Driver",
    "count": "Count",
    "device_ids": "DeviceIDs",
    "capabilities": "Capabilities",
    "options": "Options",
}


def device_requests(key: str, value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list | tuple):
        raise refuse(key, "must be a list of device requests")
    out = []
    for item in value:
        if not isinstance(item, Mapping):
            raise refuse(key, f"{item!r} is not a device request")
        engine = {_REQUEST_KEYS.get(k, k): v for k, v in item.items()}
        if not set(engine) <= set(_REQUEST_KEYS.values()):
            raise refuse(key, f"unknown device request fields in {item!r}")
        capabilities = engine.get("Capabilities") or []
        if not isinstance(capabilities, list | tuple):
            raise refuse(key, "capabilities must be a list of lists of strings")
        out.append(
            {
                "Driver": str(engine.get("Driver") or ""),
                "Count": integer(key, engine.get("Count", 0), minimum=-1),
                "DeviceIDs": text_list(key, engine.get("DeviceIDs") or []),
                "Capabilities": [text_list(key, group) for group in capabilities],
                "Options": text_map(key, engine.get("Options") or {}),
            }
        )
    return out


def port_bindings(key: str, value: object) -> dict[str, list[dict[str, str]]]:
    if not isinstance(value, Mapping):
        raise refuse(key, "must be an object of container port: host binding")
    out = {}
    for port, binding in value.items():
        try:
            container_port = port_key(port)
        except RunRefused as exc:
            raise refuse(key, str(exc)) from None
        if isinstance(binding, list | tuple) and not _is_address_tuple(binding):
            out[container_port] = [_host_binding(key, item) for item in binding]
        else:
            out[container_port] = [_host_binding(key, binding)]
    return out


def _is_address_tuple(binding: list[Any] | tuple[Any, ...]) -> bool:
    return 1 <= len(binding) <= 2 and isinstance(binding[0], str) and _is_ip(binding[0])


def _host_binding(key: str, binding: object) -> dict[str, str]:
    host_ip: object = ""
    host_port: object = binding
    if isinstance(binding, Mapping):
        host_ip, host_port = binding.get("HostIp", ""), binding.get("HostPort", "")
    elif isinstance(binding, list | tuple) and _is_address_tuple(binding):
        host_ip, host_port = binding[0], binding[1] if len(binding) == 2 else ""
    port_text = "" if host_port is None else str(host_port)
    if not isinstance(host_ip, str) or (host_ip and not _is_ip(host_ip)) or not _is_host_port(port_text):
        raise refuse(key, f"{binding!r} is not a host binding (PORT, [IP, PORT] or [IP])")
    return {"HostIp": host_ip, "HostPort": port_text}


def _is_ip(text_value: str) -> bool:
    try:
        ipaddress.ip_address(text_value)
    except ValueError:
        return False
    return True


def _is_host_port(port: str) -> bool:
    if port == "":
        return True
    first, _, last = port.partition("-")
    low, high = port_number(first), port_number(last) if last else port_number(first)
    return low is not None and high is not None and 0 < low <= high


def tmpfs(key: str, value: object) -> dict[str, str]:
    if isinstance(value, list | tuple):
        value = {path: options for path, _, options in (text(key, item).partition(":") for item in value)}
    if not isinstance(value, Mapping):
        raise refuse(key, "must be an object of path: options or a list of PATH[:OPTIONS]")
    out = {}
    for path, options in value.items():
        if not isinstance(path, str) or not path.startswith("/") or not isinstance(options, str):
            raise refuse(key, f"{path!r} must be an absolute container path with string options")
        out[path] = options
    return out


def log_config(key: str, value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not set(value) <= {"type", "config", "Type", "Config"}:
        raise refuse(key, "must be {type, config}")
    driver = text(key, value.get("type", value.get("Type")))
    if driver not in READABLE_LOG_DRIVERS:
        raise refuse(
            key,
            f"the {driver!r} log driver is not supported: dockyard reads each run's output back "
            f"from the daemon, which only {' and '.join(READABLE_LOG_DRIVERS)} allow",
        )
    return {"Type": driver, "Config": text_map(key, value.get("config", value.get("Config")) or {})}


def extra_hosts(key: str, value: object) -> dict[str, str]:
    """``{host: address}`` from docker-py's dict or a list of ``host:address``."""
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list | tuple):
        pairs = [(host, address) for host, _, address in (text(key, item).partition(":") for item in value)]
    else:
        raise refuse(key, "must be an object of host: address or a list of HOST:ADDRESS")
    out = {}
    for host, address in pairs:
        if (
            not isinstance(host, str)
            or not re.fullmatch(r"[A-Za-z0-9_.-]+", host)
            or not isinstance(address, str)
        ):
            raise refuse(key, f"{host!r} is not a host name with an address")
        if address != "host-gateway" and not _is_ip(address):
            raise refuse(key, f"{address!r} is not an IP address (or host-gateway)")
        out[host] = address
    return out
