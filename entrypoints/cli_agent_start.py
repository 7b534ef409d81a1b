"""``dockyard agent start``."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import click

from dockyard.entrypoints.agent_settings import agent_options, config_file_option, given_options
from dockyard.entrypoints.settings import resolve_agent_config

LOG_FORMAT = "[%(asctime)s] %(levelname)s - %(name)s | %(message)s"


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter(LOG_FORMAT)
    formatter.converter = time.gmtime  # UTC, like the backend's timestamps
    handler.setFormatter(formatter)
    root = logging.getLogger("dockyard")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


@click.command("start")
@agent_options
@click.pass_context
def start(ctx: click.Context, /, **params: Any) -> None:
    """Start a Docker agent: poll the backend for flow runs whose labels this agent serves,
    run each as a container, and follow it to its final state.

    Runs until --max-polls polls are done or SIGTERM/SIGINT (then it winds down within
    seconds, leaving running containers for the next start to adopt). Every option can also
    come from the environment (Prefect's PREFECT__CLOUD__* names, or DOCKYARD_AGENT_<OPTION>)
    or a TOML file given with --config; flags win.
    """
    from dockyard.entrypoints.library import DockerAgent

    config = resolve_agent_config(given_options(ctx), config_file=config_file_option(ctx))
    configure_logging(config.log_level)
    try:
        DockerAgent.from_config(config, container=ctx.obj).start()
    except KeyboardInterrupt:  # a second signal while winding down
        click.echo("Forced exit.", err=True)
        sys.exit(130)
