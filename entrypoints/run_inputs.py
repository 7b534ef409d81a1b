"""What the ``dockyard run`` commands read from their command line, checked before anything
is sent: run ids, state names, commands, parameters and the container run's run config.

A value that cannot be right is a usage error (exit 2) naming the option, never a server
error text later.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

import click

from dockyard.domain.agent.images import parse_image_reference
from dockyard.domain.agent.run_config import (
    DOCKER_RUN_KEYS,
    DOCKER_RUN_SETTINGS,
    check_docker_run,
    unknown_keys,
)
from dockyard.domain.errors import InvalidImageReference, RunRefused
from dockyard.domain.states import CORE_VERSION, KNOWN_STATES
from dockyard.entrypoints.cli_json import json_object
from dockyard.entrypoints.key_values import parse_key_values

# "State" is only the base class every state derives from: no run is ever in it.
STATE_NAMES = tuple(sorted(KNOWN_STATES - {"State"}))


def run_id(value: str) -> str:
    """A flow run id, a UUID as ``dockyard run list`` prints them; ``click.BadParameter``
    (exit 2) for anything else, before it reaches the API."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise click.BadParameter(
            f"not a valid run id: {value!r} (a run id is a UUID, as `dockyard run list` prints)"
        ) from None


def checked_run_ids(_ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
    """The callback of a RUN_ID argument (one, or several with ``nargs=-1``)."""
    if isinstance(value, tuple):
        return tuple(run_id(item) for item in value)
    return run_id(value)


def state_name(value: str) -> str:
    """A state name in any case (``failed``, ``FAILED``) as the API spells it (``Failed``);
    ``ValueError`` listing the valid names for anything else."""
    by_folded = {name.casefold(): name for name in STATE_NAMES}
    found = by_folded.get(value.strip().casefold())
    if found is None:
        raise ValueError(f"{value!r} is not a run state; the states are {', '.join(STATE_NAMES)}")
    return found


def checked_state(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """The callback of ``--state``."""
    if value is None:
        return None
    try:
        return state_name(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def parse_command(command: str) -> str | list[str]:
    """A JSON list of strings is the exact argv; anything not starting with ``[`` is a shell
    line. A value starting with ``[`` must be that JSON list: a typo in one would otherwise
    run as a shell line. ``ValueError`` says what is wrong."""
    if not command.lstrip().startswith("["):
        return command
    try:
        argv = json.loads(command)
    except ValueError as exc:
        raise ValueError(
            f"starts with '[' but is not a JSON list ({exc}); write an argv as "
            '\'["echo", "hi"]\', and a shell line starting with [ as `test ...`'
        ) from None
    if not isinstance(argv, list) or not all(isinstance(arg, str) for arg in argv):
        raise ValueError(f"a JSON argv must be a list of strings, not {command}")
    return argv


def parse_params(pairs: Sequence[str]) -> dict[str, Any]:
    """``NAME=VALUE`` pairs; each value is read as JSON when it is JSON (``n=3``, ``flag=true``,
    ``xs=[1,2]``, ``s='"3"'``) and is text otherwise (``who=world``), as Prefect's CLI reads
    them. ``ValueError`` names a pair without a name."""
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{pair!r} is not NAME=VALUE")
        try:
            params[name.strip()] = json.loads(raw)
        except ValueError:
            params[name.strip()] = raw
    return params


def docker_run_config(
    *,
    image: str,
    command: str | None,
    env: Sequence[str],
    labels: Sequence[str],
    timeout: float | None,
    extra: str | None,
) -> dict[str, Any]:
    """The run config of a container run: ``--run-config``'s keys first, the explicit options
    win. Checked as the server and the agent will check it; ``click.BadParameter`` names the
    option at fault."""
    try:
        parse_image_reference(image)
    except InvalidImageReference as exc:
        raise click.BadParameter(str(exc), param_hint="--image") from None
    config = json_object(extra, param_hint="--run-config") if extra else {}
    unknown = unknown_keys(config, DOCKER_RUN_KEYS)
    if unknown:
        raise click.BadParameter(
            f"DockerRun has unsupported keys: {', '.join(unknown)}; "
            f"its keys are {', '.join(DOCKER_RUN_SETTINGS)}",
            param_hint="--run-config",
        )
    config.update(
        {"type": "DockerRun", "image": image, "labels": sorted(set(labels)), "__version__": CORE_VERSION}
    )
    extra_env = config.get("env") or {}
    if not isinstance(extra_env, dict):
        raise click.BadParameter("`env` must be an object of NAME: value", param_hint="--run-config")
    config["env"] = {**extra_env, **parse_env(env)} or None
    if command is not None:
        try:
            config["command"] = parse_command(command)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--command") from None
    else:
        # [] asks the agent for the image's own command: a run made here has no flow code
        # for `prefect execute flow-run` to load.
        config.setdefault("command", [])
    if timeout is not None:
        config["timeout"] = timeout
    try:
        check_docker_run(config)
    except RunRefused as exc:
        raise click.BadParameter(str(exc), param_hint="--run-config") from None
    return config


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    try:
        return parse_key_values(pairs)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--env") from None
