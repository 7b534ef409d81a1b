"""Which networks a flow-run container joins.

The agent's first network is the container's at create time (``host`` and ``none`` become
its network mode; so does any other name, as ``docker run --network`` does); the others are
connected before it starts. A run's ``network_mode`` applies only when the agent names no
networks: the agent's choice is never overridden.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.domain.errors import ConfigurationError, RunRefused

NETWORK_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
EXCLUSIVE = frozenset({"host", "none"})


@dataclass(frozen=True)
class NetworkPlan:
    mode: str | None = None  # HostConfig.NetworkMode
    endpoints: tuple[str, ...] = ()  # NetworkingConfig.EndpointsConfig at create
    connect: tuple[str, ...] = ()  # connected after create, before start


def validate_networks(networks: Sequence[str]) -> None:
    """At start-up: valid, distinct names, and ``host``/``none`` only on their own (a
    container in those modes cannot join another network)."""
    for name in networks:
        if not NETWORK_NAME.fullmatch(name):
            raise ConfigurationError(f"--network {name!r} is not a valid Docker network name")
    duplicates = sorted({name for name in networks if networks.count(name) > 1})
    if duplicates:
        raise ConfigurationError(f"--network lists {', '.join(duplicates)} more than once")
    exclusive = [name for name in networks if name in EXCLUSIVE]
    if exclusive and len(networks) > 1:
        raise ConfigurationError(
            f"--network {exclusive[0]} cannot be combined with other networks: "
            f"a container on the {exclusive[0]} network joins no other"
        )


def plan_networks(networks: Sequence[str], run_mode: str | None) -> NetworkPlan:
    if not networks:
        return NetworkPlan(mode=run_mode)
    first, rest = networks[0], tuple(networks[1:])
    if run_mode is not None and run_mode != first:
        raise RunRefused(
            f"The run asks for network_mode={run_mode!r}, but this agent attaches its containers to "
            f"{', '.join(networks)} (--network); a run cannot change the agent's networks"
        )
    if first in EXCLUSIVE and rest:
        raise RunRefused(f"a container on the {first} network cannot also join {', '.join(rest)}")
    return NetworkPlan(mode=first, endpoints=(first,), connect=rest)
