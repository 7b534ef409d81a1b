"""Registry logins from ``--registry-auth-file`` or the ``DOCKYARD_AGENT_REGISTRY_AUTH``
variable (JSON): never from the command line, where any user of the machine could read them."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dockyard.domain.agent.config import RegistryCredentials
from dockyard.domain.agent.image_policy import normalize_registry_host
from dockyard.domain.errors import ConfigurationError


def load_registry_credentials(path: str) -> tuple[RegistryCredentials, ...]:
    """``{registry: {username, password}}`` from a JSON or TOML file; registry hosts are
    normalised (``index.docker.io`` is ``docker.io``)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read the registry auth file {path}: {exc.strerror}") from None
    data = _parse_mapping(text, toml_first=path.endswith(".toml"))
    if data is None:
        raise ConfigurationError(f"the registry auth file {path} is not a JSON or TOML table of registries")
    return registry_credentials(data, where=path)


def registry_credentials(data: Mapping[str, Any], *, where: str) -> tuple[RegistryCredentials, ...]:
    """The logins of a ``{registry: {username, password}}`` table; ``where`` names its source
    in errors (never its values)."""
    credentials = []
    for registry, login in data.items():
        username = login.get("username") if isinstance(login, Mapping) else None
        password = login.get("password") if isinstance(login, Mapping) else None
        if not isinstance(username, str) or not isinstance(password, str):
            raise ConfigurationError(f"{where}: {registry!r} needs a username and a password")
        credentials.append(RegistryCredentials(normalize_registry_host(registry), username, password))
    return tuple(credentials)


def parse_registry_auth(value: Any) -> dict[str, Any] | None:
    """``registry_auth`` as a setting: a table, or its JSON text (``DOCKYARD_AGENT_REGISTRY_AUTH``)."""
    if value is None or isinstance(value, Mapping):
        return None if value is None else dict(value)
    data = _parse_mapping(str(value), toml_first=False)
    if data is None:
        # Say what is wrong without echoing the value: it holds passwords.
        raise ValueError("must be a JSON object of registry: {username, password}")
    return data


def _parse_mapping(text: str, *, toml_first: bool) -> dict[str, Any] | None:
    parsers = [tomllib.loads, json.loads] if toml_first else [json.loads, tomllib.loads]
    for parse in parsers:
        try:
            data = parse(text)
        except ValueError:  # both decoders' errors are ValueErrors
            continue
        return data if isinstance(data, dict) else None
    return None
