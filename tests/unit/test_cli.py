"""The CLI's root: every command works through the composition root in ctx.obj, whose
resources are closed when the command ends, and dockyard's errors become one line and
exit code 1 in one place."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from click.testing import CliRunner
from dependency_injector import providers

from dockyard.domain.errors import BackendUnavailable, ConfigurationError
from dockyard.entrypoints.cli import cli
from dockyard.entrypoints.containers import Container


class FakeRunClient:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def list_runs(self, *, state: str | None, limit: int) -> list[dict[str, Any]]:
        if self.error is not None:
            raise self.error
        return [{"id": "run-1", "name": "brave-otter", "state": state, "created": None, "flow": None}]


def container_with(client: FakeRunClient) -> tuple[Container, list[str]]:
    container, events = Container(), []

    def session() -> Iterator[str]:
        events.append("opened")
        yield "session"
        events.append("closed")

    container.client.http_session.override(providers.Resource(session))
    container.client.client.override(providers.Object(client))
    return container, events


def test_commands_run_through_the_container_in_ctx_obj() -> None:
    container, _ = container_with(FakeRunClient())
    result = CliRunner().invoke(cli, ["run", "list", "--state", "Running", "--json"], obj=container)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"id": "run-1", "name": "brave-otter", "state": "Running", "created": None, "flow": None}
    ]
    assert container.config.client.api_url() == "http://127.0.0.1:4200"


def test_resources_are_closed_when_the_command_ends() -> None:
    container, events = container_with(FakeRunClient())
    container.client.http_session.init()
    CliRunner().invoke(cli, ["run", "list"], obj=container)
    assert events == ["opened", "closed"]


def test_an_unreachable_api_is_one_line_naming_it_with_exit_code_1() -> None:
    container, _ = container_with(FakeRunClient(BackendUnavailable("connection refused")))
    result = CliRunner().invoke(cli, ["run", "list", "--api", "http://127.0.0.1:9"], obj=container)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: cannot reach the dockyard API at http://127.0.0.1:9 (is `dockyard server start` running?)"
    )


def test_any_other_dockyard_error_is_its_own_message_with_exit_code_1() -> None:
    container, _ = container_with(FakeRunClient(ConfigurationError("the API has no tenant")))
    result = CliRunner().invoke(cli, ["run", "list"], obj=container)
    assert (result.exit_code, result.stderr.strip()) == (1, "Error: the API has no tenant")
    refused = CliRunner().invoke(cli, ["agent", "plan", "--limit", "3"], env={"DOCKYARD_AGENT_LIMTI": "3"})
    assert refused.exit_code == 1 and "DOCKYARD_AGENT_LIMTI" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
