"""resolve_agent_config: flags > DOCKYARD_AGENT_* > PREFECT__* > config file > defaults."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from dockyard.domain.agent.config import DEFAULT_API, AgentConfig, PullPolicy, RegistryCredentials
from dockyard.domain.errors import ConfigurationError
from dockyard.entrypoints.setting_values import normalize_agent_address, parse_agent_address
from dockyard.entrypoints.settings import resolve_agent_config
from support.prefect_api_urls import API_URLS, DOCKYARD_ONLY, SERVER

TENANT = "3a2c9d2e-0000-4000-8000-000000000001"


def resolve(
    overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None, **kw: Any
) -> AgentConfig:
    return resolve_agent_config(overrides or {}, environ=environ or {}, **kw)


def test_defaults() -> None:
    config = resolve()
    assert config.name == "agent"
    assert config.api == DEFAULT_API
    assert config.labels == () and config.env_vars == {}
    assert config.send_flow_run_logs is True and config.docker_interface is True
    assert config.pull_policy is None
    assert config.cancel_grace == 30.0 and config.docker_client_timeout == 60.0
    assert config.working_dir == str(Path.cwd())


def test_precedence_of_every_source(tmp_path: Path) -> None:
    config_file = tmp_path / "agent.toml"
    config_file.write_text('name = "from-file"\nlimit = 1\n')
    environ = {"PREFECT__CLOUD__AGENT__NAME": "from-prefect", "DOCKYARD_AGENT_NAME": "from-dockyard"}
    assert resolve({"name": "from-flag"}, environ, config_file=str(config_file)).name == "from-flag"
    assert resolve({}, environ, config_file=str(config_file)).name == "from-dockyard"
    del environ["DOCKYARD_AGENT_NAME"]
    assert resolve({}, environ, config_file=str(config_file)).name == "from-prefect"
    assert resolve({}, {}, config_file=str(config_file)).name == "from-file"
    assert resolve({}, {}, config_file=str(config_file)).limit == 1


def test_config_file_from_the_environment_and_an_agent_table(tmp_path: Path) -> None:
    path = tmp_path / "dockyard.toml"
    path.write_text(
        '[agent]\nlabel = ["b", "a"]\nvolume = ["/data:/data:ro"]\nallow_image = ["docker.io/library/*"]\n'
    )
    config = resolve({}, {"DOCKYARD_AGENT_CONFIG": str(path)})
    assert config.labels == ("a", "b")
    assert [mount.spec for mount in config.volumes] == ["/data:/data:ro"]
    assert [pattern.text for pattern in config.allow_images] == ["docker.io/library/*"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("limt = 3\n", "limt"),
        ("limit = 'x'\n", "limit"),
        ("name = \n", "not valid TOML"),
    ],
)
def test_bad_config_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(content)
    with pytest.raises(ConfigurationError, match=message):
        resolve(config_file=str(path))
    with pytest.raises(ConfigurationError, match="cannot read"):
        resolve(config_file=str(tmp_path / "missing.toml"))


@pytest.mark.parametrize(
    ("value", "labels"),
    [
        ("dev", ("dev",)),  # Prefect 1 made this ['d', 'e', 'v']
        ("dev, prod", ("dev", "prod")),
        ("['prod', 'dev']", ("dev", "prod")),
        ('["dev"]', ("dev",)),
        ("", ()),
    ],
)
def test_prefect_labels_in_every_form(value: str, labels: tuple[str, ...]) -> None:
    assert resolve({}, {"PREFECT__CLOUD__AGENT__LABELS": value}).labels == labels
    assert resolve({}, {"DOCKYARD_AGENT_LABELS": value}).labels == labels


def test_prefect_environment_names() -> None:
    config = resolve(
        {},
        {
            "PREFECT__CLOUD__API": "http://server:4200/graphql",
            "PREFECT__CLOUD__API_KEY": "KEY",
            "PREFECT__CLOUD__TENANT_ID": TENANT,
            "PREFECT__CLOUD__AGENT__LEVEL": "debug",
            "PREFECT__CLOUD__AGENT__AGENT_ADDRESS": "http://:8080",
            "PREFECT__CLOUD__AGENT__ENV_VARS": "{'A': 'x', 'B': 2}",
            "PREFECT__CLOUD__SEND_FLOW_RUN_LOGS": "False",
            "PREFECT__CONTEXT__BASE_URL": "tcp://docker:2375",
            "PREFECT__CONTEXT__NO_PULL": "true",
            "PREFECT__LOGGING__LEVEL": "WARNING",
        },
    )
    assert config.api == "http://server:4200/graphql"
    assert config.key == "KEY"
    assert config.tenant_id == TENANT
    assert config.log_level == "DEBUG"
    assert config.agent_address == "http://127.0.0.1:8080"
    assert config.env_vars == {"A": "x", "B": "2"}
    assert config.send_flow_run_logs is False
    assert config.base_url == "tcp://docker:2375"
    assert config.pull_policy is PullPolicy.NEVER
    assert config.logging_level == "WARNING"


def test_every_option_from_dockyard_variables() -> None:
    config = resolve(
        {},
        {
            "DOCKYARD_AGENT_LIMIT": "4",
            "DOCKYARD_AGENT_RUN_TIMEOUT": "90",
            "DOCKYARD_AGENT_CANCEL_GRACE": "5",
            "DOCKYARD_AGENT_KEEP_CONTAINERS": "true",
            "DOCKYARD_AGENT_ENV_VARS": '["A=1", "B=x=y"]',
            "DOCKYARD_AGENT_VOLUMES": "/a:/a:ro,z;cache:/cache",
            "DOCKYARD_AGENT_NETWORKS": "net1,net2",
            "DOCKYARD_AGENT_REG_ALLOW_LIST": "myorg, localhost:5000",
            "DOCKYARD_AGENT_PULL_POLICY": "IfNotPresent",
            "DOCKYARD_AGENT_ALLOW_CAP_ADD": "NET_ADMIN",
            "DOCKYARD_AGENT_ALLOW_BIND_ROOT": "/srv",
            "DOCKYARD_AGENT_MAX_MEMORY": "2g",
            "DOCKYARD_AGENT_MAX_CPUS": "1.5",
            "DOCKYARD_AGENT_NO_DOCKER_INTERFACE": "1",
            "DOCKYARD_AGENT_SHOW_FLOW_LOGS": "yes",
        },
    )
    assert config.limit == 4 and config.run_timeout == 90 and config.cancel_grace == 5
    assert config.keep_containers and config.show_flow_logs
    assert config.env_vars == {"A": "1", "B": "x=y"}
    assert [(m.source, m.target, m.mode) for m in config.volumes] == [
        ("/a", "/a", "ro,z"),
        ("cache", "/cache", "rw"),
    ]
    assert config.networks == ("net1", "net2")
    assert [scope.entry for scope in config.reg_allow_list] == ["myorg", "localhost:5000"]
    assert config.pull_policy is PullPolicy.IF_NOT_PRESENT
    assert config.policy.allow_cap_add == ("NET_ADMIN",)
    assert config.policy.allow_bind_roots == ("/srv",)
    assert config.policy.max_memory == 2 * 1024**3
    assert config.policy.max_cpus == 1.5
    assert config.docker_interface is False


def test_pull_switches_across_layers() -> None:
    no_pull = {"PREFECT__CONTEXT__NO_PULL": "true"}
    assert resolve({}, no_pull).pull_policy is PullPolicy.NEVER
    assert resolve({"pull_policy": "always"}, no_pull).pull_policy is PullPolicy.ALWAYS
    assert resolve({"no_pull": False}, no_pull).pull_policy is PullPolicy.NEVER  # as in Prefect 1
    assert resolve({}, {**no_pull, "DOCKYARD_AGENT_NO_PULL": "false"}).pull_policy is None
    with pytest.raises(ConfigurationError, match="contradicts"):
        resolve({"no_pull": True, "pull_policy": "always"})


def test_cloud_logs_switches() -> None:
    off = {"PREFECT__CLOUD__SEND_FLOW_RUN_LOGS": "false"}
    assert resolve({}, off).send_flow_run_logs is False
    assert resolve({"no_cloud_logs": True}).send_flow_run_logs is False
    assert resolve({"no_cloud_logs": False}, off).send_flow_run_logs is False  # False is "not given"
    assert resolve({}, {**off, "DOCKYARD_AGENT_NO_CLOUD_LOGS": "false"}).send_flow_run_logs is True


def test_library_keywords() -> None:
    config = resolve(
        {
            "agent_config_id": "cfg",
            "labels": ["b", "a", "a"],
            "env_vars": {"A": "1"},
            "network": "legacy",
            "networks": ["net1"],
            "docker_interface": False,
            "reg_allow_list": ["myorg"],
            "max_polls": 0,
            "show_flow_logs": True,
            "volumes": [],
            "api": None,
        }
    )
    assert config.agent_config_id == "cfg"
    assert config.labels == ("a", "b")
    assert config.networks == ("legacy", "net1")
    assert config.docker_interface is False
    assert config.max_polls == 0
    assert config.show_flow_logs is True
    assert config.api == DEFAULT_API


@pytest.mark.parametrize(
    ("overrides", "environ", "message"),
    [
        ({"bogus": 1}, {}, "bogus"),
        ({}, {"DOCKYARD_AGENT_LIMTI": "3"}, "DOCKYARD_AGENT_LIMTI"),
        ({}, {"DOCKYARD_AGENT_LIMIT": "x"}, "DOCKYARD_AGENT_LIMIT"),
        ({}, {"DOCKYARD_AGENT_LIMIT": "0"}, "--limit"),
        ({}, {"PREFECT__CLOUD__TENANT_ID": "not-a-uuid"}, "UUID"),
        ({}, {"PREFECT__CLOUD__AGENT__LABELS": "['unclosed'"}, "PREFECT__CLOUD__AGENT__LABELS"),
        ({"volumes": ["/a:/b:bogus"]}, {}, "invalid mode"),
        ({"networks": ["host", "other"]}, {}, "cannot be combined"),
        ({"reg_allow_list": ["not valid"]}, {}, "reg_allow_list"),
        ({"env_vars": ["NOEQUALS"]}, {}, "KEY=VALUE"),
        ({"max_memory": "lots"}, {}, "max_memory"),
        ({"pull_policy": "sometimes"}, {}, "pull_policy"),
        ({"agent_address": "127.0.0.1"}, {}, "agent-address"),
        ({"log_level": "loud"}, {}, "--log-level"),
    ],
)
def test_bad_settings_are_configuration_errors(
    overrides: dict[str, Any], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        resolve(overrides, environ)


def test_relative_volumes_resolve_against_the_real_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = resolve({"volumes": ["./data:/data"]})
    assert config.working_dir == str(tmp_path)


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        (":8080", "http://127.0.0.1:8080"),
        ("http://:8080", "http://127.0.0.1:8080"),
        ("0.0.0.0:9000", "http://0.0.0.0:9000"),
        ("[::1]:80", "http://[::1]:80"),
        ("localhost:1/", "http://localhost:1"),
    ],
)
def test_agent_address_with_or_without_a_scheme(text: str, address: str) -> None:
    assert normalize_agent_address(text) == address


@pytest.mark.parametrize("text", ["127.0.0.1", "https://127.0.0.1:8080", "host:port", "h:1/path", "h:99999"])
def test_bad_agent_addresses(text: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        normalize_agent_address(text)
    with pytest.raises(ConfigurationError, match="--agent-address"):
        resolve({"agent_address": text})


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("http://127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        (":8080", ("127.0.0.1", 8080)),
        ("http://:8080", ("127.0.0.1", 8080)),
        ("http://0.0.0.0:9000", ("0.0.0.0", 9000)),
    ],
)
def test_the_agent_api_listens_where_the_address_says(address: str, expected: tuple[str, int]) -> None:
    assert parse_agent_address(address) == expected


@pytest.mark.parametrize("address", ["127.0.0.1", "http://127.0.0.1", "http://127.0.0.1:notaport"])
def test_an_address_without_a_usable_port_is_refused(address: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_agent_address(address)


def test_registry_auth_file_in_json_and_toml(tmp_path: Path) -> None:
    json_file = tmp_path / "auth.json"
    json_file.write_text(json.dumps({"LocalHost:5000": {"username": "u", "password": "p"}}))
    toml_file = tmp_path / "auth.toml"
    toml_file.write_text('["index.docker.io"]\nusername = "hub"\npassword = "secret"\n')
    assert resolve({"registry_auth_file": str(json_file)}).registry_credentials == (
        RegistryCredentials("localhost:5000", "u", "p"),
    )
    (credentials,) = resolve({"registry_auth_file": str(toml_file)}).registry_credentials
    assert credentials == RegistryCredentials("docker.io", "hub", "secret")
    assert "secret" not in repr(credentials)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"x.io": {"username": "u"}}))
    with pytest.raises(ConfigurationError, match="username and a password"):
        resolve({"registry_auth_file": str(bad)})
    with pytest.raises(ConfigurationError, match="cannot read"):
        resolve({"registry_auth_file": str(tmp_path / "none.json")})


def test_the_process_environment_is_read_when_none_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKYARD_AGENT_LIMIT", "7")
    assert resolve_agent_config({}).limit == 7
    assert resolve_agent_config({}, environ={}).limit is None  # an explicit environment is all there is
    assert os.environ["DOCKYARD_AGENT_LIMIT"] == "7"


@pytest.mark.parametrize(("environ", "api"), API_URLS + DOCKYARD_ONLY)
def test_the_api_url_from_prefects_backend_variables(environ: dict[str, str], api: str) -> None:
    assert resolve({}, environ).api == api


def test_flags_and_dockyard_variables_still_win_over_the_prefect_backend() -> None:
    environ = {**SERVER, "PREFECT__SERVER__ENDPOINT": "http://srv:4300"}
    assert resolve({}, {**environ, "DOCKYARD_AGENT_API": "http://dy:1"}).api == "http://dy:1"
    assert resolve({"api": "http://flag:1"}, environ).api == "http://flag:1"


def test_an_unknown_backend_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="PREFECT__BACKEND must be server or cloud"):
        resolve({}, {"PREFECT__BACKEND": "hosted"})
