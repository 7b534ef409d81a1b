"""AgentConfig: every setting of a dockyard agent, resolved and validated.

The entrypoints build it (CLI flags > environment > config file > defaults); the use cases
and the planning functions only read it. Values here are already checked: a bad volume spec
or registry entry never gets this far (it is refused at start-up).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

DEFAULT_API = "http://127.0.0.1:4200"


class PullPolicy(Enum):
    ALWAYS = "always"
    IF_NOT_PRESENT = "if-not-present"
    NEVER = "never"


@dataclass(frozen=True)
class RegistryCredentials:
    """A login for one registry host (normalised, e.g. ``localhost:5000``)."""

    registry: str
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class AgentConfig:
    # -- identity and backend ----------------------------------------------------------
    name: str = "agent"
    labels: tuple[str, ...] = ()
    api_url: str = DEFAULT_API
    api_key: str | None = None
    tenant_id: str | None = None
    agent_config_id: str | None = None
    # -- what flow containers get ---------------------------------------------------------
    env_vars: Mapping[str, str] = field(default_factory=dict)
    log_to_cloud: bool = True
    logging_level: str = "INFO"  # PREFECT__LOGGING__LEVEL handed to flow runs
    volumes: tuple[str, ...] = ()  # validated ``--volume`` specs, host paths made absolute
    networks: tuple[str, ...] = ()
    docker_interface: bool = True  # add host.docker.internal:host-gateway
    # -- images ---------------------------------------------------------------------------
    pull_policy: PullPolicy | None = None  # None: always for :latest/untagged, else if-not-present
    reg_allow_list: tuple[str, ...] = ()
    allow_images: tuple[str, ...] = ()
    registry_credentials: tuple[RegistryCredentials, ...] = ()
    # -- the Docker daemon ----------------------------------------------------------------
    base_url: str | None = None  # None: DOCKER_HOST or the platform default
    docker_client_timeout: float = 60.0
    # -- the loop and supervision ---------------------------------------------------------
    max_polls: int | None = None
    agent_address: str | None = None  # e.g. http://127.0.0.1:8080 for /api/health, /api/poke
    show_flow_logs: bool = False
    limit: int | None = None  # running containers at once; None: no limit
    run_timeout: float | None = None  # seconds; a run config's ``timeout`` wins
    cancel_grace: float = 30.0  # SIGTERM to SIGKILL when cancelling or timing out
    keep_containers: bool = False
    log_level: str = "INFO"  # the agent's own logger
