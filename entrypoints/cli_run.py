"""``dockyard run``: create, list, show, follow and cancel flow runs without Prefect.

A run made here carries a DockerRun run config (image, command, env, labels, timeout)
and belongs to a task-less flow in project "dockyard"; a dockyard agent whose labels
cover the run's labels picks it up.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from dockyard.adapters.run_client import RunClient
from dockyard.domain.agent.config import DEFAULT_API
from dockyard.domain.states import CORE_VERSION, FINISHED_STATES
from dockyard.entrypoints.cli_json import json_object
from dockyard.entrypoints.containers import Container
from dockyard.entrypoints.key_values import parse_key_values

PROJECT = "dockyard"
F = TypeVar("F", bound=Callable[..., Any])


def docker_run_config(
    *,
    image: str,
    command: str | None,
    env: Sequence[str],
    labels: Sequence[str],
    timeout: float | None,
    extra: str | None,
) -> dict[str, Any]:
    """The run config for ``run create``: extra keys first, the explicit options win."""
    config = json_object(extra, param_hint="--run-config") if extra else {}
    config.update(
        {"type": "DockerRun", "image": image, "labels": sorted(set(labels)), "__version__": CORE_VERSION}
    )
    config["env"] = {**(config.get("env") or {}), **parse_env(env)} or None
    if command is not None:
        config["command"] = parse_command(command)
    else:
        # [] asks the agent for the image's own command: a run made here has no flow code
        # for `prefect execute flow-run` to load.
        config.setdefault("command", [])
    if timeout is not None:
        config["timeout"] = timeout
    return config


def parse_command(command: str) -> str | list[str]:
    """A JSON list of strings is an exact argv; anything else a shell command line."""
    try:
        argv = json.loads(command)
    except ValueError:
        return command
    if isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv):
        return argv
    return command


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    try:
        return parse_key_values(pairs)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--env") from None


def api_options(command: F) -> F:
    """--api, --api-key and --json, shared by every run command."""
    command = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(command)
    command = click.option(
        "--api-key", envvar="DOCKYARD_API_KEY", help="Sent as `Authorization: Bearer <key>`."
    )(command)
    return click.option(
        "--api",
        "api_url",
        default=DEFAULT_API,
        show_default=True,
        envvar="DOCKYARD_API",
        help="GraphQL API of a dockyard server (or Prefect Server).",
    )(command)


def _client(container: Container, api_url: str, api_key: str | None) -> RunClient:
    container.config.client.from_dict({"api_url": api_url, "api_key": api_key})
    client: RunClient = container.client.client()
    return client


@click.group("run")
def run() -> None:
    """Create and follow flow runs that run a container image (no Prefect needed)."""


@run.command("create")
@click.option("--image", required=True, help="Container image to run, e.g. busybox:1.36.")
@click.option(
    "--command",
    help="Command: a shell line (run with /bin/sh -c) or a JSON list as the exact argv, "
    'e.g. \'["echo", "hi"]\'. Default: the image\'s own.',
)
@click.option(
    "--label", "labels", multiple=True, help="Run label (repeatable); agents serving all of them take it."
)
@click.option(
    "--env", "env", multiple=True, help="KEY=VALUE environment variable for the container (repeatable)."
)
@click.option("--name", help="Run name (default: a generated one).")
@click.option(
    "--flow",
    "flow_name",
    default="dockyard-run",
    show_default=True,
    help='Flow (in project "dockyard") the run belongs to; registered if missing.',
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds the run may take; the agent stops it after that.",
)
@click.option("--run-config", "extra", help="JSON object of extra DockerRun keys (e.g. host_config, ports).")
@api_options
@click.pass_obj
def create(
    container: Container,
    *,
    image: str,
    command: str | None,
    labels: tuple[str, ...],
    env: tuple[str, ...],
    name: str | None,
    flow_name: str,
    timeout: float | None,
    extra: str | None,
    api_url: str,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Create a flow run that runs IMAGE, and print its id.

    The run is Scheduled at once; an agent whose labels include all of the run's labels
    deploys it. Example:

    \b
        dockyard run create --image busybox:1.36 --command 'echo hello' --label docker
    """
    config = docker_run_config(
        image=image, command=command, env=env, labels=labels, timeout=timeout, extra=extra
    )
    client = _client(container, api_url, api_key)
    flow_id = client.ensure_flow(client.ensure_project(PROJECT), flow_name)
    run_id = client.create_flow_run(flow_id, run_config=config, labels=labels, name=name)
    click.echo(json.dumps({"id": run_id}) if as_json else run_id)


@run.command("list")
@click.option("--state", help="Only runs in this state (e.g. Scheduled, Running, Failed).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000), help="Newest N runs.")
@api_options
@click.pass_obj
def list_runs(
    container: Container, *, state: str | None, limit: int, api_url: str, api_key: str | None, as_json: bool
) -> None:
    """List flow runs, newest first."""
    runs = _client(container, api_url, api_key).list_runs(state=state, limit=limit)
    if as_json:
        click.echo(json.dumps(runs, indent=2))
        return
    rows = [
        (
            r["id"],
            r["name"] or "",
            r["state"] or "",
            (r.get("flow") or {}).get("name", ""),
            _short_time(r["created"]),
        )
        for r in runs
    ]
    _table(("ID", "NAME", "STATE", "FLOW", "CREATED"), rows)


@run.command("show")
@click.argument("run_id")
@api_options
@click.pass_obj
def show(container: Container, *, run_id: str, api_url: str, api_key: str | None, as_json: bool) -> None:
    """Show one flow run: state, labels, run config and state history."""
    found = _client(container, api_url, api_key).show_run(run_id)
    if found is None:
        raise click.ClickException(f"no flow run with id {run_id}")
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for label, value in (
        ("id", found["id"]),
        ("name", found["name"]),
        ("flow", (found.get("flow") or {}).get("name")),
        ("state", found["state"]),
        ("message", found["state_message"]),
        ("labels", ", ".join(found["labels"])),
        ("created", found["created"]),
        ("started", found["start_time"]),
        ("ended", found["end_time"]),
        ("agent", found["agent_id"]),
        ("run config", json.dumps(found["run_config"])),
    ):
        click.echo(f"{label + ':':<12}{value if value is not None else '-'}")
    click.echo("states:")
    for entry in found["states"]:
        click.echo(f"  {_short_time(entry['timestamp'])}  {entry['state']:<11} {entry['message'] or ''}")


@run.command("logs")
@click.argument("run_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new logs until the run finishes.")
@click.option(
    "--interval", default=1.0, show_default=True, type=click.FloatRange(0.1), help="Seconds between polls."
)
@api_options
@click.pass_obj
def logs(
    container: Container,
    *,
    run_id: str,
    follow: bool,
    interval: float,
    api_url: str,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Print a flow run's logs (--json: one JSON object per line)."""
    client, since, seen = _client(container, api_url, api_key), None, set()
    while True:
        found = client.logs_since(run_id, since)
        if found is None:
            raise click.ClickException(f"no flow run with id {run_id}")
        state, entries = found
        for entry in entries:
            if entry["id"] in seen:
                continue
            seen.add(entry["id"])
            since = entry["timestamp"]
            click.echo(json.dumps(entry) if as_json else _log_line(entry))
        if not follow or state in FINISHED_STATES:
            return
        time.sleep(interval)


@run.command("cancel")
@click.argument("run_id")
@api_options
@click.pass_obj
def cancel(container: Container, *, run_id: str, api_url: str, api_key: str | None, as_json: bool) -> None:
    """Cancel a flow run. A running one goes to Cancelling (its agent stops it); one not
    started yet is Cancelled at once; a finished one is left as it is."""
    state = _client(container, api_url, api_key).cancel_run(run_id)
    click.echo(json.dumps({"id": run_id, "state": state}) if as_json else f"{run_id} {state}")


def _log_line(entry: dict[str, Any]) -> str:
    return f"{_short_time(entry['timestamp'])} {entry['level']:<8} {entry['name'] or ''}: {entry['message']}"


def _short_time(value: str | None) -> str:
    return value[:19].replace("T", " ") if value else "-"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(v)) for v in column) for column in zip(headers, *rows, strict=False)]
    for row in (headers, *rows):
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
