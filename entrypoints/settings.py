"""Agent settings: flags, environment and config file resolved into one ``AgentConfig``.

Precedence, highest first: command-line flags (or library keywords), ``DOCKYARD_AGENT_*``
variables, Prefect's variables (``PREFECT__CLOUD__API``, or ``PREFECT__BACKEND`` with
``PREFECT__SERVER__ENDPOINT``/``HOST``/``PORT``...: see ``prefect_api_url``), the TOML config file
(``--config`` or ``DOCKYARD_AGENT_CONFIG``; keys are the option names with underscores),
then defaults. ``resolve_agent_config`` is the one entry point, shared by the CLI and the
library API; every error is a ``ConfigurationError`` saying which setting is wrong.
"""

from __future__ import annotations

import os
import tomllib
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from dockyard.domain.agent.config import DEFAULT_API, AgentConfig, PullPolicy, RegistryCredentials, RunPolicy
from dockyard.domain.agent.validation import validate_agent_config
from dockyard.domain.errors import ConfigurationError
from dockyard.entrypoints.registry_auth import load_registry_credentials, registry_credentials
from dockyard.entrypoints.settings_fields import AgentFields, PrefectFields, prefect_api_url

ENV_PREFIX = "DOCKYARD_AGENT_"
CONFIG_ENV = ENV_PREFIX + "CONFIG"
# Option names (and the legacy singular forms) accepted for the library's plural keys.
ALIASES = {
    "label": "labels",
    "env": "env_vars",
    "volume": "volumes",
    "allow_image": "allow_images",
    "allow_device": "allow_devices",
    "allow_bind_root": "allow_bind_roots",
    "allow_runtime": "allow_runtimes",
    "allow_network": "allow_networks",
}
_DEFAULT_PULL = "default"  # a layer that says "no_pull=False": the default pull behaviour


class DockyardEnvironment(BaseSettings, AgentFields):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, case_sensitive=False, extra="forbid")


class PrefectEnvironment(BaseSettings, PrefectFields):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")


class _RawEnvSource(EnvSettingsSource):
    """Hands each value over as the string it is: the fields read lists and maps in every
    form Prefect and dockyard accept (JSON, Python literals, comma lists)."""

    def prepare_field_value(
        self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool
    ) -> Any:
        return value


def resolve_agent_config(
    overrides: Mapping[str, object],
    *,
    environ: Mapping[str, str] | None = None,
    config_file: str | None = None,
    host_os: str | None = None,
) -> AgentConfig:
    """The agent's settings. ``overrides`` use ``DockerAgent``'s keyword names; None, an
    empty collection, or a boolean at its default means "not given". ``host_os`` is the
    OS volume specs are checked for (default: this machine's; the agent checks again
    against the daemon's at start-up)."""
    env = dict(os.environ if environ is None else environ)
    path = config_file or env.get(CONFIG_ENV)
    layers = [
        _file_layer(path) if path else {},
        _prefect_layer(env),
        _dockyard_layer(env),
        _override_layer(overrides),
    ]
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    config = _build(merged, env)
    validate_agent_config(config, host_os=host_os or ("windows" if os.name == "nt" else "linux"))
    return config


# -- layers ------------------------------------------------------------------------------


def _validated(model: type[BaseModel], raw: Mapping[str, Any], describe: Any) -> dict[str, Any]:
    try:
        values = model.model_validate(dict(raw)).model_dump(exclude_unset=True)
    except ValidationError as exc:
        problems = "; ".join(
            f"{describe(err['loc'][0]) if err['loc'] else ''}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigurationError(f"invalid agent setting: {problems}") from None
    return _normalised(values)


def _file_layer(path: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read the agent config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}") from None
    if isinstance(data.get("agent"), dict):  # a shared file may keep the agent's keys in [agent]
        data = data["agent"]
    return _validated(AgentFields, _renamed(data), lambda key: f"{path}: {key}")


def _prefect_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    values = _validated(PrefectFields, _read_env(PrefectEnvironment, environ), str)
    try:
        api = prefect_api_url(values)
    except ValueError as exc:
        raise ConfigurationError(f"invalid agent setting: {exc}") from None
    if api is not None:
        values["api"] = api
    return values


def _dockyard_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    known = {ENV_PREFIX + name.upper() for name in [*AgentFields.model_fields, *ALIASES]} | {CONFIG_ENV}
    unknown = sorted(
        key for key in environ if key.upper().startswith(ENV_PREFIX) and key.upper() not in known
    )
    if unknown:
        raise ConfigurationError(f"unknown agent setting(s) in the environment: {', '.join(unknown)}")
    renamed = {_canonical_env_name(key): value for key, value in environ.items()}
    raw = _read_env(DockyardEnvironment, renamed)
    return _validated(AgentFields, raw, lambda key: ENV_PREFIX + str(key).upper())


def _canonical_env_name(key: str) -> str:
    name = key.upper().removeprefix(ENV_PREFIX).lower()
    return (
        ENV_PREFIX + ALIASES[name].upper() if key.upper().startswith(ENV_PREFIX) and name in ALIASES else key
    )


def _read_env(settings: type[BaseSettings], environ: Mapping[str, str]) -> dict[str, Any]:
    source = _RawEnvSource(settings, case_sensitive=False)
    source.env_vars = {key.lower(): value for key, value in environ.items()}
    return dict(source())


def _override_layer(overrides: Mapping[str, object]) -> dict[str, Any]:
    given = {}
    for key, value in _renamed(dict(overrides)).items():
        default = AgentFields.model_fields[key].default if key in AgentFields.model_fields else None
        if value is None or (isinstance(value, list | tuple | set | dict) and not value):
            continue
        if isinstance(value, bool) and value is default:
            continue
        given[key] = value
    return _validated(AgentFields, given, str)


def _renamed(values: Mapping[str, Any]) -> dict[str, Any]:
    return {ALIASES.get(key, key): value for key, value in values.items()}


def _normalised(values: dict[str, Any]) -> dict[str, Any]:
    """One layer in final terms: the legacy and negative switches folded into the
    settings they stand for, within the layer, so a higher layer overrides them whole."""
    if "network" in values:
        values["networks"] = tuple(values.pop("network")) + tuple(values.get("networks") or ())
    if "no_docker_interface" in values:
        values["docker_interface"] = not values.pop("no_docker_interface")
    if "send_flow_run_logs" in values:
        values["no_cloud_logs"] = not values.pop("send_flow_run_logs")
    if "no_pull" in values:
        no_pull = values.pop("no_pull")
        policy = values.get("pull_policy")
        if no_pull and policy not in (None, PullPolicy.NEVER):
            raise ConfigurationError(f"no_pull contradicts pull_policy {policy.value}")
        values.setdefault("pull_policy", PullPolicy.NEVER if no_pull else _DEFAULT_PULL)
    return values


# -- the config --------------------------------------------------------------------------


def _build(m: Mapping[str, Any], env: Mapping[str, str]) -> AgentConfig:
    tenant_id = m.get("tenant_id")
    if tenant_id:
        try:
            uuid.UUID(tenant_id)
        except ValueError:
            raise ConfigurationError(f"the tenant id {tenant_id!r} must be a valid UUID") from None
    policy = m.get("pull_policy")
    return AgentConfig(
        name=m.get("name") or "agent",
        labels=tuple(sorted(set(m.get("labels") or ()))),
        api_url=m.get("api") or DEFAULT_API,
        api_key=m.get("key") or None,
        tenant_id=tenant_id or None,
        agent_config_id=m.get("agent_config_id") or None,
        env_vars=dict(m.get("env_vars") or {}),
        log_to_cloud=not m.get("no_cloud_logs", False),
        logging_level=m.get("logging_level") or "INFO",
        volumes=tuple(m.get("volumes") or ()),
        networks=tuple(m.get("networks") or ()),
        docker_interface=m.get("docker_interface", True),
        working_dir=str(Path.cwd()),
        home_dir=_home(),
        pull_policy=None if policy == _DEFAULT_PULL else policy,
        reg_allow_list=tuple(m.get("reg_allow_list") or ()),
        allow_images=tuple(m.get("allow_images") or ()),
        registry_credentials=_registry_credentials(m),
        policy=RunPolicy(**{name: m[name] for name in RunPolicy.__dataclass_fields__ if name in m}),
        base_url=m.get("base_url") or None,
        docker_client_timeout=m.get("docker_client_timeout") or 60.0,
        tls_ca_cert=m.get("tls_ca") or None,
        tls_client_cert=m.get("tls_cert") or None,
        tls_client_key=m.get("tls_key") or None,
        tls_verify=m.get("tls_verify"),
        max_polls=m.get("max_polls"),
        agent_address=m.get("agent_address") or None,
        show_flow_logs=m.get("show_flow_logs", False),
        limit=m.get("limit"),
        run_timeout=m.get("run_timeout"),
        cancel_grace=m.get("cancel_grace", 30.0),
        keep_containers=m.get("keep_containers", False),
        log_level=m.get("log_level") or "INFO",
        lock_dir=_lock_dir(m.get("lock_dir"), env),
    )


def _registry_credentials(m: Mapping[str, Any]) -> tuple[RegistryCredentials, ...]:
    """The auth file's logins, then ``registry_auth``'s, which win for the same registry."""
    from_file = load_registry_credentials(m["registry_auth_file"]) if m.get("registry_auth_file") else ()
    given = registry_credentials(m["registry_auth"], where="registry_auth") if m.get("registry_auth") else ()
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
