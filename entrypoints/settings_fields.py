"""The agent's settings as pydantic fields: every one optional (None: not given here),
read from TOML values, library keywords, or environment strings alike.

Lists accept a JSON or Python list literal or a comma-separated string (so
``PREFECT__CLOUD__AGENT__LABELS=dev`` is ``["dev"]``, not three letters); volume specs,
whose modes contain commas, are separated by ``;`` or newlines instead. Env maps accept a
dict literal, a list of ``KEY=VALUE``, or ``KEY=VALUE`` lines.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from dockyard.domain.agent.config import PullPolicy
from dockyard.domain.agent.host_values import parse_size
from dockyard.entrypoints.registry_auth import parse_registry_auth


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


def _names(value: Any) -> tuple[str, ...] | None:
    return _strings(value, r",")


def _specs(value: Any) -> tuple[str, ...] | None:
    return _strings(value, r"[;\n]")


def _env_map(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        value = _literal(text) if text.startswith(("{", "[")) else text.splitlines()
    if isinstance(value, list | tuple):
        pairs = [str(item).partition("=") for item in value if str(item).strip()]
        if any(not sep for _, sep, _ in pairs):
            raise ValueError("entries must be KEY=VALUE")
        value = {key.strip(): item for key, _, item in pairs}
    if not isinstance(value, dict):
        raise ValueError("must be a map of NAME: value")
    return {str(key): str(item) for key, item in value.items()}


def normalize_agent_address(text: str) -> str:
    """``127.0.0.1:8080``, ``http://127.0.0.1:8080`` or ``:8080`` → ``http://HOST:PORT``; a
    missing host binds loopback only (Prefect 1 needed the scheme and bound everything)."""
    raw = text.strip() if "://" in text else "http://" + text.strip()
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        parts, port = urlsplit("invalid://"), None
    if parts.scheme != "http" or port is None or parts.path not in ("", "/") or parts.query:
        raise ValueError(f"--agent-address {text!r} must be [http://]HOST:PORT, e.g. 127.0.0.1:8080")
    host = parts.hostname or "127.0.0.1"
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def _address(value: Any) -> str | None:
    return normalize_agent_address(str(value)) if value else None


def _size(value: Any) -> int | None:
    return None if value is None else parse_size(value)


def _level(value: Any) -> str | None:
    return None if value is None else str(value).strip().upper()


def _pull_policy(value: Any) -> PullPolicy | None:
    if value is None or isinstance(value, PullPolicy):
        return value
    text = str(value).strip().lower().replace("_", "-")
    try:
        return PullPolicy({"ifnotpresent": "if-not-present"}.get(text, text))
    except ValueError:
        raise ValueError("must be always, if-not-present or never") from None


Names = Annotated[tuple[str, ...] | None, BeforeValidator(_names)]
Specs = Annotated[tuple[str, ...] | None, BeforeValidator(_specs)]
EnvMap = Annotated[dict[str, str] | None, BeforeValidator(_env_map)]
Size = Annotated[int | None, BeforeValidator(_size)]
Level = Annotated[str | None, BeforeValidator(_level)]
Address = Annotated[str | None, BeforeValidator(_address)]
Policy = Annotated[PullPolicy | None, BeforeValidator(_pull_policy)]
RegistryAuth = Annotated[dict[str, Any] | None, BeforeValidator(parse_registry_auth)]


class AgentFields(BaseModel):
    """Every agent option by its library keyword name."""

    model_config = ConfigDict(extra="forbid")

    api: str | None = None
    key: str | None = None
    tenant_id: str | None = None
    agent_config_id: str | None = None
    name: str | None = None
    labels: Names = None
    env_vars: EnvMap = None
    max_polls: int | None = None
    agent_address: Address = None
    no_cloud_logs: bool | None = False
    log_level: Level = None
    logging_level: Level = None
    base_url: str | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_verify: bool | None = None
    no_pull: bool | None = False
    show_flow_logs: bool | None = False
    volumes: Specs = None
    network: Names = None
    networks: Names = None
    docker_interface: bool | None = True
    no_docker_interface: bool | None = False
    docker_client_timeout: float | None = None
    reg_allow_list: Names = None
    pull_policy: Policy = None
    allow_images: Names = None
    limit: int | None = None
    run_timeout: float | None = None
    cancel_grace: float | None = None
    keep_containers: bool | None = False
    lock_dir: str | None = None
    registry_auth_file: str | None = None
    registry_auth: RegistryAuth = None  # no command-line flag: passwords stay off the command line
    # -- what runs may ask for (RunPolicy) --
    allow_privileged: bool | None = False
    allow_cap_add: Names = None
    allow_host_namespaces: bool | None = False
    allow_devices: Names = None
    allow_security_opt: bool | None = False
    allow_sysctls: bool | None = False
    allow_public_ports: bool | None = False
    allow_bind_roots: Names = None
    allow_named_volumes: bool | None = False
    allow_runtimes: Names = None
    allow_networks: Names = None
    allow_gpus: bool | None = False
    max_memory: Size = None
    max_cpus: float | None = None
    max_shm_size: Size = None
    max_pids: int | None = None


class PrefectFields(BaseModel):
    """The Prefect 1 variables an agent reads, by their environment names. The API URL
    comes from several of them, combined by ``prefect_api_url``."""

    model_config = ConfigDict(extra="ignore")

    api: str | None = Field(None, validation_alias="PREFECT__CLOUD__API")
    backend: str | None = Field(None, validation_alias="PREFECT__BACKEND")
    server_endpoint: str | None = Field(None, validation_alias="PREFECT__SERVER__ENDPOINT")
    server_host: str | None = Field(None, validation_alias="PREFECT__SERVER__HOST")
    server_port: str | None = Field(None, validation_alias="PREFECT__SERVER__PORT")
    cloud_endpoint: str | None = Field(None, validation_alias="PREFECT__CLOUD__ENDPOINT")
    key: str | None = Field(None, validation_alias="PREFECT__CLOUD__API_KEY")
    tenant_id: str | None = Field(None, validation_alias="PREFECT__CLOUD__TENANT_ID")
    name: str | None = Field(None, validation_alias="PREFECT__CLOUD__AGENT__NAME")
    labels: Names = Field(None, validation_alias="PREFECT__CLOUD__AGENT__LABELS")
    log_level: Level = Field(None, validation_alias="PREFECT__CLOUD__AGENT__LEVEL")
    agent_address: Address = Field(None, validation_alias="PREFECT__CLOUD__AGENT__AGENT_ADDRESS")
    env_vars: EnvMap = Field(None, validation_alias="PREFECT__CLOUD__AGENT__ENV_VARS")
    send_flow_run_logs: bool | None = Field(None, validation_alias="PREFECT__CLOUD__SEND_FLOW_RUN_LOGS")
    base_url: str | None = Field(None, validation_alias="PREFECT__CONTEXT__BASE_URL")
    no_pull: bool | None = Field(None, validation_alias="PREFECT__CONTEXT__NO_PULL")
    logging_level: Level = Field(None, validation_alias="PREFECT__LOGGING__LEVEL")


PREFECT_SERVER_HOST = "http://localhost"
PREFECT_SERVER_PORT = "4200"
PREFECT_CLOUD_ENDPOINT = "https://api.prefect.io"
_API_SOURCES = ("backend", "server_endpoint", "server_host", "server_port", "cloud_endpoint")


def prefect_api_url(values: dict[str, Any]) -> str | None:
    """The API URL Prefect 1 would use, from ``PrefectFields`` values (the variables it
    combines are removed from ``values``); None leaves dockyard's default.

    As Prefect 1's configuration does: ``PREFECT__CLOUD__API`` when set, whatever the
    backend; else with ``PREFECT__BACKEND=server`` the server endpoint
    (``PREFECT__SERVER__ENDPOINT``, else ``PREFECT__SERVER__HOST``:``PREFECT__SERVER__PORT``,
    defaults ``http://localhost`` and ``4200``); with ``PREFECT__BACKEND=cloud`` the cloud
    endpoint (``PREFECT__CLOUD__ENDPOINT``, default Prefect Cloud). Without a backend,
    dockyard's default is a server, so the server variables apply when any is given.
    """
    given = {key: str(values.pop(key)).strip() for key in _API_SOURCES if values.get(key) is not None}
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
