"""Every agent setting, once: its name, its command-line flags, its other spellings, and how
its values read.

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

import ast
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

import click
from click.core import ParameterSource
from pydantic import BeforeValidator

from dockyard.domain.agent.config import PullPolicy
from dockyard.domain.agent.host_values import parse_size
from dockyard.domain.agent.image_policy import parse_image_pattern, parse_registry_entry
from dockyard.domain.agent.volumes import parse_volume_specs
from dockyard.domain.errors import ConfigurationError
from dockyard.entrypoints.key_values import parse_key_values
from dockyard.entrypoints.registry_auth import parse_registry_auth

F = TypeVar("F", bound=Callable[..., Any])

# -- how values read ---------------------------------------------------------------------
#
# Values come as TOML values, library keywords or environment strings alike. Lists accept a
# JSON or Python list literal or a comma-separated string (so PREFECT__CLOUD__AGENT__LABELS=dev
# is ["dev"], not three letters); volume specs, whose modes contain commas, are separated by
# ";" or newlines instead. Env maps accept a dict literal, a list of KEY=VALUE, or KEY=VALUE
# lines.


def _literal(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise ValueError(f"{text!r} is not a JSON or Python literal") from None


def _strings(value: Any, separators: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        value = _literal(text) if text.startswith(("[", "(")) else re.split(separators, text)
    if not isinstance(value, list | tuple | set):
        raise ValueError("must be a list of strings")
    if not all(isinstance(item, str | int) and not isinstance(item, bool) for item in value):
        raise ValueError("must be a list of strings")
    return tuple(text for text in (str(item).strip() for item in value) if text)


def _env_map(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        value = _literal(text) if text.startswith(("{", "[")) else text.splitlines()
    if isinstance(value, list | tuple):
        pairs = parse_key_values(str(item) for item in value if str(item).strip())
        value = {key.strip(): item for key, item in pairs.items()}
    if not isinstance(value, dict):
        raise ValueError("must be a map of NAME: value")
    return {str(key): str(item) for key, item in value.items()}


def parse_agent_address(text: str) -> tuple[str, int]:
    """``127.0.0.1:8080``, ``http://127.0.0.1:8080`` or ``:8080`` → (host, port); a missing
    host is loopback (never every interface by accident; Prefect 1 needed the scheme and
    bound everything). Raises ``ValueError`` saying what is expected."""
    raw = text.strip() if "://" in text else "http://" + text.strip()
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        parts, port = urlsplit("invalid://"), None
    if parts.scheme != "http" or port is None or parts.path not in ("", "/") or parts.query:
        raise ValueError(f"--agent-address {text!r} must be [http://]HOST:PORT, e.g. 127.0.0.1:8080")
    return parts.hostname or "127.0.0.1", port


def normalize_agent_address(text: str) -> str:
    """The address as ``http://HOST:PORT`` (``parse_agent_address``)."""
    host, port = parse_agent_address(text)
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def _pull_policy(value: Any) -> Any:
    if value is None or isinstance(value, PullPolicy) or value is DEFAULT_PULL:
        return value
    text = str(value).strip().lower().replace("_", "-")
    try:
        return PullPolicy({"ifnotpresent": "if-not-present"}.get(text, text))
    except ValueError:
        raise ValueError("must be always, if-not-present or never") from None


def _optional(parse: Callable[[Any], Any]) -> BeforeValidator:
    return BeforeValidator(lambda value: None if value is None else parse(value))


Text = str | None
Flag = bool | None
Names = Annotated[tuple[str, ...] | None, BeforeValidator(lambda value: _strings(value, r","))]
Specs = Annotated[tuple[str, ...] | None, BeforeValidator(lambda value: _strings(value, r"[;\n]"))]
EnvMap = Annotated[dict[str, str] | None, BeforeValidator(_env_map)]
Size = Annotated[int | None, _optional(parse_size)]
Level = Annotated[str | None, _optional(lambda value: str(value).strip().upper())]
Address = Annotated[
    str | None, BeforeValidator(lambda value: normalize_agent_address(value) if value else None)
]
Policy = Annotated[PullPolicy | None, BeforeValidator(_pull_policy)]
RegistryAuth = Annotated[dict[str, Any] | None, BeforeValidator(parse_registry_auth)]

# "no_pull: false" in a source: the default pull behaviour, even over a lower source's no_pull.
DEFAULT_PULL: Any = "default"


# -- building AgentConfig's values -------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What a setting's value is read against when ``AgentConfig`` is built."""

    host_os: str  # the Docker daemon's OS, as far as known: how volume specs read
    working_dir: str | None  # where relative host paths resolve
    home_dir: str | None  # what ~ expands to


def _labels(value: tuple[str, ...], context: Context) -> tuple[str, ...]:
    return tuple(sorted(set(value)))


def _tenant(value: str, context: Context) -> str:
    try:
        uuid.UUID(value)
    except ValueError:
        raise ConfigurationError(f"the tenant id {value!r} must be a valid UUID") from None
    return value


def _volumes(value: tuple[str, ...], context: Context) -> Any:
    return parse_volume_specs(
        value, host_os=context.host_os, working_dir=context.working_dir, home_dir=context.home_dir
    )


def _registries(value: tuple[str, ...], context: Context) -> Any:
    return tuple(parse_registry_entry(entry) for entry in value)


def _image_patterns(value: tuple[str, ...], context: Context) -> Any:
    return tuple(parse_image_pattern(pattern) for pattern in value)


def _policy_or_default(value: Any, context: Context) -> Any:
    return None if value is DEFAULT_PULL else value


# -- the table ---------------------------------------------------------------------------

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


def _negative(alias: str, name: str, flag: str, help: str, *, prefect_env: str | None = None) -> Alias:
    return Alias(alias, _negated(alias, name), Flag, (flag,), help, prefect_env, default=False)


def _pairs(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    try:
        return parse_key_values(values)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


_SECONDS = click.FloatRange(min=0, min_open=True)
_LEVELS = click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], case_sensitive=False)

SETTINGS: tuple[Setting, ...] = (
    # -- identity and backend --
    Setting(
        "api",
        Text,
        "The backend's GraphQL API URL [default: http://127.0.0.1:4200].",
        ("-a", "--api"),
        prefect_env="PREFECT__CLOUD__API",
    ),
    Setting(
        "key",
        Text,
        "API key for the backend (prefer PREFECT__CLOUD__API_KEY).",
        ("-k", "--key"),
        prefect_env="PREFECT__CLOUD__API_KEY",
    ),
    Setting(
        "tenant_id",
        Text,
        "Tenant to serve (a UUID).",
        ("--tenant-id",),
        prefect_env="PREFECT__CLOUD__TENANT_ID",
        build=_tenant,
    ),
    Setting("agent_config_id", Text, "Backend agent configuration to register with.", ("--agent-config-id",)),
    Setting(
        "name",
        Text,
        "Agent name [default: agent].",
        ("-n", "--name"),
        prefect_env="PREFECT__CLOUD__AGENT__NAME",
    ),
    Setting(
        "labels",
        Names,
        "Serve runs with this label (repeatable).",
        ("-l", "--label"),
        cli={"multiple": True},
        prefect_env="PREFECT__CLOUD__AGENT__LABELS",
        aliases=(_plural("label", "labels"),),
        build=_labels,
    ),
    # -- what flow containers get --
    Setting(
        "env_vars",
        EnvMap,
        "Environment variable for every flow run (repeatable).",
        ("-e", "--env"),
        cli={"multiple": True, "callback": _pairs, "metavar": "KEY=VALUE"},
        prefect_env="PREFECT__CLOUD__AGENT__ENV_VARS",
        aliases=(_plural("env", "env_vars"),),
    ),
    Setting(
        "max_polls",
        int | None,
        "Stop after this many polls.",
        ("--max-polls",),
        cli={"type": click.IntRange(min=0)},
    ),
    Setting(
        "agent_address",
        Address,
        "Serve /api/health and /api/poke at [http://]HOST:PORT.",
        ("--agent-address",),
        prefect_env="PREFECT__CLOUD__AGENT__AGENT_ADDRESS",
    ),
    Setting(
        "send_flow_run_logs",
        Flag,
        prefect_env="PREFECT__CLOUD__SEND_FLOW_RUN_LOGS",
        aliases=(
            _negative(
                "no_cloud_logs",
                "send_flow_run_logs",
                "--no-cloud-logs",
                "Flow runs do not send their logs to the backend.",
            ),
        ),
    ),
    Setting(
        "log_level",
        Level,
        "The agent's log level [default: INFO].",
        ("--log-level",),
        cli={"type": _LEVELS},
        prefect_env="PREFECT__CLOUD__AGENT__LEVEL",
    ),
    Setting(
        "logging_level",
        Level,
        prefect_env="PREFECT__LOGGING__LEVEL",
        no_flag="Prefect's variable for flow runs",
    ),
    # -- the Docker daemon --
    Setting(
        "base_url",
        Text,
        "Docker daemon URL [default: DOCKER_HOST or the local socket].",
        ("-b", "--base-url"),
        prefect_env="PREFECT__CONTEXT__BASE_URL",
    ),
    Setting(
        "tls_ca",
        Text,
        "CA certificate the tcp:// daemon's certificate is checked against.",
        ("--tls-ca",),
        cli={"metavar": "PATH"},
    ),
    Setting(
        "tls_cert",
        Text,
        "Client certificate for the daemon (with --tls-key).",
        ("--tls-cert",),
        cli={"metavar": "PATH"},
    ),
    Setting("tls_key", Text, "The client certificate's private key.", ("--tls-key",), {"metavar": "PATH"}),
    Setting(
        "tls_verify",
        Flag,
        "Check the daemon's certificate [default: when --tls-ca is given]. Without "
        "--base-url, DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH apply (--tls-* options win).",
        ("--tls-verify/--no-tls-verify",),
        cli={"default": None},
    ),
    Setting(
        "pull_policy",
        Policy,
        "[default: always for :latest or untagged, else if-not-present]",
        ("--pull-policy",),
        cli={"type": click.Choice(["always", "if-not-present", "never"])},
        aliases=(
            Alias(
                "no_pull",
                _no_pull,
                Flag,
                ("--no-pull",),
                "Never pull images (same as --pull-policy never).",
                "PREFECT__CONTEXT__NO_PULL",
                default=False,
            ),
        ),
        build=_policy_or_default,
    ),
    Setting(
        "show_flow_logs",
        Flag,
        "Print flow-run container output.",
        ("-f", "--show-flow-logs"),
        cli={"is_flag": True},
    ),
    Setting(
        "volumes",
        Specs,
        "Mount SRC:DST[:MODE] in every run (repeatable).",
        ("--volume",),
        cli={"multiple": True},
        aliases=(_plural("volume", "volumes"),),
        build=_volumes,
    ),
    Setting(
        "networks",
        Names,
        "Docker network for every run (repeatable).",
        ("--network",),
        cli={"multiple": True},
        aliases=(Alias("network", _first_then),),
    ),  # Prefect's single network comes first
    Setting(
        "docker_interface",
        Flag,
        aliases=(
            _negative(
                "no_docker_interface",
                "docker_interface",
                "--no-docker-interface",
                "Do not add host.docker.internal:host-gateway.",
            ),
        ),
    ),
    Setting(
        "docker_client_timeout",
        float | None,
        "Seconds [default: 60].",
        ("--docker-client-timeout",),
        cli={"type": _SECONDS},
    ),
    # -- images --
    Setting(
        "reg_allow_list",
        Names,
        "Allowed registry or Docker Hub namespace (repeatable).",
        ("--reg-allow-list",),
        cli={"multiple": True},
        build=_registries,
    ),
    Setting(
        "allow_images",
        Names,
        "Allowed image pattern, * and ** (repeatable).",
        ("--allow-image",),
        cli={"multiple": True},
        aliases=(_plural("allow_image", "allow_images"),),
        build=_image_patterns,
    ),
    # -- what runs may ask for (RunPolicy) --
    Setting(
        "allow_privileged",
        Flag,
        "Runs may ask for privileged mode.",
        ("--allow-privileged",),
        cli={"is_flag": True},
        policy=True,
    ),
    Setting(
        "allow_cap_add",
        Names,
        "Capability runs may add, or ALL (repeatable).",
        ("--allow-cap-add",),
        cli={"multiple": True, "metavar": "CAP"},
        policy=True,
    ),
    Setting(
        "allow_host_namespaces",
        Flag,
        "Runs may use host or container: namespaces.",
        ("--allow-host-namespaces",),
        cli={"is_flag": True},
        policy=True,
    ),
    Setting(
        "allow_devices",
        Names,
        "Device runs may use.",
        ("--allow-device",),
        cli={"multiple": True, "metavar": "PATH"},
        aliases=(_plural("allow_device", "allow_devices"),),
        policy=True,
    ),
    Setting(
        "allow_security_opt",
        Flag,
        "Runs may set security options.",
        ("--allow-security-opt",),
        cli={"is_flag": True},
        policy=True,
    ),
    Setting(
        "allow_sysctls", Flag, "Runs may set sysctls.", ("--allow-sysctls",), {"is_flag": True}, policy=True
    ),
    Setting(
        "allow_public_ports",
        Flag,
        "Runs may publish ports on every interface; without it only on 127.0.0.1/::1.",
        ("--allow-public-ports",),
        cli={"is_flag": True},
        policy=True,
    ),
    Setting(
        "allow_bind_roots",
        Names,
        "Host dir runs may bind.",
        ("--allow-bind-root",),
        cli={"multiple": True, "metavar": "PATH"},
        aliases=(_plural("allow_bind_root", "allow_bind_roots"),),
        policy=True,
    ),
    Setting(
        "allow_named_volumes",
        Flag,
        "Runs may mount named volumes.",
        ("--allow-named-volumes",),
        cli={"is_flag": True},
        policy=True,
    ),
    Setting(
        "allow_runtimes",
        Names,
        "Runtime runs may use.",
        ("--allow-runtime",),
        cli={"multiple": True, "metavar": "NAME"},
        aliases=(_plural("allow_runtime", "allow_runtimes"),),
        policy=True,
    ),
    Setting(
        "allow_networks",
        Names,
        "Network runs may join.",
        ("--allow-network",),
        cli={"multiple": True, "metavar": "NAME"},
        aliases=(_plural("allow_network", "allow_networks"),),
        policy=True,
    ),
    Setting(
        "allow_gpus",
        Flag,
        "Runs may request GPUs (device_requests).",
        ("--allow-gpus",),
        cli={"is_flag": True},
        policy=True,
    ),
    Setting(
        "max_memory",
        Size,
        "Memory limit cap (e.g. 2g), also the default limit.",
        ("--max-memory",),
        cli={"metavar": "SIZE"},
        policy=True,
    ),
    Setting(
        "max_cpus",
        float | None,
        "CPU cap, also the default.",
        ("--max-cpus",),
        cli={"type": _SECONDS},
        policy=True,
    ),
    Setting(
        "max_shm_size",
        Size,
        "Largest /dev/shm a run may ask for.",
        ("--max-shm-size",),
        cli={"metavar": "SIZE"},
        policy=True,
    ),
    Setting(
        "max_pids",
        int | None,
        "Process cap, also the default.",
        ("--max-pids",),
        cli={"type": click.IntRange(min=1)},
        policy=True,
    ),
    # -- the loop and supervision --
    Setting(
        "limit",
        int | None,
        "Flow-run containers running at once.",
        ("--limit",),
        cli={"type": click.IntRange(min=1)},
    ),
    Setting("run_timeout", float | None, "Seconds a run may take.", ("--run-timeout",), {"type": _SECONDS}),
    Setting(
        "cancel_grace",
        float | None,
        "Seconds from SIGTERM to SIGKILL [default: 30].",
        ("--cancel-grace",),
        cli={"type": click.FloatRange(min=0)},
    ),
    Setting(
        "keep_containers",
        Flag,
        "Keep finished containers instead of removing them.",
        ("--keep-containers",),
        cli={"is_flag": True},
    ),
    Setting(
        "lock_dir",
        Text,
        "Where the agent keeps its lock file (one per agent name and Docker daemon: a second "
        "live agent with the same name is refused) [default: $XDG_STATE_HOME/dockyard/agents or "
        "~/.local/state/dockyard/agents].",
        ("--lock-dir",),
        cli={"type": click.Path(file_okay=False)},
    ),
    # -- registry logins (AgentConfig.registry_credentials, from both) --
    Setting(
        "registry_auth_file",
        Text,
        "JSON or TOML file of registry: {username, password}.",
        ("--registry-auth-file",),
        cli={"type": click.Path(dir_okay=False)},
    ),
    Setting(
        "registry_auth",
        RegistryAuth,
        no_flag="passwords stay off the command line, where anyone can read them",
    ),
)

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
