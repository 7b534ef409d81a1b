"""Agent settings: flags, environment and config file resolved into one ``AgentConfig``.

Sources, highest first: command-line flags (or library keywords), ``DOCKYARD_AGENT_*``
variables, Prefect's variables (``PREFECT__CLOUD__API``, or ``PREFECT__BACKEND`` with
``PREFECT__SERVER__ENDPOINT``/``HOST``/``PORT``...: see ``prefect_api_url``), the TOML config
file (``--config`` or ``DOCKYARD_AGENT_CONFIG``; keys are the settings' names), then
``AgentConfig``'s defaults. Every name, spelling and value type comes from the table in
``agent_settings``. Each source is read (the variables by pydantic-settings' environment
source) and checked on its own, so an error names the variable, key or keyword at fault;
within a source, the other spellings of a setting fold into it; then the sources are laid
over each other, setting by setting. ``resolve_agent_config`` is the one entry point,
shared by the CLI and the library API; every error is a ``ConfigurationError``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from dockyard.domain.agent.config import AgentConfig, RegistryCredentials, RunPolicy
from dockyard.domain.agent.validation import validate_agent_config
from dockyard.domain.errors import ConfigurationError
from dockyard.entrypoints.agent_settings import ALIASES, BY_NAME, SETTINGS
from dockyard.entrypoints.registry_auth import load_registry_credentials, registry_credentials
from dockyard.entrypoints.setting_values import Context

ENV_PREFIX = "DOCKYARD_AGENT_"
CONFIG_ENV = ENV_PREFIX + "CONFIG"

# -- what each source may hold -------------------------------------------------------------

_SPELLINGS: dict[str, Any] = {setting.name: setting.type for setting in SETTINGS} | {
    name: alias.type or setting.type for name, (setting, alias) in ALIASES.items()
}
_NOT_GIVEN: dict[str, Any] = {  # a keyword passed at its default means "not given"
    **{f.name: f.default for f in (*fields(AgentConfig), *fields(RunPolicy))},
    **{name: alias.default for name, (_, alias) in ALIASES.items()},
}
# A setting (or spelling) by name; unknown names are refused.
AgentSource: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "AgentSource",
    __config__=ConfigDict(extra="forbid"),
    **{name: (kind, None) for name, kind in _SPELLINGS.items()},
)


class _DockyardVariables(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, case_sensitive=False, extra="ignore")


DockyardEnvironment: type[BaseSettings] = create_model(  # type: ignore[call-overload]
    "DockyardEnvironment", __base__=_DockyardVariables, **dict.fromkeys(_SPELLINGS, (Any, None))
)

# Prefect's variables: those of the settings, and those the API URL is made of.
_API_SOURCES = {
    "backend": "PREFECT__BACKEND",
    "server_endpoint": "PREFECT__SERVER__ENDPOINT",
    "server_host": "PREFECT__SERVER__HOST",
    "server_port": "PREFECT__SERVER__PORT",
    "cloud_endpoint": "PREFECT__CLOUD__ENDPOINT",
}
_PREFECT_NAMES = {
    setting.name: (setting.type, setting.prefect_env) for setting in SETTINGS if setting.prefect_env
}
_PREFECT_NAMES |= {
    name: (alias.type or setting.type, alias.prefect_env)
    for name, (setting, alias) in ALIASES.items()
    if alias.prefect_env
}
_PREFECT_NAMES |= {name: (str | None, variable) for name, variable in _API_SOURCES.items()}
PrefectSource: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "PrefectSource",
    __config__=ConfigDict(extra="ignore"),
    **{
        name: (kind, Field(None, validation_alias=variable))
        for name, (kind, variable) in _PREFECT_NAMES.items()
    },
)


class _PrefectVariables(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")


PrefectEnvironment: type[BaseSettings] = create_model(  # type: ignore[call-overload]
    "PrefectEnvironment",
    __base__=_PrefectVariables,
    **{name: (Any, Field(None, validation_alias=variable)) for name, (_, variable) in _PREFECT_NAMES.items()},
)


class _RawEnvSource(EnvSettingsSource):
    """Hands each value over as the string it is: the settings read lists and maps in every
    form Prefect and dockyard accept (JSON, Python literals, comma lists)."""

    def prepare_field_value(
        self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool
    ) -> Any:
        return value


# -- resolving -------------------------------------------------------------------------------


def resolve_agent_config(
    overrides: Mapping[str, object],
    *,
    environ: Mapping[str, str] | None = None,
    config_file: str | None = None,
    host_os: str | None = None,
) -> AgentConfig:
    """The agent's settings. ``overrides`` are flags or ``DockerAgent``'s keywords, by name;
    None, an empty collection, or a keyword at its default means "not given". ``host_os``
    is the OS volume specs are read for (default: this machine's; the agent reads them again
    for the daemon's at start-up)."""
    env = dict(os.environ if environ is None else environ)
    path = config_file or env.get(CONFIG_ENV)
    sources = [
        _file_source(path) if path else {},
        _prefect_source(env),
        _dockyard_source(env),
        _keyword_source(overrides),
    ]
    given: dict[str, Any] = {}
    for source in sources:
        given.update(source)
    host = host_os or ("windows" if os.name == "nt" else "linux")
    config = _build(given, env, host)
    validate_agent_config(config, host_os=host)
    return config


def _validated(
    model: type[BaseModel], raw: Mapping[str, Any], describe: Callable[[Any], str]
) -> dict[str, Any]:
    try:
        return model.model_validate(dict(raw)).model_dump(exclude_unset=True)
    except ValidationError as exc:
        problems = "; ".join(
            f"{describe(err['loc'][0]) if err['loc'] else ''}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigurationError(f"invalid agent setting: {problems}") from None


def _checked(
    model: type[BaseModel], raw: Mapping[str, Any], describe: Callable[[Any], str]
) -> dict[str, Any]:
    """One source's values, checked (errors name the variable, key or keyword at fault), by
    setting name."""
    return _folded(_validated(model, raw, describe))


def _folded(values: Mapping[str, Any]) -> dict[str, Any]:
    """Other spellings (``label``, ``no_pull``, ``network``...) in terms of their settings,
    within one source, so that a higher source overrides them whole."""
    folded = {name: value for name, value in values.items() if name in BY_NAME}
    for name, value in values.items():
        if name in ALIASES:
            setting, alias = ALIASES[name]
            folded[setting.name] = alias.fold(value, folded.get(setting.name))
    return folded


def _file_source(path: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read the agent config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}") from None
    if isinstance(data.get("agent"), dict):  # a shared file may keep the agent's keys in [agent]
        data = data["agent"]
    return _checked(AgentSource, data, lambda key: f"{path}: {key}")


def _prefect_source(environ: Mapping[str, str]) -> dict[str, Any]:
    values = _validated(PrefectSource, _read_env(PrefectEnvironment, environ), str)
    try:
        api = prefect_api_url(values)
    except ValueError as exc:
        raise ConfigurationError(f"invalid agent setting: {exc}") from None
    if api is not None:
        values["api"] = api
    return _folded(values)


def _dockyard_source(environ: Mapping[str, str]) -> dict[str, Any]:
    known = {ENV_PREFIX + name.upper() for name in _SPELLINGS} | {CONFIG_ENV}
    unknown = sorted(
        key for key in environ if key.upper().startswith(ENV_PREFIX) and key.upper() not in known
    )
    if unknown:
        raise ConfigurationError(f"unknown agent setting(s) in the environment: {', '.join(unknown)}")
    raw = _read_env(DockyardEnvironment, environ)
    return _checked(AgentSource, raw, lambda key: ENV_PREFIX + str(key).upper())


def _read_env(settings: type[BaseSettings], environ: Mapping[str, str]) -> dict[str, Any]:
    source = _RawEnvSource(settings, case_sensitive=False)
    source.env_vars = {key.lower(): value for key, value in environ.items()}
    return {key: value for key, value in source().items() if value is not None}


def _keyword_source(overrides: Mapping[str, object]) -> dict[str, Any]:
    given = {}
    for name, value in overrides.items():
        if value is None or (isinstance(value, list | tuple | set | dict) and not value):
            continue
        if isinstance(value, bool) and value is _NOT_GIVEN.get(name):
            continue
        given[name] = value
    return _checked(AgentSource, given, str)


# -- Prefect's API URL -----------------------------------------------------------------------

PREFECT_SERVER_HOST = "http://localhost"
PREFECT_SERVER_PORT = "4200"
PREFECT_CLOUD_ENDPOINT = "https://api.prefect.io"


def prefect_api_url(values: dict[str, Any]) -> str | None:
    """The API URL Prefect 1 would use, from ``PrefectSource`` values (the variables it
    combines are removed from ``values``); None leaves dockyard's default.

    As Prefect 1's configuration does: ``PREFECT__CLOUD__API`` when set, whatever the
    backend; else with ``PREFECT__BACKEND=server`` the server endpoint
    (``PREFECT__SERVER__ENDPOINT``, else ``PREFECT__SERVER__HOST``:``PREFECT__SERVER__PORT``,
    defaults ``http://localhost`` and ``4200``); with ``PREFECT__BACKEND=cloud`` the cloud
    endpoint (``PREFECT__CLOUD__ENDPOINT``, default Prefect Cloud). Without a backend,
    dockyard's default is a server, so the server variables apply when any is given.
    """
    given = {key: str(values.pop(key)).strip() for key in _API_SOURCES if values.get(key) is not None}
    for key in _API_SOURCES:
        values.pop(key, None)
    api = values.get("api")
    backend = given.get("backend", "").lower()
    if backend not in ("", "server", "cloud"):
        raise ValueError(f"PREFECT__BACKEND must be server or cloud, not {given['backend']!r}")
    if api:
        return str(api)
    if backend == "cloud":
        return given.get("cloud_endpoint") or PREFECT_CLOUD_ENDPOINT
    server = {key: given[key] for key in ("server_endpoint", "server_host", "server_port") if given.get(key)}
    if backend == "server" or server:
        host = server.get("server_host", PREFECT_SERVER_HOST)
        return server.get("server_endpoint") or f"{host}:{server.get('server_port', PREFECT_SERVER_PORT)}"
    return None


# -- the config ------------------------------------------------------------------------------


def _build(given: Mapping[str, Any], env: Mapping[str, str], host_os: str) -> AgentConfig:
    context = Context(host_os=host_os, working_dir=str(Path.cwd()), home_dir=_home())
    values: dict[str, Any] = {}
    for name, value in given.items():
        if value is None or value == "":  # an empty variable, say: not given
            continue
        build = BY_NAME[name].build
        values[name] = build(value, context) if build else value
    policy = {name: values.pop(name) for name in list(values) if BY_NAME[name].policy}
    logins = _registry_credentials(values.pop("registry_auth_file", None), values.pop("registry_auth", None))
    lock_dir = _lock_dir(values.pop("lock_dir", None), env)
    return AgentConfig(
        **values,
        policy=RunPolicy(**policy),
        registry_credentials=logins,
        working_dir=context.working_dir,
        home_dir=context.home_dir,
        lock_dir=lock_dir,
    )


def _registry_credentials(
    path: str | None, table: Mapping[str, Any] | None
) -> tuple[RegistryCredentials, ...]:
    """The auth file's logins, then ``registry_auth``'s, which win for the same registry."""
    from_file = load_registry_credentials(path) if path else ()
    given = registry_credentials(table, where="registry_auth") if table else ()
    by_registry = {credentials.registry: credentials for credentials in (*from_file, *given)}
    return tuple(by_registry.values())


def _lock_dir(given: str | None, env: Mapping[str, str]) -> str | None:
    """``given`` (``~`` expanded), else ``$XDG_STATE_HOME/dockyard/agents``, else
    ``~/.local/state/dockyard/agents``; None when there is no home to put it in."""
    if given:
        return str(Path(given).expanduser())
    if env.get("XDG_STATE_HOME"):
        return str(Path(env["XDG_STATE_HOME"]) / "dockyard" / "agents")
    home = _home()
    return str(Path(home) / ".local" / "state" / "dockyard" / "agents") if home else None


def _home() -> str | None:
    try:
        return str(Path.home())
    except RuntimeError:  # no HOME and no passwd entry: ~ cannot be expanded
        return None
