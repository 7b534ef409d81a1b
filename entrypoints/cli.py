"""The ``dockyard`` command line."""

from __future__ import annotations

from importlib.metadata import version

import click

from dockyard.entrypoints.cli_agent import agent
from dockyard.entrypoints.cli_agent_start import start as agent_start
from dockyard.entrypoints.cli_run import run
from dockyard.entrypoints.cli_server import server
from dockyard.entrypoints.cli_services import services


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(version("dockyard"), "--version", "-V", prog_name="dockyard")
def cli() -> None:
    """dockyard runs Prefect 1 flow runs as Docker containers.

    It speaks Prefect Server 1.x's GraphQL API, so it works with a Prefect Server or with
    its own embedded backend (`dockyard server start`). Every run is followed to its final
    state; no container is left behind.
    """


cli.add_command(server)
server.add_command(services)
cli.add_command(run)
cli.add_command(agent)
agent.add_command(agent_start)


def main() -> None:
    cli()
