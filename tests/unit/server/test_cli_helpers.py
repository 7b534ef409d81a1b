"""Pure parts of the server commands: listen addresses, defaults, the services' options.

The run commands' rules: tests/unit/test_run_cli_rules.py."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from dockyard.adapters.graphql_api.serving import interface_address, listen_hosts
from dockyard.entrypoints.cli_database import default_db_path


def test_interface_addresses_come_from_the_kernel() -> None:
    assert interface_address("lo") == "127.0.0.1"
    assert interface_address("no-such-if0") is None


def test_listen_hosts_add_the_bridge_only_when_asked_and_never_the_wildcard() -> None:
    assert listen_hosts(["127.0.0.1", "127.0.0.1"], docker_bridge=False) == ["127.0.0.1"]
    with_bridge = listen_hosts(["127.0.0.1"], docker_bridge=True)
    bridge = interface_address("docker0")
    assert with_bridge == (["127.0.0.1", bridge] if bridge else ["127.0.0.1"])
    assert "0.0.0.0" not in with_bridge
    assert listen_hosts(["0.0.0.0"], docker_bridge=True) == ["0.0.0.0"]  # already covers docker0


def test_the_database_lives_in_the_users_data_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_db_path() == tmp_path / "dockyard" / "dockyard.db"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_db_path() == tmp_path / ".local" / "share" / "dockyard" / "dockyard.db"


def test_the_services_options_become_settings_with_prefect_servers_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from dockyard.domain.server.services import ServicesSettings
    from dockyard.entrypoints.cli_services import services_options, services_settings

    seen: list[ServicesSettings] = []

    @click.command()
    @services_options
    def probe(**options: object) -> None:
        seen.append(services_settings(dict(options)))

    runner = CliRunner()
    assert runner.invoke(probe, []).exit_code == 0
    assert seen[-1] == ServicesSettings()
    assert (seen[-1].zombie_threshold, seen[-1].lazarus_threshold, seen[-1].lazarus_attempts) == (600, 600, 3)
    args = ["--no-scheduler", "--zombie-threshold", "10", "--lazarus-attempts", "1"]
    monkeypatch.setenv("DOCKYARD_SERVER_LAZARUS_THRESHOLD", "20")
    assert runner.invoke(probe, args).exit_code == 0
    assert seen[-1] == ServicesSettings(
        scheduler=False, zombie_threshold=10, lazarus_threshold=20, lazarus_attempts=1
    )
    assert runner.invoke(probe, ["--zombie-threshold", "0"]).exit_code != 0


def test_server_start_help_documents_the_services() -> None:
    from click.testing import CliRunner

    from dockyard.entrypoints.cli import cli

    shown = CliRunner().invoke(cli, ["server", "start", "--help"], terminal_width=200).output
    for option in ("--scheduler-interval", "--zombie-threshold", "--lazarus-threshold", "--lazarus-attempts"):
        assert option in shown
    assert "zombie killer and Lazarus" in " ".join(shown.split())
