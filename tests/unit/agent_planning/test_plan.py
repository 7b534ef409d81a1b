"""The container plan: the golden example, networks, merging, refusals, redaction."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.domain.agent.config import AgentConfig, PullPolicy, RunPolicy
from dockyard.domain.agent.model import FlowInfo, FlowRun
from dockyard.domain.agent.plan import plan_container, redacted
from dockyard.domain.errors import InvalidImageReference, InvalidVolumeSpec, RunRefused
from support.agent_configs import agent_config

TENANT = "3a2c9d2e-0000-4000-8000-000000000001"


def flow_run(run_config: dict[str, Any] | None = None, **changes: Any) -> FlowRun:
    run = FlowRun(
        id="fr-1",
        name="brave-otter",
        version=1,
        state="Scheduled",
        serialized_state={"type": "Scheduled"},
        flow=FlowInfo(id="flow-1", name="my-flow", core_version="1.4.1+0.gabc", storage={"type": "Local"}),
        run_config=run_config,
    )
    return replace(run, **changes)


def docker_run(**fields: Any) -> dict[str, Any]:
    return {"type": "DockerRun", "__version__": "1.4.1", **fields}


def plan(run: FlowRun, config: AgentConfig = AgentConfig(), host_os: str = "linux") -> Any:  # noqa: B008
    return plan_container(run, config, agent_id="agent-1", daemon_id="daemon-1", host_os=host_os)


GOLDEN_CONFIG = agent_config(
    labels=("dev", "docker"),
    env_vars={"A": "agent", "B": "agent", "PREFECT__CLOUD__API_KEY": "hijack"},
    volumes=("/host/data:/data:ro", "cache:/cache"),
    networks=("net1", "net2"),
    reg_allow_list=("prefecthq",),
    api="https://api.prefect.io",
    key="KEY",
    tenant_id=TENANT,
)
GOLDEN_RUN = flow_run(
    docker_run(
        env={"B": "run", "PREFECT__CONTEXT__FLOW_RUN_ID": "x"}, ports=[8080], host_config={"mem_limit": "1g"}
    )
)


def test_golden_example() -> None:
    # Prefect 1.4.1's verified deployment of this run, with dockyard's labels and backend.
    result = plan(GOLDEN_RUN, GOLDEN_CONFIG)
    assert result.name == "brave-otter"
    assert result.image == "prefecthq/prefect:1.4.1"
    assert result.pull is True
    assert result.create_volumes == ("cache",)
    assert result.connect_networks == ("net2",)
    assert result.body["Image"] == "prefecthq/prefect:1.4.1"
    assert result.body["Cmd"] == ["prefect", "execute", "flow-run"]
    assert result.body["ExposedPorts"] == {"8080/tcp": {}}
    assert result.body["NetworkingConfig"] == {"EndpointsConfig": {"net1": {}}}
    assert result.body["HostConfig"] == {
        "Memory": 1024**3,
        "Binds": ["/host/data:/data:ro", "cache:/cache:rw"],
        "NetworkMode": "net1",
        "ExtraHosts": ["host.docker.internal:host-gateway"],
    }
    assert result.body["Labels"] == {
        "io.prefect.flow-name": "my-flow",
        "io.prefect.flow-id": "flow-1",
        "io.prefect.flow-run-id": "fr-1",
        "org.dockyard.managed": "true",
        "org.dockyard.agent": "agent",
        "org.dockyard.agent-id": "agent-1",
        "org.dockyard.daemon-id": "daemon-1",
        "org.dockyard.flow-run-name": "brave-otter",
        "org.dockyard.ship-logs": "false",
    }
    assert result.env() == {
        "PREFECT__CLOUD__API": "https://api.prefect.io",
        "PREFECT__LOGGING__LEVEL": "INFO",
        "A": "agent",
        "B": "run",
        "PREFECT__CLOUD__API_KEY": "KEY",
        "PREFECT__CONTEXT__FLOW_RUN_ID": "fr-1",
        "PREFECT__CLOUD__SEND_FLOW_RUN_LOGS": "true",
        "PREFECT__BACKEND": "server",
        "PREFECT__CLOUD__TENANT_ID": TENANT,
        "PREFECT__CLOUD__AGENT__LABELS": "['dev', 'docker']",
        "PREFECT__CONTEXT__FLOW_ID": "flow-1",
        "PREFECT__CONTEXT__IMAGE": "prefecthq/prefect:1.4.1",
        "PREFECT__CLOUD__USE_LOCAL_SECRETS": "false",
        "PREFECT__ENGINE__FLOW_RUNNER__DEFAULT_CLASS": "prefect.engine.cloud.CloudFlowRunner",
        "PREFECT__LOGGING__LOG_TO_CLOUD": "true",
        "PREFECT__CLOUD__AUTH_TOKEN": "KEY",
    }
    assert "AutoRemove" not in result.body["HostConfig"]
    assert {"PREFECT__CLOUD__API_KEY", "PREFECT__CLOUD__AUTH_TOKEN"} <= result.secret_env
    assert "KEY" not in json.dumps(result.body["Labels"])


def test_the_plan_is_json_and_redacts_secrets() -> None:
    config = replace(GOLDEN_CONFIG, env_vars={"DB_PASSWORD": "pw", "EMPTY_TOKEN": ""})
    shown = redacted(plan(GOLDEN_RUN, config))
    assert set(shown) == {"name", "pull", "create_volumes", "connect_networks", "container"}
    text = json.dumps(shown)
    assert "KEY" not in text.replace("API_KEY", "")
    assert "pw" not in text
    assert "PREFECT__CLOUD__API_KEY=<redacted>" in shown["container"]["Env"]
    assert "DB_PASSWORD=<redacted>" in shown["container"]["Env"]
    assert "EMPTY_TOKEN=" in shown["container"]["Env"]  # nothing to hide
    assert shown["create_volumes"] == ["cache"]


def test_minimal_run_on_a_local_api() -> None:
    result = plan(flow_run(None, flow=FlowInfo(id="f", name="n")), AgentConfig(api="http://127.0.0.1:4200"))
    assert result.image == "prefecthq/prefect:latest"
    assert result.env()["PREFECT__CLOUD__API"] == "http://host.docker.internal:4200"
    assert result.body["HostConfig"] == {"ExtraHosts": ["host.docker.internal:host-gateway"]}
    assert "NetworkingConfig" not in result.body and "ExposedPorts" not in result.body
    assert result.env()["PREFECT__CLOUD__API_KEY"] == ""
    assert result.create_volumes == () and result.connect_networks == ()


def test_host_network_keeps_the_loopback_api_and_no_network_may_follow() -> None:
    config = AgentConfig(api="http://localhost:4200", networks=("host",))
    result = plan(flow_run(), config)
    assert result.body["HostConfig"]["NetworkMode"] == "host"
    assert result.env()["PREFECT__CLOUD__API"] == "http://localhost:4200"
    with pytest.raises(RunRefused, match="cannot also join"):
        plan(flow_run(), replace(config, networks=("host", "other")))


def test_run_network_mode_only_without_agent_networks() -> None:
    run = flow_run(docker_run(host_config={"network_mode": "host"}))
    allowing = AgentConfig(api="http://localhost:4200", policy=RunPolicy(allow_host_namespaces=True))
    assert plan(run, allowing).body["HostConfig"]["NetworkMode"] == "host"
    assert plan(run, allowing).env()["PREFECT__CLOUD__API"] == "http://localhost:4200"
    with pytest.raises(RunRefused, match="cannot change the agent's networks"):
        plan(run, replace(allowing, networks=("net1",)))
    assert plan(
        flow_run(docker_run(host_config={"network_mode": "net1"})), replace(allowing, networks=("net1",))
    )


def test_run_binds_and_hosts_merge_under_the_agent_settings() -> None:
    config = agent_config(
        volumes=("/host/data:/data",), policy=RunPolicy(allow_bind_roots=("/srv",), allow_named_volumes=True)
    )
    run = flow_run(
        docker_run(
            host_config={"binds": ["/srv/in:/in:ro", "scratch:/scratch"], "extra_hosts": {"db": "10.0.0.2"}}
        )
    )
    result = plan(run, config)
    assert result.body["HostConfig"]["Binds"] == [
        "/host/data:/data:rw",
        "/srv/in:/in:ro",
        "scratch:/scratch:rw",
    ]
    assert result.body["HostConfig"]["ExtraHosts"] == ["host.docker.internal:host-gateway", "db:10.0.0.2"]
    assert result.create_volumes == ("scratch",)
    with pytest.raises(RunRefused, match="cannot replace the agent's volumes"):
        plan(flow_run(docker_run(host_config={"binds": ["/srv/x:/data"]})), config)
    with pytest.raises(RunRefused, match=r"redefines host\.docker\.internal"):
        plan(flow_run(docker_run(host_config={"extra_hosts": {"host.docker.internal": "1.2.3.4"}})), config)


def test_no_docker_interface_means_no_host_gateway() -> None:
    assert "ExtraHosts" not in plan(flow_run(), AgentConfig(docker_interface=False)).body["HostConfig"]


def test_every_image_check_runs_whatever_the_pull_policy() -> None:
    never = agent_config(pull_policy=PullPolicy.NEVER, reg_allow_list=("myregistry.io",))
    with pytest.raises(RunRefused, match="reg_allow_list"):
        plan(flow_run(docker_run(image="python:3.11")), never)
    assert plan(flow_run(docker_run(image="myregistry.io/app:1")), never).pull is False
    with pytest.raises(RunRefused, match="allow_images"):
        plan(flow_run(docker_run(image="evil/app")), agent_config(allow_images=("docker.io/library/*",)))
    with pytest.raises(InvalidImageReference):
        plan(flow_run(docker_run(image="Not A Ref")))


def test_run_config_command_timeout_and_log_shipping() -> None:
    run = flow_run(docker_run(image="busybox:1", command="echo hi", timeout=30))
    result = plan(run, AgentConfig(run_timeout=600))
    assert result.body["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    assert result.body["Labels"]["org.dockyard.timeout"] == "30"
    assert result.body["Labels"]["org.dockyard.ship-logs"] == "true"
    assert (result.timeout, result.ship_logs) == (30, True), "the same, typed, for the deployer"
    by_agent = plan(flow_run(), AgentConfig(run_timeout=600))
    assert by_agent.body["Labels"]["org.dockyard.timeout"] == "600" and by_agent.timeout == 600
    assert "org.dockyard.timeout" not in plan(flow_run()).body["Labels"]
    assert (plan(flow_run()).timeout, plan(flow_run()).ship_logs) == (None, False)


@pytest.mark.parametrize(
    ("policy", "image", "pull_first", "pull"),
    [
        (None, "app:1.0", False, True),
        (None, "app:latest", True, True),
        (None, "app@sha256:" + "a" * 64, False, True),
        (PullPolicy.ALWAYS, "app:1.0", True, True),
        (PullPolicy.ALWAYS, "app@sha256:" + "a" * 64, False, True),
        (PullPolicy.IF_NOT_PRESENT, "app:latest", False, True),
        (PullPolicy.NEVER, "app:latest", False, False),
    ],
)
def test_the_plan_carries_its_pull_decisions(
    policy: PullPolicy | None, image: str, pull_first: bool, pull: bool
) -> None:
    result = plan(flow_run(docker_run(image=image)), AgentConfig(pull_policy=policy))
    assert (result.pull_first, result.pull) == (pull_first, pull)


def test_docker_storage_image_and_one_character_names() -> None:
    storage = {"type": "Docker", "registry_url": "localhost:5000", "image_name": "flows", "image_tag": "v3"}
    result = plan(flow_run(flow=FlowInfo(id="f", name="n", core_version="1.4.1", storage=storage), name="x"))
    assert result.image == "localhost:5000/flows:v3"
    assert result.name == "x-fr-1"


def test_refusals() -> None:
    with pytest.raises(RunRefused, match="only `DockerRun` is supported"):
        plan(flow_run({"type": "KubernetesRun"}))
    with pytest.raises(RunRefused, match="--allow-privileged"):
        plan(flow_run(docker_run(host_config={"privileged": True})))
    with pytest.raises(InvalidVolumeSpec):
        agent_config(volumes=("./x:/y",))  # no working directory captured: refused when read


def test_windows_daemon_reads_volumes_as_windows() -> None:
    config = agent_config(volumes=("C:\\data:/data:ro",), host_os="windows")
    result = plan(flow_run(), config, host_os="windows")
    assert result.body["HostConfig"]["Binds"] == ["C:\\data:/data:ro"]


def test_policy_limits_reach_the_body() -> None:
    config = AgentConfig(policy=RunPolicy(max_memory=512 * 1024**2, max_cpus=0.5))
    host_config = plan(flow_run(), config).body["HostConfig"]
    assert host_config["Memory"] == 512 * 1024**2
    assert host_config["NanoCpus"] == 500_000_000


run_config_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 70000) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "image": st.sampled_from(["python:3.11", "myorg/app", "evil.io/x", "bad image"])
            | st.text(max_size=10),
            "env": st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=3),
            "host_config": st.dictionaries(
                st.sampled_from(["binds", "privileged", "network_mode", "mem_limit", "port_bindings", "x"]),
                run_config_values,
                max_size=3,
            ),
            "ports": run_config_values,
            "command": run_config_values,
            "timeout": run_config_values,
        },
    ),
    st.text(max_size=20),
)
def test_any_run_is_planned_or_refused(fields: dict[str, Any], name: str) -> None:
    config = agent_config(reg_allow_list=("docker.io",), volumes=("/data:/data",), networks=("net1",))
    try:
        result = plan(flow_run(docker_run(**fields), name=name), config)
    except (RunRefused, InvalidImageReference):
        return
    json.dumps(result.body)  # the body is JSON as it will be sent
    assert result.body["HostConfig"]["Binds"][0] == "/data:/data:rw"
    assert result.body["HostConfig"]["NetworkMode"] == "net1"
    assert "host.docker.internal:host-gateway" in result.body["HostConfig"]["ExtraHosts"]
