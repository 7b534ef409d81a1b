"""What an operator lets a run's ``host_config`` ask for (``RunPolicy``).

By default a run cannot be privileged, add capabilities, join the host's (or another
container's) namespaces, use devices, GPUs, other runtimes or networks, change security
options or sysctls, mount named volumes, or bind host paths outside the operator's roots.
Each is allowed by a flag, which every refusal names. Resource requests are allowed up to
the operator's maxima; a maximum also becomes the limit of a run that sets none.
"""

from __future__ import annotations

import ntpath
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dockyard.domain.agent.config import RunPolicy
from dockyard.domain.agent.host_config import RunHostConfig
from dockyard.domain.agent.volumes import posix_normpath
from dockyard.domain.errors import RunRefused

NAMESPACE_KEYS = {
    "PidMode": "pid_mode",
    "IpcMode": "ipc_mode",
    "UTSMode": "uts_mode",
    "UsernsMode": "userns_mode",
}
FREE_NETWORK_MODES = frozenset({"bridge", "default", "none"})
NO_NEW_PRIVILEGES = frozenset({"no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"})
DEFAULT_CPU_PERIOD = 100_000


def denied(what: str, flag: str) -> RunRefused:
    return RunRefused(
        f"The run asks for {what}, which this agent does not allow (start the agent with {flag})"
    )


def apply_run_policy(
    request: RunHostConfig,
    policy: RunPolicy,
    *,
    host_os: str = "linux",
    agent_network: str | None = None,
    real_path: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """The run's Engine settings if the policy allows them, with the operator's limits
    applied; ``RunRefused`` naming the setting and the flag otherwise. Naming the agent's
    own network (``agent_network``) needs no permission. ``real_path`` resolves symbolic
    links on the daemon's host, where it can (a local daemon): a bind source must then be
    under an allowed root both as written and as the daemon will follow it."""
    settings = dict(request.settings)
    if settings.get("Privileged") and not policy.allow_privileged:
        raise denied("privileged mode (privileged)", "--allow-privileged")
    _check_capabilities(settings.get("CapAdd", ()), policy)
    for engine_key, key in NAMESPACE_KEYS.items():
        if _shares_namespace(settings.get(engine_key, "")) and not policy.allow_host_namespaces:
            raise denied(f"{key}={settings[engine_key]!r}", "--allow-host-namespaces")
    if settings.get("NetworkMode", agent_network) != agent_network:
        check_network_mode(settings["NetworkMode"], policy)
    for device in settings.get("Devices", ()):
        if not _under(device["PathOnHost"], policy.allow_devices, host_os="linux"):
            raise denied(f"the device {device['PathOnHost']}", f"--allow-device {device['PathOnHost']}")
    if not set(settings.get("SecurityOpt", ())) <= NO_NEW_PRIVILEGES and not policy.allow_security_opt:
        raise denied(f"security_opt {settings['SecurityOpt']!r}", "--allow-security-opt")
    if settings.get("Sysctls") and not policy.allow_sysctls:
        raise denied(f"sysctls {sorted(settings['Sysctls'])!r}", "--allow-sysctls")
    if not policy.allow_public_ports:
        _check_published_ports(settings)
    runtime = settings.get("Runtime")
    if runtime is not None and runtime not in policy.allow_runtimes:
        raise denied(f"the runtime {runtime!r}", f"--allow-runtime {runtime}")
    if settings.get("DeviceRequests") and not policy.allow_gpus:
        raise denied("GPUs (device_requests)", "--allow-gpus")
    for mount in request.binds:
        if mount.named and not policy.allow_named_volumes:
            raise denied(f"the named volume {mount.source!r}", "--allow-named-volumes")
        if not mount.named:
            _check_bind_source(mount.source, policy.allow_bind_roots, host_os, real_path)
    _apply_limits(settings, policy)
    if settings.get("OomKillDisable") and not settings.get("Memory"):
        raise RunRefused(
            "The run asks for oom_kill_disable without a memory limit: the host could run out of "
            "memory with nothing to stop it (set mem_limit, or start the agent with --max-memory)"
        )
    return settings


def _check_bind_source(
    source: str, roots: tuple[str, ...], host_os: str, real_path: Callable[[str], str] | None
) -> None:
    if not _under(source, roots, host_os=host_os):
        raise denied(f"a bind mount of {source}", f"--allow-bind-root {source}")
    if real_path is None:
        return
    real = real_path(source)
    if not _under(real, [real_path(root) for root in roots], host_os=host_os):
        raise denied(
            f"a bind mount of {source}, which symbolic links lead to {real}, outside the allowed roots",
            f"--allow-bind-root {real}",
        )


LOOPBACK_IPS = frozenset({"127.0.0.1", "::1"})


def _check_published_ports(settings: Mapping[str, Any]) -> None:
    """A published port is reachable by whoever reaches the host's address: beyond this
    machine unless it is bound to loopback."""
    if settings.get("PublishAllPorts"):
        raise denied("publish_all_ports (every exposed port on every interface)", "--allow-public-ports")
    for port, bindings in (settings.get("PortBindings") or {}).items():
        for binding in bindings:
            if binding.get("HostIp") not in LOOPBACK_IPS:
                where = binding.get("HostIp") or "every interface"
                raise denied(
                    f"port {port} published on {where} (bind it to 127.0.0.1 to keep it local)",
                    "--allow-public-ports",
                )


def check_network_mode(mode: str, policy: RunPolicy) -> None:
    if mode == "host" or mode.startswith("container:"):
        if not policy.allow_host_namespaces:
            raise denied(f"network_mode={mode!r}", "--allow-host-namespaces")
    elif mode not in FREE_NETWORK_MODES and mode not in policy.allow_networks:
        raise denied(f"the network {mode!r} (network_mode)", f"--allow-network {mode}")


def _shares_namespace(mode: object) -> bool:
    return isinstance(mode, str) and (mode == "host" or mode.startswith("container:"))


def capability(name: str) -> str:
    """``cap_net_admin`` / ``NET_ADMIN`` / ``CAP_NET_ADMIN`` → ``NET_ADMIN``."""
    return name.strip().upper().removeprefix("CAP_")


def _check_capabilities(requested: Iterable[str], policy: RunPolicy) -> None:
    allowed = {capability(name) for name in policy.allow_cap_add}
    for name in map(capability, requested):
        if "ALL" not in allowed and name not in allowed:
            raise denied(f"the capability {name} (cap_add)", f"--allow-cap-add {name}")


def normalize_host_path(path: str, *, host_os: str) -> str:
    """A host path compared on its normalised form: ``..`` resolved, case folded on Windows.
    Symbolic links cannot be seen from here: roots must not contain links out of them."""
    if host_os == "windows":
        return ntpath.normcase(ntpath.normpath(path))
    return posix_normpath(path)


def _under(path: str, roots: Iterable[str], *, host_os: str) -> bool:
    sep = "\\" if host_os == "windows" else "/"
    target = normalize_host_path(path, host_os=host_os)
    for root in roots:
        base = normalize_host_path(root, host_os=host_os).rstrip(sep)
        if target == base or target.startswith(base + sep):
            return True
    return False


def _apply_limits(settings: dict[str, Any], policy: RunPolicy) -> None:
    if policy.max_memory is not None:
        for key, name in (("Memory", "mem_limit"), ("MemoryReservation", "mem_reservation")):
            _at_most(settings, key, name, policy.max_memory, "--max-memory")
        if not settings.get("Memory"):
            settings["Memory"] = policy.max_memory
    if policy.max_shm_size is not None:
        _at_most(settings, "ShmSize", "shm_size", policy.max_shm_size, "--max-shm-size")
    if policy.max_pids is not None:
        _at_most(settings, "PidsLimit", "pids_limit", policy.max_pids, "--max-pids")
        if settings.get("PidsLimit", 0) <= 0:
            settings["PidsLimit"] = policy.max_pids
    if policy.max_cpus is not None:
        _limit_cpus(settings, policy.max_cpus)


def _at_most(settings: Mapping[str, Any], key: str, name: str, maximum: float, flag: str) -> None:
    value = settings.get(key)
    if value is not None and value > maximum:
        raise RunRefused(f"The run asks for {name}={value}, above this agent's {flag} of {maximum}")


def _limit_cpus(settings: dict[str, Any], max_cpus: float) -> None:
    nano, quota = settings.get("NanoCpus", 0), settings.get("CpuQuota", 0)
    period = settings.get("CpuPeriod") or DEFAULT_CPU_PERIOD
    if nano and quota > 0:
        raise RunRefused("host_config sets both nano_cpus and cpu_quota; Docker accepts only one of them")
    cpus = nano / 1e9 if nano else quota / period if quota > 0 else None
    if cpus is not None and cpus > max_cpus:
        raise RunRefused(f"The run asks for {cpus:g} CPUs, above this agent's --max-cpus of {max_cpus:g}")
    if cpus is None and "CpuPeriod" in settings:
        settings["CpuQuota"] = int(max_cpus * period)  # Docker refuses NanoCpus next to a period
    elif cpus is None:
        settings["NanoCpus"] = int(max_cpus * 1e9)
