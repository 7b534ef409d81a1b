"""Start-up validation: everything about an ``AgentConfig`` that can be wrong is found
here, once, before the agent takes a run, as a ``ConfigurationError`` with a clear message."""

from __future__ import annotations

import re
from dataclasses import replace

from dockyard.domain.agent.config import AgentConfig, RunPolicy
from dockyard.domain.agent.environment import url_host
from dockyard.domain.agent.networks import NETWORK_NAME, validate_networks
from dockyard.domain.agent.placement import parse_constraint, parse_preference
from dockyard.domain.agent.run_config import env_key, env_value
from dockyard.domain.agent.swarm_task import DEFAULT_BRIDGE, service_mounts
from dockyard.domain.agent.volumes import is_absolute, parse_volume_specs
from dockyard.domain.errors import ConfigurationError, RunRefused

LOG_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})
_CAPABILITY = re.compile(r"(?:CAP_)?[A-Z][A-Z0-9_]*", re.IGNORECASE)


def for_daemon(config: AgentConfig, host_os: str) -> AgentConfig:
    """The settings as the Docker daemon's host reads them: they were read for this
    machine's OS, and the daemon's may differ (a remote Windows daemon), so volume specs are
    read again for it, and everything is checked against it. Raises ``ConfigurationError``."""
    volumes = parse_volume_specs(
        [mount.spec for mount in config.volumes],
        host_os=host_os,
        working_dir=config.working_dir,
        home_dir=config.home_dir,
    )
    adapted = replace(config, volumes=volumes)
    validate_agent_config(adapted, host_os=host_os)
    return adapted


def validate_agent_config(config: AgentConfig, *, host_os: str = "linux") -> None:
    """``host_os``: the Docker daemon's OS (``DaemonInfo.os_type``), which decides how
    volume specs and host paths read."""
    if not config.name.strip():
        raise ConfigurationError("the agent name must not be empty")
    if any(not label.strip() for label in config.labels):
        raise ConfigurationError("agent labels must not be empty")
    if not re.match(r"https?://", config.api) or not url_host(config.api):
        raise ConfigurationError(f"--api {config.api!r} is not an http(s) URL")
    for key, value in config.env_vars.items():
        try:
            env_value(env_key(key), value)
        except RunRefused as exc:
            raise ConfigurationError(f"--env: {exc}") from None
    for level, option in (
        (config.logging_level, "PREFECT__LOGGING__LEVEL"),
        (config.log_level, "--log-level"),
    ):
        if level not in LOG_LEVELS:
            raise ConfigurationError(f"{option} {level!r} is not one of {', '.join(sorted(LOG_LEVELS))}")
    validate_networks(config.networks)
    for credentials in config.registry_credentials:
        if not credentials.registry or not credentials.username:
            raise ConfigurationError("registry credentials need a registry and a username")
    _validate_numbers(config)
    _validate_policy(config.policy, host_os)
    _validate_swarm(config)


def _validate_numbers(config: AgentConfig) -> None:
    checks = [
        ("--limit", config.limit, 1),
        ("--max-polls", config.max_polls, 0),
        ("--cancel-grace", config.cancel_grace, 0),
    ]
    for option, value, minimum in checks:
        if value is not None and value < minimum:
            raise ConfigurationError(f"{option} must be at least {minimum}, not {value}")
    for option, number in (
        ("--run-timeout", config.run_timeout),
        ("--docker-client-timeout", config.docker_client_timeout),
        ("--placement-timeout", config.placement_timeout),
    ):
        if number is not None and number <= 0:
            raise ConfigurationError(f"{option} must be a positive number of seconds, not {number}")


def _validate_policy(policy: RunPolicy, host_os: str) -> None:
    for root in policy.allow_bind_roots:
        if not is_absolute(root, windows=host_os == "windows"):
            raise ConfigurationError(f"--allow-bind-root {root!r} is not an absolute host path")
    for device in policy.allow_devices:
        if not device.startswith("/"):
            raise ConfigurationError(f"--allow-device {device!r} is not an absolute device path")
    for name in policy.allow_cap_add:
        if not _CAPABILITY.fullmatch(name.strip()):
            raise ConfigurationError(f"--allow-cap-add {name!r} is not a capability name (or ALL)")
    for option, names in (
        ("--allow-runtime", policy.allow_runtimes),
        ("--allow-network", policy.allow_networks),
    ):
        for name in names:
            if not NETWORK_NAME.fullmatch(name):
                raise ConfigurationError(f"{option} {name!r} is not a valid name")
    for option, maximum in (
        ("--max-memory", policy.max_memory),
        ("--max-cpus", policy.max_cpus),
        ("--max-shm-size", policy.max_shm_size),
        ("--max-pids", policy.max_pids),
    ):
        if maximum is not None and maximum <= 0:
            raise ConfigurationError(f"{option} must be positive, not {maximum}")


def _validate_swarm(config: AgentConfig) -> None:
    """Placement reads as Swarm's, and swarm mode has only what a Swarm service can have."""
    for option, values, read in (
        ("--constraint", config.constraints, parse_constraint),
        ("--placement-pref", config.placement_prefs, parse_preference),
    ):
        for value in values:
            try:
                read(value)
            except ValueError as exc:
                raise ConfigurationError(f"{option}: {exc}") from None
    if not config.swarm:
        return
    for name in config.networks:
        if name in ("host", "none", *DEFAULT_BRIDGE):
            raise ConfigurationError(
                f"--network {name} is not available with --swarm: a Swarm service joins swarm-scoped "
                "(overlay) networks, or without --network its node's default bridge"
            )
    try:
        service_mounts(config.volumes)
    except RunRefused as exc:
        raise ConfigurationError(f"--volume: {exc}") from None


def unused_swarm_settings(config: AgentConfig) -> list[str]:
    """The Swarm placement options given to an agent that runs containers, where they
    change nothing (said at start-up)."""
    if config.swarm:
        return []
    given = (
        ("--constraint", config.constraints),
        ("--placement-pref", config.placement_prefs),
        ("--allow-placement", config.policy.allow_placement),
    )
    return [option for option, values in given if values]
