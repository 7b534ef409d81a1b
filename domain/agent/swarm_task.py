"""A run's settings as a Swarm service's task takes them (Engine API 1.41).

The planner first decides a run's settings as for a container (``plan_run``: the run's
``host_config`` translated, the operator's policy and limits applied). Here they become the
parts of a ``TaskTemplate``: resources and limits, ``ContainerSpec`` fields, the log driver,
mounts and networks. What Swarm has no field for refuses the run, naming the run's setting:
a run that asked for it would otherwise run without it, unknowingly. Settings a run turned
off (``privileged: false``) ask for nothing and pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dockyard.domain.agent.host_config import KEYS
from dockyard.domain.agent.host_values import parse_size
from dockyard.domain.agent.labels import MANAGED
from dockyard.domain.agent.networks import NetworkPlan
from dockyard.domain.agent.policy import DEFAULT_CPU_PERIOD
from dockyard.domain.agent.volumes import Mount
from dockyard.domain.errors import RunRefused

# Engine HostConfig key -> the run's host_config key, to name it in refusals.
RUN_KEY = {engine: key for key, (engine, _) in KEYS.items()}

# What Swarm services lack, and why a run cannot have it there.
UNAVAILABLE = {
    "MemorySwap": "a Swarm service has no swap limit",
    "MemorySwappiness": "a Swarm service has no swappiness setting",
    "ShmSize": "a Swarm service has no /dev/shm size",
    "CpuShares": "a Swarm service limits CPUs by count (nano_cpus), not by shares",
    "CpusetCpus": "a Swarm service cannot be pinned to CPUs",
    "CpusetMems": "a Swarm service cannot be pinned to memory nodes",
    "DeviceRequests": "a Swarm service cannot request GPUs",
    "PortBindings": "Swarm publishes a service's ports on every node (its routing mesh), never on one "
    "host's loopback",
    "PublishAllPorts": "Swarm publishes a service's ports on every node (its routing mesh)",
    "Privileged": "a Swarm service cannot be privileged",
    "PidMode": "a Swarm service cannot share the host's or another container's namespaces",
    "IpcMode": "a Swarm service cannot share the host's or another container's namespaces",
    "UTSMode": "a Swarm service cannot share the host's or another container's namespaces",
    "UsernsMode": "a Swarm service cannot share the host's or another container's namespaces",
    "Devices": "a Swarm service cannot be given host devices",
    "SecurityOpt": "a Swarm service takes no security options on Engine API 1.41",
    "OomKillDisable": "a Swarm service cannot turn the OOM killer off",
    "Runtime": "a Swarm service cannot choose its container runtime",
}
# Values that ask for nothing: the setting turned off, or Docker's own default.
NOTHING_ASKED: dict[str, tuple[object, ...]] = {
    "Privileged": (False,),
    "PublishAllPorts": (False,),
    "OomKillDisable": (False,),
    "PortBindings": ({},),
    "Devices": ([],),
    "DeviceRequests": ([],),
    "SecurityOpt": ([],),
    "IpcMode": ("private", "shareable"),
}
DNS = {"Dns": "Nameservers", "DnsSearch": "Search", "DnsOptions": "Options"}
CONTAINER_SPEC = {
    "CapAdd": "CapabilityAdd",
    "CapDrop": "CapabilityDrop",
    "Sysctls": "Sysctls",
    "Init": "Init",
    "ReadonlyRootfs": "ReadOnly",
    "GroupAdd": "Groups",
    "Ulimits": "Ulimits",
}
_TMPFS_OPTIONS = frozenset({"size", "mode"})


def refuse(engine_key: str, why: str) -> RunRefused:
    name = RUN_KEY.get(engine_key, engine_key)
    return RunRefused(f"host_config `{name}` is not available in swarm mode: {why}")


@dataclass
class TaskSettings:
    """The parts of a ``TaskTemplate`` a run's settings make."""

    container: dict[str, Any] = field(default_factory=dict)  # ContainerSpec fields
    limits: dict[str, Any] = field(default_factory=dict)  # Resources.Limits
    reservations: dict[str, Any] = field(default_factory=dict)  # Resources.Reservations
    log_driver: dict[str, Any] | None = None
    tmpfs: list[dict[str, Any]] = field(default_factory=list)  # Mounts of type tmpfs

    def resources(self) -> dict[str, Any]:
        resources = {}
        if self.limits:
            resources["Limits"] = self.limits
        if self.reservations:
            resources["Reservations"] = self.reservations
        return resources


def task_settings(settings: Mapping[str, Any]) -> TaskSettings:
    """The policy-checked Engine settings of a run as task parts; ``RunRefused`` for one
    Swarm cannot express."""
    task = TaskSettings()
    for key, value in settings.items():
        if key in NOTHING_ASKED and value in NOTHING_ASKED[key]:
            continue
        if key in UNAVAILABLE:
            raise refuse(key, UNAVAILABLE[key])
        if key in CONTAINER_SPEC:
            task.container[CONTAINER_SPEC[key]] = value
        elif key in DNS:
            task.container.setdefault("DNSConfig", {})[DNS[key]] = value
        elif key == "Memory":
            task.limits["MemoryBytes"] = value
        elif key == "MemoryReservation":
            task.reservations["MemoryBytes"] = value
        elif key == "NanoCpus":
            task.limits["NanoCPUs"] = value
        elif key == "PidsLimit":
            if value > 0:  # 0 and -1: no limit
                task.limits["Pids"] = value
        elif key == "LogConfig":
            task.log_driver = {"Name": value["Type"], "Options": dict(value.get("Config") or {})}
        elif key == "Tmpfs":
            task.tmpfs = [_tmpfs_mount(path, options) for path, options in value.items()]
        elif key not in ("CpuQuota", "CpuPeriod"):
            raise refuse(key, "dockyard does not know how a Swarm service takes it")
    _cpu_quota(settings, task)
    return task


def _cpu_quota(settings: Mapping[str, Any], task: TaskSettings) -> None:
    """A quota over a period is a number of CPUs, which Swarm takes as NanoCPUs."""
    quota = settings.get("CpuQuota", 0)
    if quota > 0:
        period = settings.get("CpuPeriod") or DEFAULT_CPU_PERIOD
        task.limits["NanoCPUs"] = int(quota * 1_000_000_000 / period)
    elif settings.get("CpuPeriod"):
        raise refuse(
            "CpuPeriod", "a Swarm service limits CPUs by count (nano_cpus); a period alone limits nothing"
        )


def _tmpfs_mount(path: str, options: str) -> dict[str, Any]:
    tmpfs: dict[str, Any] = {}
    for option in filter(None, (item.strip() for item in options.split(","))):
        name, _, value = option.partition("=")
        if name not in _TMPFS_OPTIONS or not value:
            raise refuse(
                "Tmpfs",
                f"the tmpfs option {option!r} at {path} (a Swarm tmpfs mount takes only size= and mode=)",
            )
        try:
            tmpfs["SizeBytes" if name == "size" else "Mode"] = (
                parse_size(value) if name == "size" else int(value, 8)
            )
        except ValueError:
            raise refuse("Tmpfs", f"{option!r} at {path} is not a size or an octal mode") from None
    mount: dict[str, Any] = {"Type": "tmpfs", "Target": path}
    if tmpfs:
        mount["TmpfsOptions"] = tmpfs
    return mount


_PROPAGATION = frozenset({"shared", "rshared", "slave", "rslave", "private", "rprivate"})
_CONSISTENCY = frozenset({"consistent", "cached", "delegated"})


def service_mounts(mounts: Sequence[Mount]) -> list[dict[str, Any]]:
    """Volume specs (the agent's ``--volume``, a run's ``binds``) as Swarm mounts. A named
    volume is created on the node that runs the task, labelled as dockyard's; a bind's
    host path must exist on that node. SELinux relabelling (``z``, ``Z``) has no Swarm
    field: such a spec is refused."""
    out = []
    for mount in mounts:
        doc: dict[str, Any] = {
            "Type": "volume" if mount.named else "bind",
            "Source": mount.source,
            "Target": mount.target,
        }
        for option in mount.mode.split(","):
            if option == "ro":
                doc["ReadOnly"] = True
            elif option in ("z", "Z"):
                raise RunRefused(
                    f"The volume {mount.spec or mount.bind} asks for SELinux relabelling ({option}), "
                    "which a Swarm mount cannot do"
                )
            elif option in _PROPAGATION:
                doc["BindOptions"] = {"Propagation": option}
            elif option == "nocopy":
                doc.setdefault("VolumeOptions", {})["NoCopy"] = True
            elif option in _CONSISTENCY:
                doc["Consistency"] = option
        if mount.named:
            doc.setdefault("VolumeOptions", {})["Labels"] = {MANAGED: "true"}
        out.append(doc)
    return out


# A run's network modes that mean a node's default bridge: a service without networks.
DEFAULT_BRIDGE = frozenset({"bridge", "default"})


def service_networks(plan: NetworkPlan) -> tuple[str, ...]:
    """The networks a run's service joins (each must be swarm-scoped: the deployment checks
    that against the Swarm). ``RunRefused`` for the modes a service cannot have."""
    names = tuple(name for name in (plan.mode, *plan.connect) if name is not None)
    if len(names) == 1 and names[0] in DEFAULT_BRIDGE:
        return ()
    for name in names:
        if name in ("host", "none", *DEFAULT_BRIDGE) or name.startswith("container:"):
            raise RunRefused(
                f"The network {name!r} is not available in swarm mode: a Swarm service joins "
                "swarm-scoped (overlay) networks, or without any its node's default bridge"
            )
    return names
