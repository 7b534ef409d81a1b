"""How agent setting values read, and what they become in ``AgentConfig``.

The types (``Names``, ``Specs``, ``EnvMap``...) read a value the same way whether it comes
as a TOML value, a library keyword or an environment string: lists accept a JSON or Python
list literal or a comma-separated string (so ``PREFECT__CLOUD__AGENT__LABELS=dev`` is
``["dev"]``, not three letters); volume specs, whose modes contain commas, are separated by
``;`` or newlines instead; env maps accept a dict literal, a list of ``KEY=VALUE``, or
``KEY=VALUE`` lines. The builders turn a resolved value into ``AgentConfig``'s: volume specs
into mounts, registry entries and image patterns into matchers.
"""

from __future__ import annotations

import ast
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator

from dockyard.domain.agent.config import PullPolicy
from dockyard.domain.agent.host_values import parse_size
from dockyard.domain.agent.image_policy import parse_image_pattern, parse_registry_entry
from dockyard.domain.agent.placement import parse_constraint, parse_preference
from dockyard.domain.agent.volumes import parse_volume_specs
from dockyard.domain.errors import ConfigurationError
from dockyard.entrypoints.key_values import parse_key_values
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


def _read_pull_policy(value: Any) -> Any:
    if value is None or isinstance(value, PullPolicy) or value is DEFAULT_PULL:
        return value
    text = str(value).strip().lower().replace("_", "-")
    try:
        return PullPolicy({"ifnotpresent": "if-not-present"}.get(text, text))
    except ValueError:
        raise ValueError("must be always, if-not-present or never") from None


def _read_log_format(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in ("plain", "json"):
        raise ValueError("must be plain or json")
    return text


def _optional(parse: Callable[[Any], Any]) -> BeforeValidator:
    return BeforeValidator(lambda value: None if value is None else parse(value))


Text = str | None
Flag = bool | None
Int = int | None
Float = float | None
Names = Annotated[tuple[str, ...] | None, BeforeValidator(lambda value: _strings(value, r","))]
Specs = Annotated[tuple[str, ...] | None, BeforeValidator(lambda value: _strings(value, r"[;\n]"))]
EnvMap = Annotated[dict[str, str] | None, BeforeValidator(_env_map)]
Size = Annotated[int | None, _optional(parse_size)]
Level = Annotated[str | None, _optional(lambda value: str(value).strip().upper())]
LogFormat = Annotated[str | None, _optional(_read_log_format)]
Address = Annotated[
    str | None, BeforeValidator(lambda value: normalize_agent_address(value) if value else None)
]
Policy = Annotated[PullPolicy | None, BeforeValidator(_read_pull_policy)]
RegistryAuth = Annotated[dict[str, Any] | None, BeforeValidator(parse_registry_auth)]

# "no_pull: false" in a source: the default pull behaviour, even over a lower source's no_pull.
DEFAULT_PULL: Any = "default"


# -- what values become -----------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What a setting's value is read against when ``AgentConfig`` is built."""

    host_os: str  # the Docker daemon's OS, as far as known: how volume specs read
    working_dir: str | None  # where relative host paths resolve
    home_dir: str | None  # what ~ expands to


def sorted_labels(value: tuple[str, ...], context: Context) -> tuple[str, ...]:
    return tuple(sorted(set(value)))


def checked_tenant(value: str, context: Context) -> str:
    try:
        uuid.UUID(value)
    except ValueError:
        raise ConfigurationError(f"the tenant id {value!r} must be a valid UUID") from None
    return value


def mounts(value: tuple[str, ...], context: Context) -> Any:
    return parse_volume_specs(
        value, host_os=context.host_os, working_dir=context.working_dir, home_dir=context.home_dir
    )


def registry_scopes(value: tuple[str, ...], context: Context) -> Any:
    return tuple(parse_registry_entry(entry) for entry in value)


def image_patterns(value: tuple[str, ...], context: Context) -> Any:
    return tuple(parse_image_pattern(pattern) for pattern in value)


def pull_policy(value: Any, context: Context) -> Any:
    return None if value is DEFAULT_PULL else value


def placement_constraints(value: tuple[str, ...], context: Context) -> Any:
    return _each(value, parse_constraint, "--constraint")


def placement_preferences(value: tuple[str, ...], context: Context) -> Any:
    return _each(value, parse_preference, "--placement-pref")


def _each(value: tuple[str, ...], parse: Callable[[str], str], option: str) -> tuple[str, ...]:
    try:
        return tuple(parse(item) for item in value)
    except ValueError as exc:
        raise ConfigurationError(f"{option}: {exc}") from None
