"""``dockyard run``: create, list, show and cancel flow runs without Prefect.

``run create`` makes one of two kinds of run: a container run (``--image``), whose DockerRun
run config (image, command, env, labels, timeout) belongs to a task-less flow in project
"dockyard", or a run of a flow registered with Prefect (``--flow NAME``), with its
parameters. A dockyard agent whose labels cover the run's labels picks it up. Following runs
to their end (``run logs --follow``, ``run wait``) lives in ``cli_run_follow``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from dockyard.adapters.run_client import RunClient
from dockyard.domain.agent.config import DEFAULT_API
from dockyard.entrypoints.containers import Container
from dockyard.entrypoints.registered_flows import (
    AmbiguousFlow,
    NoSuchFlow,
    ParametersRefused,
    check_parameters,
    choose_flow,
)
from dockyard.entrypoints.run_display import NO_AGENT, Coverage, format_time, local_time_option, table
from dockyard.entrypoints.run_inputs import checked_run_ids, checked_state, docker_run_config, parse_params

PROJECT = "dockyard"
CONTAINER_FLOW = "dockyard-run"
F = TypeVar("F", bound=Callable[..., Any])


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


def run_client(container: Container, api_url: str, api_key: str | None) -> RunClient:
    container.config.client.from_dict({"api_url": api_url, "api_key": api_key})
    client: RunClient = container.client.client()
    return client


@click.group("run")
def run() -> None:
    """Create and follow flow runs: container images, or flows registered with Prefect.

    \b
    Exit codes: 0 done; 1 an error (the message says which), or for `wait` and
    `logs --follow` a run that did not end successfully; 2 a usage error; 3 `wait` timed out.
    """


_CONTAINER_ONLY = ("command", "env", "timeout", "extra")
_FLOW_ONLY = ("params", "version")
_OPTION_NAMES = {
    "command": "--command",
    "env": "--env",
    "timeout": "--timeout",
    "extra": "--run-config",
    "params": "--param",
    "version": "--version",
}


@run.command("create")
@click.option("--image", help="Container image to run, e.g. busybox:1.36 (a container run).")
@click.option(
    "--flow",
    "flow_name",
    help="Without --image: the registered flow to start, by name. With --image: the flow the "
    f'container run is filed under, registered if missing [default: "{CONTAINER_FLOW}"].',
)
@click.option(
    "--project",
    help=f'The flow\'s project: needed when its name is in several [with --image: "{PROJECT}"].',
)
@click.option(
    "--version",
    type=click.IntRange(min=1),
    help="That version of the flow [default: the newest not archived].",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Flow parameter (repeatable). VALUE is read as JSON if it parses (3, true, [1,2], "
    "'\"3\"'), else as text.",
)
@click.option(
    "--command",
    help="Container run: a shell line (run with /bin/sh -c) or a JSON list as the exact argv, "
    'e.g. \'["echo", "hi"]\'. Default: the image\'s own.',
)
@click.option(
    "--label",
    "labels",
    multiple=True,
    help="Run label (repeatable); agents serving all of them take it. A flow's own labels apply without.",
)
@click.option(
    "--env", "env", multiple=True, help="Container run: KEY=VALUE environment variable (repeatable)."
)
@click.option("--name", help="Run name (default: a generated one, unique).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Container run: seconds the run may take; the agent stops it after that.",
)
@click.option(
    "--run-config",
    "extra",
    help="Container run: JSON object of more DockerRun keys (host_config, ports, env).",
)
@api_options
@click.pass_context
def create(
    ctx: click.Context,
    *,
    image: str | None,
    flow_name: str | None,
    project: str | None,
    version: int | None,
    params: tuple[str, ...],
    command: str | None,
    labels: tuple[str, ...],
    env: tuple[str, ...],
    name: str | None,
    timeout: float | None,
    extra: str | None,
    api_url: str,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Create a flow run and print its id.

    The run is Scheduled at once; an agent whose labels include all of the run's labels
    deploys it. Examples:

    \b
        dockyard run create --image busybox:1.36 --command 'echo hello' --label docker
        dockyard run create --flow etl --project reports --param day=2024-05-01 --param n=3
    """
    given = ctx.params
    wrong = _FLOW_ONLY if image else _CONTAINER_ONLY
    for option in wrong:
        if given.get(option):
            kind = "a registered flow's run (without --image)" if image else "a container run (--image)"
            raise click.UsageError(f"{_OPTION_NAMES[option]} is for {kind}")
    if not image and not flow_name:
        raise click.UsageError("give --image IMAGE (a container run) or --flow NAME (a registered flow)")
    client = run_client(ctx.obj, api_url, api_key)
    if image:
        config = docker_run_config(
            image=image, command=command, env=env, labels=labels, timeout=timeout, extra=extra
        )
        flow_id = client.ensure_flow(client.ensure_project(project or PROJECT), flow_name or CONTAINER_FLOW)
        run_id = client.create_flow_run(flow_id, run_config=config, labels=labels, name=name)
    else:
        assert flow_name is not None
        run_id = _start_flow(
            client, flow_name, project=project, version=version, params=params, labels=labels, name=name
        )
    click.echo(json.dumps({"id": run_id}) if as_json else run_id)
    _warn_if_no_agent(client, run_id)


def _start_flow(
    client: RunClient,
    flow_name: str,
    *,
    project: str | None,
    version: int | None,
    params: tuple[str, ...],
    labels: tuple[str, ...],
    name: str | None,
) -> str:
    try:
        values = parse_params(params)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--param") from None
    try:
        flow = choose_flow(client.flows_named(flow_name), flow_name, project=project, version=version)
    except AmbiguousFlow as exc:
        raise click.UsageError(str(exc)) from None
    except NoSuchFlow as exc:
        raise click.ClickException(str(exc)) from None
    try:
        check_parameters(flow, values)
    except ParametersRefused as exc:
        raise click.BadParameter(str(exc), param_hint="--param") from None
    return client.create_flow_run(str(flow["id"]), labels=labels or None, name=name, parameters=values)


def _warn_if_no_agent(client: RunClient, run_id: str) -> None:
    """A note on stderr when no agent seen lately would take the new run."""
    found = client.show_run(run_id)
    if found is not None and Coverage(client.agents()).no_agent(found):
        labels = ", ".join(found.get("labels") or ()) or "none"
        click.echo(
            f"note: no agent seen lately serves this run's labels ({labels}); "
            "it waits until one with these labels asks for work",
            err=True,
        )


@run.command("list")
@click.option(
    "--state",
    callback=checked_state,
    help="Only runs in this state (any case): Scheduled, Running, Failed...",
)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000), help="Newest N runs.")
@local_time_option
@api_options
@click.pass_obj
def list_runs(
    container: Container,
    *,
    state: str | None,
    limit: int,
    local_time: bool,
    api_url: str,
    api_key: str | None,
    as_json: bool,
) -> None:
    """List flow runs, newest first.

    AGENT is the agent that took a run; NO AGENT marks a waiting run that no agent seen in
    the last two minutes would take (none has all its labels).
    """
    client = run_client(container, api_url, api_key)
    runs = client.list_runs(state=state, limit=limit)
    coverage = Coverage(client.agents())
    if as_json:
        click.echo(json.dumps([{**r, "no_agent": coverage.no_agent(r)} for r in runs], indent=2))
        return
    rows = [
        (
            r["id"],
            r["name"] or "",
            r["state"] or "",
            (r.get("flow") or {}).get("name", ""),
            format_time(r["created"], local=local_time),
            coverage.agent_cell(r),
        )
        for r in runs
    ]
    table(("ID", "NAME", "STATE", "FLOW", "CREATED", "AGENT"), rows)


@run.command("show")
@click.argument("run_id", callback=checked_run_ids)
@local_time_option
@api_options
@click.pass_obj
def show(
    container: Container, *, run_id: str, local_time: bool, api_url: str, api_key: str | None, as_json: bool
) -> None:
    """Show one flow run: state, agent, labels, run config and state history."""
    client = run_client(container, api_url, api_key)
    found = client.show_run(run_id)
    if found is None:
        raise click.ClickException(f"no flow run with id {run_id}")
    coverage = Coverage(client.agents())
    if as_json:
        click.echo(json.dumps({**found, "no_agent": coverage.no_agent(found)}, indent=2))
        return
    for label, value in (
        ("id", found["id"]),
        ("name", found["name"]),
        ("flow", (found.get("flow") or {}).get("name")),
        ("state", found["state"]),
        ("message", found["state_message"]),
        ("labels", ", ".join(found["labels"]) or "-"),
        ("created", format_time(found["created"], local=local_time)),
        ("scheduled", format_time(found.get("scheduled_start_time"), local=local_time)),
        ("started", format_time(found["start_time"], local=local_time)),
        ("ended", format_time(found["end_time"], local=local_time)),
        ("agent", coverage.explain(found)),
        ("parameters", json.dumps(found.get("parameters") or {})),
        ("run config", json.dumps(found["run_config"])),
    ):
        click.echo(f"{label + ':':<12}{value if value is not None else '-'}")
    click.echo("states:")
    for entry in found["states"]:
        when = format_time(entry["timestamp"], local=local_time)
        click.echo(f"  {when}  {entry['state']:<11} {entry['message'] or ''}")


@run.command("cancel")
@click.argument("run_id", callback=checked_run_ids)
@api_options
@click.pass_obj
def cancel(container: Container, *, run_id: str, api_url: str, api_key: str | None, as_json: bool) -> None:
    """Cancel a flow run. A running one goes to Cancelling (its agent stops it); one not
    started yet is Cancelled at once; a finished one is left as it is."""
    state = run_client(container, api_url, api_key).cancel_run(run_id)
    click.echo(json.dumps({"id": run_id, "state": state}) if as_json else f"{run_id} {state}")


__all__ = ["NO_AGENT", "api_options", "run", "run_client"]
