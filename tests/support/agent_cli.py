"""The agent's options as a command line gives them."""

from __future__ import annotations

import click
from click.testing import CliRunner

from dockyard.entrypoints.agent_settings import agent_options, given_options


def given_by(*args: str) -> dict[str, object]:
    """What a command with the agent's options hands on for ``args`` (``given_options``)."""
    seen: dict[str, object] = {}

    @click.command()
    @agent_options
    @click.pass_context
    def probe(ctx: click.Context, /, **_: object) -> None:
        seen.update(given_options(ctx))

    result = CliRunner().invoke(probe, list(args))
    assert result.exit_code == 0, result.output
    return seen
