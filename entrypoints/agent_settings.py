"""Every agent setting, once: its name, its command-line flags, its Prefect variable, its
other spellings, and how its values read and what they become (``setting_values``).

A setting's name is its name everywhere: the field of ``AgentConfig`` (of ``RunPolicy``, for
what runs may ask for), ``DockerAgent``'s keyword, the key in the TOML config file and the
``DOCKYARD_AGENT_<NAME>`` variable. ``SETTINGS`` is the one table the ``dockyard agent``
options, the environment and config-file readers (``settings.py``) and the building of
``AgentConfig`` come from; a test checks that the table, the options, the variables and the
config's fields cannot drift apart.

Adding a setting: a row here, a field on ``AgentConfig`` (or ``RunPolicy``), and the code
that uses it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from dockyard.domain.agent.config import PullPolicy
from dockyard.domain.errors import ConfigurationError
from dockyard.entrypoints.key_values import parse_key_values
from dockyard.entrypoints.setting_values import (
    DEFAULT_PULL,
    Address,
    Context,
    EnvMap,
    Flag,
    Float,
    Int,
    Level,
    LogFormat,
    Names,
    Policy,
    RegistryAuth,
    Size,
    Specs,
    Text,
    checked_tenant,
    image_patterns,
    mounts,
    placement_constraints,
    placement_preferences,
    pull_policy,
    registry_scopes,
    sorted_labels,
)

F = TypeVar("F", bound=Callable[..., Any])

# -- rows and spellings -------------------------------------------------------------------

Fold = Callable[[Any, Any], Any]  # (the alias's value, the setting's value in the same source or None)


def _same(alias: str, name: str) -> Fold:
    def fold(value: Any, given: Any) -> Any:
        if given is not None and given != value:
            raise ConfigurationError(f"{alias} and {name} are one setting: give one of them")
        return value

    return fold


def _negated(alias: str, name: str) -> Fold:
    same = _same(alias, name)
    return lambda value, given: same(not value, given)


def _first_then(value: Any, given: Any) -> Any:
    return (*value, *(given or ()))


def _no_pull(value: Any, given: Any) -> Any:
    if not value:
        return given or DEFAULT_PULL
    if given not in (None, PullPolicy.NEVER):
        raise ConfigurationError(f"no_pull contradicts pull_policy {given.value}")
    return PullPolicy.NEVER


@dataclass(frozen=True)
class Alias:
    """Another spelling of a setting, from Prefect 1 or an earlier dockyard: accepted as a
    keyword, TOML key and ``DOCKYARD_AGENT_`` variable (and as ``flags``, if any)."""

    name: str
    fold: Fold  # the alias's value, given the setting's own value in the same source
    type: Any = None  # how its values read (None: as the setting's)
    flags: tuple[str, ...] = ()
    help: str = ""
    prefect_env: str | None = None
    default: Any = None  # the keyword's default: passed as is, it means "not given"


@dataclass(frozen=True)
class Setting:
    """One row of the table: a setting and everything it is known by."""

    name: str
    type: Any  # how values from TOML, the environment and keywords read (pydantic)
    help: str = ""
    flags: tuple[str, ...] = ()  # the click option's declarations
    cli: Mapping[str, Any] = field(default_factory=dict)  # its other click.option keywords
    prefect_env: str | None = None  # the Prefect 1 variable that sets it
    aliases: tuple[Alias, ...] = ()
    build: Callable[[Any, Context], Any] | None = None  # the value → AgentConfig's (typed)
    policy: bool = False  # a field of RunPolicy: what runs may ask for
    no_flag: str = ""  # why it has no command-line flag, if it has none


def _plural(singular: str, name: str) -> Alias:
    return Alias(singular, _same(singular, name))


def _negative(alias: str, name: str, flag: str, help: str) -> Alias:
    return Alias(alias, _negated(alias, name), Flag, (flag,), help, default=False)


def _pairs(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    try:
        return parse_key_values(values)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


_POSITIVE = click.FloatRange(min=0, min_open=True)
_AT_LEAST_0, _AT_LEAST_1 = click.IntRange(min=0), click.IntRange(min=1)
_LEVELS = click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], case_sensitive=False)
_FORMATS = click.Choice(["plain", "json"], case_sensitive=False)
_MANY = {"multiple": True}
_SWITCH = {"is_flag": True}

# fmt: off
SETTINGS: tuple[Setting, ...] = (
    # -- identity and backend --
    Setting("api", Text, "The backend's GraphQL API URL [default: http://127.0.0.1:4200].", ("-a", "--api"),
            prefect_env="PREFECT__CLOUD__API"),
    Setting("key", Text, "API key for the backend (prefer PREFECT__CLOUD__API_KEY).", ("-k", "--key"),
            prefect_env="PREFECT__CLOUD__API_KEY"),
    Setting("tenant_id", Text, "Tenant to serve (a UUID).", ("--tenant-id",),
            prefect_env="PREFECT__CLOUD__TENANT_ID", build=checked_tenant),
    Setting("agent_config_id", Text, "Backend agent configuration to register with.", ("--agent-config-id",)),
    Setting("name", Text, "Agent name [default: agent].", ("-n", "--name"),
            prefect_env="PREFECT__CLOUD__AGENT__NAME"),
    Setting("labels", Names, "Serve runs with this label (repeatable).", ("-l", "--label"), _MANY,
            prefect_env="PREFECT__CLOUD__AGENT__LABELS", aliases=(_plural("label", "labels"),),
            build=sorted_labels),
    # -- what flow containers get --
    Setting("env_vars", EnvMap, "Environment variable for every flow run (repeatable).", ("-e", "--env"),
            {"multiple": True, "callback": _pairs, "metavar": "KEY=VALUE"},
            prefect_env="PREFECT__CLOUD__AGENT__ENV_VARS", aliases=(_plural("env", "env_vars"),)),
    Setting("max_polls", Int, "Stop after this many polls.", ("--max-polls",), {"type": _AT_LEAST_0}),
    Setting("agent_address", Address, "Serve /api/health, /api/poke and /metrics at [http://]HOST:PORT.",
            ("--agent-address",), prefect_env="PREFECT__CLOUD__AGENT__AGENT_ADDRESS"),
    Setting("send_flow_run_logs", Flag, prefect_env="PREFECT__CLOUD__SEND_FLOW_RUN_LOGS",
            aliases=(_negative("no_cloud_logs", "send_flow_run_logs", "--no-cloud-logs",
                               "Flow runs do not send their logs to the backend."),)),
    Setting("log_level", Level, "The agent's log level [default: INFO].", ("--log-level",), {"type": _LEVELS},
            prefect_env="PREFECT__CLOUD__AGENT__LEVEL"),
    Setting("log_format", LogFormat, "The agent's log lines: plain (Prefect's format) or json (one object "
            "per line) [default: plain].", ("--log-format",), {"type": _FORMATS}),
    Setting("logging_level", Level, prefect_env="PREFECT__LOGGING__LEVEL",
            no_flag="Prefect's own variable, for the flow runs"),
    # -- the Docker daemon --
    Setting("base_url", Text, "Docker daemon URL [default: DOCKER_HOST or the local socket].",
            ("-b", "--base-url"), prefect_env="PREFECT__CONTEXT__BASE_URL"),
    Setting("tls_ca", Text, "CA certificate the tcp:// daemon's certificate is checked against.",
            ("--tls-ca",), {"metavar": "PATH"}),
    Setting("tls_cert", Text, "Client certificate for the daemon (with --tls-key).", ("--tls-cert",),
            {"metavar": "PATH"}),
    Setting("tls_key", Text, "The client certificate's private key.", ("--tls-key",), {"metavar": "PATH"}),
    Setting("tls_verify", Flag, "Check the daemon's certificate [default: when --tls-ca is given]. Without "
            "--base-url, DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH apply (--tls-* options win).",
            ("--tls-verify/--no-tls-verify",), {"default": None}),
    Setting("pull_policy", Policy, "[default: always for :latest or untagged, else if-not-present]",
            ("--pull-policy",), {"type": click.Choice(["always", "if-not-present", "never"])},
            aliases=(Alias("no_pull", _no_pull, Flag, ("--no-pull",), "Never pull images (same as "
                           "--pull-policy never).", prefect_env="PREFECT__CONTEXT__NO_PULL", default=False),),
            build=pull_policy),
    Setting("show_flow_logs", Flag, "Print flow-run container output.", ("-f", "--show-flow-logs"), _SWITCH),
    Setting("volumes", Specs, "Mount SRC:DST[:MODE] in every run (repeatable).", ("--volume",), _MANY,
            aliases=(_plural("volume", "volumes"),), build=mounts),
    Setting("networks", Names, "Docker network for every run (repeatable).", ("--network",), _MANY,
            aliases=(Alias("network", _first_then),)),  # Prefect's single network comes first
    Setting("docker_interface", Flag,
            aliases=(_negative("no_docker_interface", "docker_interface", "--no-docker-interface",
                               "Do not add host.docker.internal:host-gateway."),)),
    Setting("docker_client_timeout", Float, "Seconds [default: 60].", ("--docker-client-timeout",),
            {"type": _POSITIVE}),
    # -- images --
    Setting("reg_allow_list", Names, "Allowed registry or Docker Hub namespace (repeatable).",
            ("--reg-allow-list",), _MANY, build=registry_scopes),
    Setting("allow_images", Names, "Allowed image pattern, * and ** (repeatable).", ("--allow-image",), _MANY,
            aliases=(_plural("allow_image", "allow_images"),), build=image_patterns),
    # -- what runs may ask for (RunPolicy) --
    Setting("allow_privileged", Flag, "Runs may ask for privileged mode.", ("--allow-privileged",), _SWITCH,
            policy=True),
    Setting("allow_cap_add", Names, "Capability runs may add, or ALL (repeatable).", ("--allow-cap-add",),
            {"multiple": True, "metavar": "CAP"}, policy=True),
    Setting("allow_host_namespaces", Flag, "Runs may use host or container: namespaces.",
            ("--allow-host-namespaces",), _SWITCH, policy=True),
    Setting("allow_devices", Names, "Device runs may use.", ("--allow-device",),
            {"multiple": True, "metavar": "PATH"}, aliases=(_plural("allow_device", "allow_devices"),),
            policy=True),
    Setting("allow_security_opt", Flag, "Runs may set security options.", ("--allow-security-opt",), _SWITCH,
            policy=True),
    Setting("allow_sysctls", Flag, "Runs may set sysctls.", ("--allow-sysctls",), _SWITCH, policy=True),
    Setting("allow_public_ports", Flag, "Runs may publish ports on every interface; without it only on "
            "127.0.0.1/::1.", ("--allow-public-ports",), _SWITCH, policy=True),
    Setting("allow_bind_roots", Names, "Host dir runs may bind.", ("--allow-bind-root",),
            {"multiple": True, "metavar": "PATH"}, aliases=(_plural("allow_bind_root", "allow_bind_roots"),),
            policy=True),
    Setting("allow_named_volumes", Flag, "Runs may mount named volumes.", ("--allow-named-volumes",), _SWITCH,
            policy=True),
    Setting("allow_runtimes", Names, "Runtime runs may use.", ("--allow-runtime",),
            {"multiple": True, "metavar": "NAME"}, aliases=(_plural("allow_runtime", "allow_runtimes"),),
            policy=True),
    Setting("allow_networks", Names, "Network runs may join.", ("--allow-network",),
            {"multiple": True, "metavar": "NAME"}, aliases=(_plural("allow_network", "allow_networks"),),
            policy=True),
    Setting("allow_gpus", Flag, "Runs may request GPUs (device_requests).", ("--allow-gpus",), _SWITCH,
            policy=True),
    Setting("max_memory", Size, "Memory limit cap (e.g. 2g), also the default limit.", ("--max-memory",),
            {"metavar": "SIZE"}, policy=True),
    Setting("max_cpus", Float, "CPU cap, also the default.", ("--max-cpus",), {"type": _POSITIVE},
            policy=True),
    Setting("max_shm_size", Size, "Largest /dev/shm a run may ask for.", ("--max-shm-size",),
            {"metavar": "SIZE"}, policy=True),
    Setting("max_pids", Int, "Process cap, also the default.", ("--max-pids",), {"type": _AT_LEAST_1},
            policy=True),
    # -- Docker Swarm --
    Setting("swarm", Flag, "Run each flow run as a Docker Swarm service (the daemon must be a Swarm "
            "manager), so Swarm places runs on its nodes.", ("--swarm",), _SWITCH),
    Setting("constraints", Names, "Swarm placement constraint of every run, e.g. node.labels.role==flows "
            "(repeatable; --swarm).", ("--constraint",), {"multiple": True, "metavar": "EXPR"},
            aliases=(_plural("constraint", "constraints"),), build=placement_constraints),
    Setting("placement_prefs", Names, "Swarm placement preference of every run: spread=node.labels.zone "
            "(repeatable; --swarm).", ("--placement-pref",), {"multiple": True, "metavar": "PREF"},
            aliases=(_plural("placement_pref", "placement_prefs"),), build=placement_preferences),
    Setting("allow_placement", Names, "Placement constraint or preference runs may ask for in their run "
            "config's placement, * matching any text (repeatable; --swarm).", ("--allow-placement",),
            {"multiple": True, "metavar": "PATTERN"}, policy=True),
    Setting("placement_timeout", Float, "Seconds a run's task may wait for a Swarm node that can take it; "
            "then the run fails saying why [default: 300] (--swarm).", ("--placement-timeout",),
            {"type": _POSITIVE}),
    # -- the loop and supervision --
    Setting("limit", Int, "Flow-run containers (or services) running at once.", ("--limit",),
            {"type": _AT_LEAST_1}),
    Setting("run_timeout", Float, "Seconds a run may take.", ("--run-timeout",), {"type": _POSITIVE}),
    Setting("cancel_grace", Float, "Seconds from SIGTERM to SIGKILL [default: 30].", ("--cancel-grace",),
            {"type": click.FloatRange(min=0)}),
    Setting("keep_containers", Flag, "Keep finished containers instead of removing them.",
            ("--keep-containers",), _SWITCH),
    Setting("lock_dir", Text, "Where the agent keeps its lock file (one per agent name and Docker daemon: a "
            "second live agent with the same name is refused) [default: $XDG_STATE_HOME/dockyard/agents or "
            "~/.local/state/dockyard/agents].", ("--lock-dir",), {"type": click.Path(file_okay=False)}),
    # -- registry logins (both make AgentConfig.registry_credentials) --
    Setting("registry_auth_file", Text, "JSON or TOML file of registry: {username, password}.",
            ("--registry-auth-file",), {"type": click.Path(dir_okay=False)}),
    Setting("registry_auth", RegistryAuth, no_flag="passwords stay off the command line: anyone can read it"),
)
# fmt: on

BY_NAME: Mapping[str, Setting] = {setting.name: setting for setting in SETTINGS}
ALIASES: Mapping[str, tuple[Setting, Alias]] = {
    alias.name: (setting, alias) for setting in SETTINGS for alias in setting.aliases
}
# AgentConfig fields made from several settings, or from the process itself.
DERIVED = {
    "registry_credentials": ("registry_auth_file", "registry_auth"),
    "working_dir": (),
    "home_dir": (),
}


# -- the command line --------------------------------------------------------------------

CONFIG_OPTION = "config_file"


def _options() -> list[Callable[[F], F]]:
    options: list[Callable[[F], F]] = []
    for setting in SETTINGS:
        if setting.flags:
            options.append(click.option(*setting.flags, setting.name, help=setting.help, **setting.cli))
        for alias in setting.aliases:
            if alias.flags:
                options.append(click.option(*alias.flags, alias.name, is_flag=True, help=alias.help))
    options.append(
        click.option(
            "--config",
            CONFIG_OPTION,
            type=click.Path(dir_okay=False),
            help="TOML config file [env: DOCKYARD_AGENT_CONFIG].",
        )
    )
    return options


def agent_options(command: F) -> F:
    """Add every agent option to a click command. Click only parses them: ``given_options``
    hands over those actually given, which win over the environment and the config file,
    so a default here never hides a setting from there."""
    for option in reversed(_options()):
        command = option(command)
    return command


def given_options(ctx: click.Context) -> dict[str, object]:
    """The agent options given on the command line, by setting (or alias) name."""
    given: dict[str, object] = {}
    for name, value in ctx.params.items():
        if name == CONFIG_OPTION or ctx.get_parameter_source(name) is not ParameterSource.COMMANDLINE:
            continue
        if name in BY_NAME or name in ALIASES:
            given[name] = list(value) if isinstance(value, tuple) else value
    return given


def config_file_option(ctx: click.Context) -> str | None:
    value = ctx.params.get(CONFIG_OPTION)
    return str(value) if value else None
