"""``dockyard agent plan`` and the shared agent options, through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from dockyard.entrypoints.cli import cli
from support.agent_cli import given_by


def plan(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["agent", "plan", *args], env=env)


def plan_json(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = plan(*args, env=env)
    assert result.exit_code == 0, result.output + result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def env_of(data: dict[str, Any]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in data["container"]["Env"])


PREFECT_COMMAND_LINE = [
    "--key", "TEST-KEY", "--api", "http://test-api:4200", "--agent-config-id", "TEST-AGENT-CONFIG-ID",
    "--name", "TEST-NAME", "-l", "label1", "-l", "label2", "-e", "KEY1=VALUE1", "-e", "KEY2=VALUE2",
    "-e", "KEY3=VALUE=WITH=EQUALS", "--max-polls", "10", "--agent-address", "127.0.0.1:8080",
    "--log-level", "debug", "--base-url", "testurl", "--no-pull", "--show-flow-logs",
    "--volume", "/volume1:/volume1", "--volume", "volume2:/volume2", "--network", "testnetwork1",
    "--network", "testnetwork2", "--docker-client-timeout", "123",
]  # fmt: skip


def test_prefect_command_line_parses_to_the_agent_keywords() -> None:
    seen = given_by(*PREFECT_COMMAND_LINE)
    assert seen == {
        "key": "TEST-KEY",
        "api": "http://test-api:4200",
        "agent_config_id": "TEST-AGENT-CONFIG-ID",
        "name": "TEST-NAME",
        "labels": ["label1", "label2"],
        "env_vars": {"KEY1": "VALUE1", "KEY2": "VALUE2", "KEY3": "VALUE=WITH=EQUALS"},
        "max_polls": 10,
        "agent_address": "127.0.0.1:8080",
        "log_level": "DEBUG",
        "base_url": "testurl",
        "no_pull": True,
        "show_flow_logs": True,
        "volumes": ["/volume1:/volume1", "volume2:/volume2"],
        "networks": ["testnetwork1", "testnetwork2"],
        "docker_client_timeout": 123.0,
    }


def test_plan_with_prefects_command_line() -> None:
    data = plan_json(*PREFECT_COMMAND_LINE, "-e", "MODE=a=b", "--image", "python:3.11")
    assert data["name"] == "flow-run"
    assert data["pull"] is False
    assert data["create_volumes"] == ["volume2"]
    assert data["connect_networks"] == ["testnetwork2"]
    container = data["container"]
    assert container["Image"] == "python:3.11"
    assert container["HostConfig"]["Binds"] == ["/volume1:/volume1:rw", "volume2:/volume2:rw"]
    assert container["NetworkingConfig"] == {"EndpointsConfig": {"testnetwork1": {}}}
    env = env_of(data)
    assert env["MODE"] == "a=b"
    assert env["KEY3"] == "<redacted>"  # named like a key: hidden when shown
    assert env["PREFECT__CLOUD__AGENT__LABELS"] == "['label1', 'label2']"
    assert env["PREFECT__CLOUD__API"] == "http://test-api:4200"
    assert env["PREFECT__CLOUD__API_KEY"] == "<redacted>"
    assert "TEST-KEY" not in json.dumps(data)


def test_plan_output_shape_and_run_config() -> None:
    run_config = {
        "image": "myorg/app:2",
        "env": {"DB_PASSWORD": "hunter2", "MODE": "x"},
        "labels": ["dev"],
        "ports": [8080],
        "host_config": {"mem_limit": "512m", "port_bindings": {8080: ["127.0.0.1", 18080]}},
        "command": ["python", "-m", "app"],
        "timeout": 60,
    }
    data = plan_json("--run-config", json.dumps(run_config), "--flow-run-name", "nightly etl")
    assert set(data) == {"name", "pull", "create_volumes", "connect_networks", "container"}
    assert data["name"] == "nightly-etl"
    container = data["container"]
    assert container["Cmd"] == ["python", "-m", "app"]
    assert container["ExposedPorts"] == {"8080/tcp": {}}
    assert container["HostConfig"]["PortBindings"] == {
        "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}]
    }
    assert container["HostConfig"]["Memory"] == 512 * 1024**2
    assert container["Labels"]["org.dockyard.timeout"] == "60"
    assert container["Labels"]["org.dockyard.ship-logs"] == "true"
    assert env_of(data)["DB_PASSWORD"] == "<redacted>"
    assert env_of(data)["MODE"] == "x"
    assert "hunter2" not in json.dumps(data)


def test_core_version_chooses_image_and_command() -> None:
    data = plan_json("--core-version", "0.12.0")
    assert data["container"]["Image"] == "prefecthq/prefect:0.12.0"
    assert data["container"]["Cmd"] == ["prefect", "execute", "cloud-flow"]
    assert plan_json()["container"]["Image"] == "prefecthq/prefect:latest"


def test_environment_and_config_file_feed_the_plan(tmp_path: Path) -> None:
    config_file = tmp_path / "agent.toml"
    config_file.write_text('label = ["from-file"]\nnetwork = ["filenet"]\nmax_memory = "1g"\n')
    env = {"PREFECT__CLOUD__AGENT__LABELS": "dev", "DOCKYARD_AGENT_NETWORKS": "envnet"}
    data = plan_json("--config", str(config_file), env=env)
    assert env_of(data)["PREFECT__CLOUD__AGENT__LABELS"] == "['dev']"
    assert data["container"]["HostConfig"]["NetworkMode"] == "envnet"
    assert data["container"]["HostConfig"]["Memory"] == 1024**3
    data = plan_json("--config", str(config_file), "--network", "flagnet", "-l", "flag", env=env)
    assert data["container"]["HostConfig"]["NetworkMode"] == "flagnet"
    assert env_of(data)["PREFECT__CLOUD__AGENT__LABELS"] == "['flag']"
    data = plan_json(env={"DOCKYARD_AGENT_CONFIG": str(config_file)})
    assert data["container"]["HostConfig"]["NetworkMode"] == "filenet"


def test_windows_daemon_volumes() -> None:
    data = plan_json("--host-os", "windows", "--volume", "C:\\data:/data:ro")
    assert data["container"]["HostConfig"]["Binds"] == ["C:\\data:/data:ro"]


def test_allowed_run_options_pass_with_their_flags() -> None:
    run_config = json.dumps(
        {"host_config": {"privileged": True, "cap_add": ["NET_ADMIN"], "binds": ["/srv/x:/x"]}}
    )
    data = plan_json(
        "--run-config",
        run_config,
        "--allow-privileged",
        "--allow-cap-add",
        "NET_ADMIN",
        "--allow-bind-root",
        "/srv",
    )
    host_config = data["container"]["HostConfig"]
    assert host_config["Privileged"] is True
    assert host_config["Binds"] == ["/srv/x:/x:rw"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reg-allow-list", "myorg", "--image", "python:3.11"], "--reg-allow-list docker.io/library"),
        (["--allow-image", "myorg/*", "--image", "python"], "allow_images"),
        (["--volume", "/a:/b:bogus"], "invalid mode 'bogus'"),
        (["--volume", "relative-name"], "needs a container path"),
        (["--run-config", '{"host_config": {"privileged": true}}'], "--allow-privileged"),
        (["--run-config", '{"host_config": {"binds": ["/:/host"]}}'], "--allow-bind-root /"),
        (["--run-config", '{"host_config": {"links": ["db"]}}'], "`links` is not supported"),
        (["--run-config", '{"type": "LocalRun"}'], "only `DockerRun` is supported"),
        (["--image", "Not/Valid"], "invalid image reference"),
        (["--network", "host", "--network", "other"], "cannot be combined"),
        (["--agent-address", "127.0.0.1"], "--agent-address"),
        (["--max-memory", "1g", "--run-config", '{"host_config": {"mem_limit": "2g"}}'], "--max-memory"),
    ],
)
def test_refusals_exit_1_with_the_reason(args: list[str], message: str) -> None:
    result = plan(*args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["-e", "NOEQUALS"],
        ["--run-config", "{not json"],
        ["--run-config", "[1, 2]"],
        ["--limit", "0"],
        ["--pull-policy", "sometimes"],
        ["--host-os", "solaris"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert plan(*args).exit_code == 2


def test_bad_environment_is_a_refusal_not_a_crash() -> None:
    result = plan(env={"DOCKYARD_AGENT_LIMIT": "many"})
    assert result.exit_code == 1
    assert "DOCKYARD_AGENT_LIMIT" in result.stderr


def test_agent_group_help_lists_plan() -> None:
    result = CliRunner().invoke(cli, ["agent", "--help"])
    assert result.exit_code == 0
    assert "plan" in result.output


def test_plan_refuses_a_bind_that_escapes_an_allowed_root_through_a_symlink(tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "escape").symlink_to("/")
    host_config = {"binds": {str(allowed / "escape"): {"bind": "/host", "mode": "ro"}}}
    result = plan(
        "--image", "busybox:1", "--allow-bind-root", str(allowed),
        "--run-config", json.dumps({"host_config": host_config}),
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "--allow-bind-root" in result.stderr
    ok = plan_json(
        "--image", "busybox:1", "--allow-bind-root", str(allowed),
        "--run-config", json.dumps({"host_config": {"binds": {str(allowed): {"bind": "/x", "mode": "ro"}}}}),
    )  # fmt: skip
    assert f"{allowed}:/x:ro" in ok["container"]["HostConfig"]["Binds"]


def test_an_empty_command_keeps_the_images_own() -> None:
    planned = plan_json("--run-config", json.dumps({"image": "busybox:1", "command": []}))
    assert planned["container"]["Cmd"] is None
    assert planned["container"]["Labels"]["org.dockyard.ship-logs"] == "true"
    default = plan_json("--image", "busybox:1", "--core-version", "1.4.1")
    assert default["container"]["Cmd"] == ["prefect", "execute", "flow-run"]


@pytest.mark.parametrize(
    "host_config",
    [
        {"port_bindings": {"8080/tcp": 8080}},
        {"port_bindings": {8080: ["0.0.0.0", 9000]}},
        {"publish_all_ports": True},
    ],
)
def test_ports_published_beyond_loopback_need_the_operators_flag(host_config: dict[str, Any]) -> None:
    run_config = json.dumps({"image": "busybox:1", "ports": [8080], "host_config": host_config})
    refused = plan("--run-config", run_config)
    assert refused.exit_code == 1 and "--allow-public-ports" in refused.stderr
    assert plan("--run-config", run_config, "--allow-public-ports").exit_code == 0


def test_ports_published_on_loopback_are_fine() -> None:
    run_config = {
        "image": "busybox:1",
        "ports": [8080],
        "host_config": {"port_bindings": {8080: ["127.0.0.1", 9000]}},
    }
    planned = plan_json("--run-config", json.dumps(run_config))
    assert planned["container"]["HostConfig"]["PortBindings"] == {
        "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "9000"}]
    }


def test_plan_with_swarm_prints_the_service_and_refuses_what_swarm_lacks() -> None:
    run_config = {
        "command": "echo hi",
        "env": {"DB_PASSWORD": "hunter2"},
        "host_config": {"mem_limit": "64m"},
        "placement": {"constraints": ["node.labels.zone==eu"]},
    }
    data = plan_json(
        "--swarm", "--image", "myorg/app:2", "--run-config", json.dumps(run_config),
        "--constraint", "node.labels.role==flows", "--allow-placement", "node.labels.zone==*",
        "--placement-pref", "spread=node.labels.zone",
    )  # fmt: skip
    assert set(data) == {"name", "resolve_digest", "networks", "service"}
    template = data["service"]["TaskTemplate"]
    assert template["ContainerSpec"]["Image"] == "myorg/app:2"
    assert template["Resources"] == {"Limits": {"MemoryBytes": 64 * 1024**2}}
    assert template["Placement"]["Constraints"] == ["node.labels.role==flows", "node.labels.zone==eu"]
    assert "DB_PASSWORD=<redacted>" in template["ContainerSpec"]["Env"]
    assert "hunter2" not in json.dumps(data)
    refused = plan("--swarm", "--run-config", json.dumps({"host_config": {"privileged": True}}),
                   "--allow-privileged")  # fmt: skip
    assert refused.exit_code == 1
    assert "host_config `privileged` is not available in swarm mode" in refused.output + refused.stderr
