"""``dockyard agent``: the Docker agent's commands."""

from __future__ import annotations

import json
from typing import Any

import click
from dependency_injector import providers

from dockyard.domain.agent.model import FlowInfo, FlowRun
from dockyard.domain.agent.plan import plan_container, redacted
from dockyard.domain.agent.service_plan import plan_service, redacted_service
from dockyard.entrypoints.agent_settings import agent_options, config_file_option, given_options
from dockyard.entrypoints.cli_json import json_object
from dockyard.entrypoints.containers import Container
from dockyard.entrypoints.settings import resolve_agent_config

PREVIEW_RUN_ID = "00000000-0000-0000-0000-000000000000"
PREVIEW_FLOW_ID = "00000000-0000-0000-0000-000000000001"


@click.group()
def agent() -> None:
    """Run flow runs as Docker containers."""


def _run_config(text: str | None, image: str | None) -> dict[str, Any]:
    run_config = json_object(text, param_hint="--run-config") if text else {}
    run_config.setdefault("type", "DockerRun")
    if image:
        run_config["image"] = image
    return run_config


@agent.command()
@agent_options
@click.option(
    "--run-config",
    "run_config_json",
    metavar="JSON",
    help="The run's DockerRun: image, env, labels, ports, host_config, command, timeout.",
)
@click.option("--image", help="The run config's image (shorthand for --run-config '{\"image\": ...}').")
@click.option(
    "--host-os",
    type=click.Choice(["linux", "windows"]),
    default="linux",
    show_default=True,
    help="The Docker daemon's OS.",
)
@click.option("--flow-run-name", default="flow-run", show_default=True)
@click.option("--flow-name", default="flow", show_default=True)
@click.option(
    "--core-version", help="The flow's Prefect core version (decides the default image and command)."
)
@click.pass_context
def plan(ctx: click.Context, /, **params: Any) -> None:
    """Print the container this agent would create for a flow run, as JSON (with --swarm,
    the Swarm service).

    Nothing is contacted: neither Docker nor a backend. Secret environment values are
    shown as <redacted>. A run the agent would refuse exits 1 with the reason.
    """
    run = FlowRun(
        id=PREVIEW_RUN_ID,
        name=params["flow_run_name"],
        version=0,
        state="Scheduled",
        serialized_state={"type": "Scheduled"},
        flow=FlowInfo(id=PREVIEW_FLOW_ID, name=params["flow_name"], core_version=params["core_version"]),
        run_config=_run_config(params["run_config_json"], params["image"]),
    )
    host_os = params["host_os"]
    config = resolve_agent_config(given_options(ctx), config_file=config_file_option(ctx), host_os=host_os)
    root: Container = ctx.obj
    root.agent.config.override(providers.Object(config))
    if config.swarm:
        service = plan_service(run, config, agent_id="preview", cluster_id="preview", host_os=host_os)
        click.echo(json.dumps(redacted_service(service), indent=2))
        return
    # Like the agent: where the daemon shares this file system, binds are checked with
    # their symbolic links followed, so the plan refuses what the agent would.
    planned = plan_container(
        run,
        config,
        agent_id="preview",
        daemon_id="preview",
        host_os=host_os,
        real_path=root.agent.real_path() if host_os == "linux" else None,
    )
    click.echo(json.dumps(redacted(planned), indent=2))
