"""Registry logins from the environment (DOCKYARD_AGENT_REGISTRY_AUTH, JSON) and the config
file, beside --registry-auth-file; never a command-line flag."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from dockyard.domain.agent.config import RegistryCredentials
from dockyard.domain.errors import ConfigurationError
from dockyard.entrypoints.agent_settings import agent_options
from dockyard.entrypoints.settings import resolve_agent_config

SECRET = "pa55-w0rd-never-shown"


def test_logins_from_the_environment() -> None:
    environ = {
        "DOCKYARD_AGENT_REGISTRY_AUTH": json.dumps(
            {"https://Index.Docker.io/v1/": {"username": "u", "password": SECRET}}
        )
    }
    config = resolve_agent_config({}, environ=environ)
    assert config.registry_credentials == (RegistryCredentials("docker.io", "u", SECRET),)
    assert SECRET not in repr(config)


def test_the_environment_wins_over_the_file_for_the_same_registry(tmp_path: Path) -> None:
    auth_file = tmp_path / "auth.json"
    auth_file.write_text(json.dumps({
        "localhost:5000": {"username": "file", "password": "f"},
        "registry.example": {"username": "file", "password": "f"},
    }))  # fmt: skip
    environ = {
        "DOCKYARD_AGENT_REGISTRY_AUTH": json.dumps({"localhost:5000": {"username": "env", "password": "e"}})
    }
    config = resolve_agent_config({"registry_auth_file": str(auth_file)}, environ=environ)
    assert sorted(config.registry_credentials, key=lambda c: c.registry) == [
        RegistryCredentials("localhost:5000", "env", "e"),
        RegistryCredentials("registry.example", "file", "f"),
    ]


def test_logins_from_a_config_file_table(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(f'[registry_auth."localhost:5000"]\nusername = "robot"\npassword = "{SECRET}"\n')
    config = resolve_agent_config({}, environ={}, config_file=str(path))
    assert config.registry_credentials == (RegistryCredentials("localhost:5000", "robot", SECRET),)


@pytest.mark.parametrize(
    "value",
    [f"not json {SECRET}", json.dumps([SECRET]), json.dumps({"localhost:5000": {"password": SECRET}})],
)
def test_a_bad_value_is_refused_without_echoing_it(value: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        resolve_agent_config({}, environ={"DOCKYARD_AGENT_REGISTRY_AUTH": value})
    assert "registry_auth" in str(refused.value).lower()
    assert SECRET not in str(refused.value)


def test_there_is_no_command_line_flag_for_passwords() -> None:
    @click.command()
    @agent_options
    def probe(**_: object) -> None:
        pass

    result = CliRunner().invoke(probe, ["--registry-auth", "{}"])
    assert result.exit_code == 2 and "No such option" in result.output
