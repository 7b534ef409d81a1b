"""The ``dockyard`` command line.

The root group builds the composition root (``Container``) into ``ctx.obj`` for every
command, closes its resources when the command ends, and is the one place dockyard's errors
become messages and exit codes: a ``DockyardError`` is one line on stderr and exit code 1
(click's usage errors exit 2).
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import click

from dockyard.domain.errors import BackendUnavailable, DockyardError
from dockyard.entrypoints.cli_agent import agent
from dockyard.entrypoints.cli_agent_start import start as agent_start
from dockyard.entrypoints.cli_database import migrate
from dockyard.entrypoints.cli_run import run
from dockyard.entrypoints.cli_run_follow import logs, wait
from dockyard.entrypoints.cli_server import server
from dockyard.entrypoints.cli_services import services
from dockyard.entrypoints.containers import Container


def error_message(exc: DockyardError, container: Container | None) -> str:
    """What the user reads for an error: its own words in full, and for an API the CLI
    cannot reach (the ``run`` commands'), what is likely missing."""
    api = container.config.client.api_url() if container is not None else None
    if isinstance(exc, BackendUnavailable) and api:
        text = str(exc)
        if api.rstrip("/") not in text:
            text = f"cannot reach the dockyard API at {api}: {text}"
        return f"{text} (is `dockyard server start` running?)"
    return str(exc)


class DockyardCommands(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DockyardError as exc:
            raise click.ClickException(error_message(exc, ctx.obj)) from exc


@click.group(
    cls=DockyardCommands,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(version("dockyard"), "--version", "-V", prog_name="dockyard")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """dockyard runs Prefect 1 flow runs as Docker containers.

    It speaks Prefect Server 1.x's GraphQL API, so it works with a Prefect Server or with
    its own embedded backend (`dockyard server start`). Every run is followed to its final
    state; no container is left behind.

    Shell completion: eval "$(_DOCKYARD_COMPLETE=bash_source dockyard)" in ~/.bashrc
    (zsh_source in ~/.zshrc; fish_source for fish).
    """
    if ctx.obj is None:
        ctx.obj = Container()
    ctx.call_on_close(ctx.obj.shutdown_resources)


cli.add_command(server)
server.add_command(services)
server.add_command(migrate)
cli.add_command(run)
run.add_command(logs)
run.add_command(wait)
cli.add_command(agent)
agent.add_command(agent_start)


def main() -> None:
    cli()
