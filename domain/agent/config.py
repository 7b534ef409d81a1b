"""AgentConfig: every setting of a dockyard agent, resolved and validated.

The entrypoints build it (CLI flags > environment > config file > defaults) from the table
of settings in ``entrypoints/agent_settings.py``, where every field's flags, variables and
other spellings are; a field's name is the setting's name. The use cases and the planning
functions only read it. Values here are already read into what they mean (volume specs into
mounts, registry entries and image patterns into matchers) and checked: a bad spec never
gets this far.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockyard.domain.agent.image_policy import ImagePattern, RegistryScope
    from dockyard.domain.agent.volumes import Mount

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
class RunPolicy:
    """What a run's ``host_config`` may ask for. Everything risky is off until the operator
    turns it on; resource requests are capped by the maxima, which also apply to runs that
    ask for nothing (a maximum that a run could escape by staying silent would be none)."""

    allow_privileged: bool = False
    allow_cap_add: tuple[str, ...] = ()  # capability names without CAP_, or "ALL"
    allow_host_namespaces: bool = False  # host / container: pid, ipc, uts, network, userns
    allow_devices: tuple[str, ...] = ()  # host device paths (or directories of them)
    allow_security_opt: bool = False  # beyond no-new-privileges, which is always allowed
    allow_sysctls: bool = False
    allow_public_ports: bool = False  # publish ports beyond loopback (port_bindings, publish_all_ports)
    allow_bind_roots: tuple[str, ...] = ()  # absolute host directories runs may bind
    allow_named_volumes: bool = False  # runs may mount (and create) named volumes
    allow_runtimes: tuple[str, ...] = ()
    allow_networks: tuple[str, ...] = ()  # networks a run may name as network_mode
    allow_gpus: bool = False  # device_requests
    max_memory: int | None = None  # bytes
    max_cpus: float | None = None
    max_shm_size: int | None = None  # bytes
    max_pids: int | None = None
    # Swarm placement a run may ask for (run_config ``placement``), as fnmatch patterns over
    # ``key==value`` constraints and ``spread=descriptor`` preferences.
    allow_placement: tuple[str, ...] = ()


@dataclass(frozen=True)
class AgentConfig:
    # -- identity and backend ----------------------------------------------------------
    name: str = "agent"
    labels: tuple[str, ...] = ()
    api: str = DEFAULT_API  # the backend's GraphQL API URL
    key: str | None = field(default=None, repr=False)  # the backend's API key
    tenant_id: str | None = None
    agent_config_id: str | None = None
    # -- what flow containers get ---------------------------------------------------------
    env_vars: Mapping[str, str] = field(default_factory=dict)
    send_flow_run_logs: bool = True  # flow runs send their logs to the backend
    logging_level: str = "INFO"  # PREFECT__LOGGING__LEVEL handed to flow runs
    # ``--volume`` specs, read for the daemon's OS; relative and ``~`` host paths resolved
    # against ``working_dir`` / ``home_dir``, captured when the settings were resolved.
    volumes: tuple[Mount, ...] = ()
    networks: tuple[str, ...] = ()
    docker_interface: bool = True  # add host.docker.internal:host-gateway
    working_dir: str | None = None
    home_dir: str | None = None
    # -- images ---------------------------------------------------------------------------
    pull_policy: PullPolicy | None = None  # None: always for :latest or untagged, else if-not-present
    reg_allow_list: tuple[RegistryScope, ...] = ()
    allow_images: tuple[ImagePattern, ...] = ()
    registry_credentials: tuple[RegistryCredentials, ...] = ()
    # -- what runs may ask for ------------------------------------------------------------
    policy: RunPolicy = field(default_factory=RunPolicy)
    # -- Docker Swarm (``swarm``: each run a Swarm service instead of a container) ---------
    swarm: bool = False
    constraints: tuple[str, ...] = ()  # placement constraints of every run: node.labels.role==flows
    placement_prefs: tuple[str, ...] = ()  # placement preferences of every run: spread=node.labels.zone
    placement_timeout: float = 300.0  # seconds a run's task may wait for a node that can take it
    # -- the Docker daemon ----------------------------------------------------------------
    base_url: str | None = None  # None: DOCKER_HOST or the platform default
    docker_client_timeout: float = 60.0
    # TLS to a tcp:// daemon (--tls-*). All None: without base_url, DOCKER_TLS_VERIFY and
    # DOCKER_CERT_PATH decide, as for the Docker CLI.
    tls_ca: str | None = None  # the CA the daemon's certificate is checked against
    tls_cert: str | None = None  # the client certificate
    tls_key: str | None = None  # its private key
    tls_verify: bool | None = None  # None: verify the daemon when a CA is given
    # -- the loop and supervision ---------------------------------------------------------
    max_polls: int | None = None
    agent_address: str | None = None  # e.g. http://127.0.0.1:8080 for /api/health, /api/poke
    show_flow_logs: bool = False
    limit: int | None = None  # running containers (or services) at once; None: no limit
    run_timeout: float | None = None  # seconds; a run config's ``timeout`` wins
    cancel_grace: float = 30.0  # SIGTERM to SIGKILL when cancelling or timing out
    keep_containers: bool = False
    log_level: str = "INFO"  # the agent's own logger
    log_format: str = "plain"  # the agent's log lines: plain (Prefect's) or json
    # Where the agent's lease (one lock file per agent name and daemon) lives; None: the
    # entrypoints' default, under the user's state directory.
    lock_dir: str | None = None
