"""A run's ``host_config``: docker-py ``create_host_config`` keywords, translated.

Only the keys below are understood; any other key, or a value of the wrong type, refuses
the run naming the key (Prefect passed everything through unchecked). Translation says
nothing about what is *allowed*: ``policy.apply_run_policy`` decides that, and the plan
merges the result under the agent's own settings, never over them.

``auto_remove`` is accepted and ignored: dockyard removes each container itself once it
has recorded the run's outcome (a daemon auto-remove would take the exit code and logs
with it). ``restart_policy`` is refused: a restarted container would run the flow again
behind the supervisor's back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from dockyard.domain.agent import host_values as v
from dockyard.domain.agent.volumes import Mount, check_distinct_targets, parse_volume_spec
from dockyard.domain.errors import InvalidVolumeSpec, RunRefused

Converter = Callable[[str, Any], Any]

# docker-py keyword -> (Engine API HostConfig key, converter)
KEYS: dict[str, tuple[str, Converter]] = {
    "mem_limit": ("Memory", v.size),
    "memswap_limit": ("MemorySwap", v.swap_size),
    "mem_reservation": ("MemoryReservation", v.size),
    "mem_swappiness": ("MemorySwappiness", partial(v.integer, minimum=0, maximum=100)),
    "shm_size": ("ShmSize", v.size),
    "nano_cpus": ("NanoCpus", partial(v.integer, minimum=0)),
    "cpu_shares": ("CpuShares", partial(v.integer, minimum=0)),
    "cpu_period": ("CpuPeriod", partial(v.integer, minimum=0)),
    "cpu_quota": ("CpuQuota", partial(v.integer, minimum=-1)),
    "cpuset_cpus": ("CpusetCpus", v.text),
    "cpuset_mems": ("CpusetMems", v.text),
    "pids_limit": ("PidsLimit", partial(v.integer, minimum=-1)),
    "ulimits": ("Ulimits", v.ulimits),
    "device_requests": ("DeviceRequests", v.device_requests),
    "port_bindings": ("PortBindings", v.port_bindings),
    "publish_all_ports": ("PublishAllPorts", v.boolean),
    "network_mode": ("NetworkMode", v.network_mode),
    "privileged": ("Privileged", v.boolean),
    "cap_add": ("CapAdd", v.capabilities),
    "cap_drop": ("CapDrop", v.capabilities),
    "pid_mode": ("PidMode", v.namespace_mode(container=True)),
    "ipc_mode": ("IpcMode", v.namespace_mode("private", "shareable", "none", container=True)),
    "uts_mode": ("UTSMode", v.namespace_mode()),
    "userns_mode": ("UsernsMode", v.namespace_mode()),
    "devices": ("Devices", v.devices),
    "security_opt": ("SecurityOpt", v.text_list),
    "read_only": ("ReadonlyRootfs", v.boolean),
    "tmpfs": ("Tmpfs", v.tmpfs),
    "sysctls": ("Sysctls", v.text_map),
    "init": ("Init", v.boolean),
    "dns": ("Dns", v.text_list),
    "dns_search": ("DnsSearch", v.text_list),
    "dns_opt": ("DnsOptions", v.text_list),
    "group_add": ("GroupAdd", v.group_list),
    "oom_kill_disable": ("OomKillDisable", v.boolean),
    "runtime": ("Runtime", v.text),
    "log_config": ("LogConfig", v.log_config),
}
IGNORED = frozenset({"auto_remove"})
REFUSED = {"restart_policy": "dockyard supervises each container itself; a restart would run the flow again"}


@dataclass(frozen=True)
class RunHostConfig:
    """A run's host_config in Engine API terms; binds and extra hosts kept apart because
    the plan merges them with the agent's."""

    settings: Mapping[str, Any] = field(default_factory=dict)
    binds: tuple[Mount, ...] = ()
    extra_hosts: Mapping[str, str] = field(default_factory=dict)


def translate_host_config(raw: Mapping[str, Any], *, host_os: str = "linux") -> RunHostConfig:
    settings: dict[str, Any] = {}
    binds: tuple[Mount, ...] = ()
    extra: dict[str, str] = {}
    for key, value in raw.items():
        if key in IGNORED:
            continue
        if key in REFUSED:
            raise v.refuse(key, f"not supported: {REFUSED[key]}")
        if key == "binds":
            binds = run_binds(value, host_os=host_os)
        elif key == "extra_hosts":
            extra = v.extra_hosts(key, value)
        elif key in KEYS:
            engine_key, convert = KEYS[key]
            settings[engine_key] = convert(key, value)
        else:
            raise RunRefused(f"host_config key `{key}` is not supported by dockyard")
    return RunHostConfig(settings=settings, binds=binds, extra_hosts=extra)


def run_binds(value: object, *, host_os: str) -> tuple[Mount, ...]:
    """docker-py's ``binds``: a list of ``src:dst[:mode]``, or ``{src: dst}`` /
    ``{src: {"bind": dst, "mode": m}}`` / ``{src: {"bind": dst, "ro": bool}}``. Host paths
    must be absolute: a run cannot know the agent's working directory."""
    specs: list[str] = []
    if isinstance(value, list | tuple):
        specs = [v.text("binds", item) for item in value]
    elif isinstance(value, Mapping):
        for source, target in value.items():
            specs.append(f"{v.text('binds', source)}:{_bind_target(target)}")
    else:
        raise v.refuse("binds", "must be a list of SRC:DST[:MODE] or an object of src: {bind, mode}")
    try:
        mounts = tuple(parse_volume_spec(spec, host_os=host_os) for spec in specs)
        check_distinct_targets(mounts)
    except InvalidVolumeSpec as exc:
        raise v.refuse("binds", str(exc)) from None
    return mounts


def _bind_target(target: object) -> str:
    if isinstance(target, str):
        return target
    if isinstance(target, Mapping) and set(target) <= {"bind", "mode", "ro"}:
        bind = v.text("binds", target.get("bind"))
        if "ro" in target:
            return f"{bind}:{'ro' if v.boolean('binds', target['ro']) else 'rw'}"
        mode = target.get("mode")
        return bind if mode is None else f"{bind}:{v.text('binds', mode)}"
    raise v.refuse("binds", f"{target!r} is not a container path or {{bind, mode}}")
