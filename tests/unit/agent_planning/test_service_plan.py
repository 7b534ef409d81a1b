"""The service plan (swarm mode): the same decisions as the container plan in a Swarm
service's shape, placement, and the refusals of what Swarm cannot express."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from dockyard.domain.agent import labels as L
from dockyard.domain.agent.config import AgentConfig, PullPolicy, RunPolicy
from dockyard.domain.agent.model import FlowInfo, FlowRun, ServicePlan
from dockyard.domain.agent.naming import SERVICE_NAME
from dockyard.domain.agent.plan import plan_container
from dockyard.domain.agent.service_plan import plan_service, redacted_service
from dockyard.domain.agent.validation import validate_agent_config
from dockyard.domain.errors import ConfigurationError, RunRefused
from support.agent_configs import agent_config

SWARM = AgentConfig(swarm=True)


def flow_run(**run_config: Any) -> FlowRun:
    return FlowRun(
        id="fr-1",
        name="brave-otter",
        version=1,
        state="Scheduled",
        serialized_state={"type": "Scheduled"},
        flow=FlowInfo(id="flow-1", name="my-flow", core_version="1.4.1"),
        run_config={"type": "DockerRun", "image": "dockyard-test/busybox:1", **run_config},
    )


def plan(config: AgentConfig = SWARM, **run_config: Any) -> ServicePlan:
    return plan_service(flow_run(**run_config), config, agent_id="agent-1", cluster_id="cluster-1")


def template(service: ServicePlan) -> dict[str, Any]:
    return dict(service.spec["TaskTemplate"])


def container(service: ServicePlan) -> dict[str, Any]:
    return dict(template(service)["ContainerSpec"])


def test_one_replica_never_restarted_with_the_container_plans_image_env_labels_and_command() -> None:
    config = replace(SWARM, key="KEY", env_vars={"A": "1"}, cancel_grace=12.5)
    service = plan(config, command="echo hi", env={"B": "2"})
    as_container = plan_container(flow_run(command="echo hi", env={"B": "2"}), config,
                                  agent_id="agent-1", daemon_id="cluster-1")  # fmt: skip
    spec = container(service)
    assert service.spec["Mode"] == {"Replicated": {"Replicas": 1}}
    assert template(service)["RestartPolicy"] == {"Condition": "none", "MaxAttempts": 0}
    assert spec["Image"] == as_container.body["Image"] == "dockyard-test/busybox:1"
    assert spec["Env"] == as_container.body["Env"]
    assert spec["Args"] == as_container.body["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    assert "Command" not in spec, "the image's entrypoint stays"
    assert service.spec["Labels"] == spec["Labels"] == as_container.body["Labels"]
    assert service.spec["Labels"][L.DAEMON_ID] == "cluster-1"
    assert spec["StopGracePeriod"] == 12_500_000_000, "the agent's --cancel-grace, in nanoseconds"
    assert spec["Hosts"] == ["host-gateway host.docker.internal"]
    assert service.name == "brave-otter" and SERVICE_NAME.fullmatch(service.name)
    assert (service.timeout, service.ship_logs) == (None, True)
    assert "Name" not in service.spec, "the name is the launcher's to choose"


def test_a_run_without_a_command_runs_the_images_own_and_the_flow_runner_command_otherwise() -> None:
    assert "Args" not in container(plan(command=[]))
    assert container(plan())["Args"] == ["prefect", "execute", "flow-run"]


def test_memory_cpu_and_process_limits_become_task_resources() -> None:
    capped = agent_config(swarm=True, policy=RunPolicy(max_memory=512 << 20, max_cpus=1.5, max_pids=200))
    assert template(plan(capped))["Resources"] == {
        "Limits": {"MemoryBytes": 512 << 20, "NanoCPUs": 1_500_000_000, "Pids": 200}
    }
    asked = plan(host_config={"mem_limit": "16m", "mem_reservation": "8m", "cpu_quota": 50_000,
                              "cpu_period": 100_000, "pids_limit": 10})  # fmt: skip
    assert template(asked)["Resources"] == {
        "Limits": {"MemoryBytes": 16 << 20, "NanoCPUs": 500_000_000, "Pids": 10},
        "Reservations": {"MemoryBytes": 8 << 20},
    }
    assert "Resources" not in template(plan())


def test_container_settings_swarm_has_are_carried_over() -> None:
    policy = RunPolicy(allow_cap_add=("NET_ADMIN",), allow_sysctls=True)
    service = plan(
        replace(SWARM, policy=policy),
        host_config={
            "cap_add": ["NET_ADMIN"], "cap_drop": ["MKNOD"], "sysctls": {"net.core.somaxconn": 1024},
            "init": True, "read_only": True, "dns": ["10.0.0.2"], "dns_search": ["corp"], "group_add": [1000],
            "ulimits": [{"name": "nofile", "soft": 100, "hard": 200}],
            "log_config": {"type": "local", "config": {"max-size": "1m"}},
            "tmpfs": {"/scratch": "size=64m,mode=1777"}, "privileged": False, "auto_remove": True,
        },
    )  # fmt: skip
    spec = container(service)
    assert spec["CapabilityAdd"] == ["NET_ADMIN"] and spec["CapabilityDrop"] == ["MKNOD"]
    assert spec["Sysctls"] == {"net.core.somaxconn": "1024"}
    assert spec["Init"] is True and spec["ReadOnly"] is True
    assert spec["DNSConfig"] == {"Nameservers": ["10.0.0.2"], "Search": ["corp"]}
    assert spec["Groups"] == ["1000"]
    assert spec["Ulimits"] == [{"Name": "nofile", "Soft": 100, "Hard": 200}]
    assert spec["Mounts"] == [
        {"Type": "tmpfs", "Target": "/scratch", "TmpfsOptions": {"SizeBytes": 64 << 20, "Mode": 0o1777}}
    ]
    assert template(service)["LogDriver"] == {"Name": "local", "Options": {"max-size": "1m"}}


@pytest.mark.parametrize(
    ("host_config", "policy", "key"),
    [
        ({"privileged": True}, RunPolicy(allow_privileged=True), "privileged"),
        ({"devices": ["/dev/fuse"]}, RunPolicy(allow_devices=("/dev/fuse",)), "devices"),
        ({"port_bindings": {8080: ("127.0.0.1", 8080)}}, RunPolicy(), "port_bindings"),
        ({"publish_all_ports": True}, RunPolicy(allow_public_ports=True), "publish_all_ports"),
        ({"memswap_limit": "32m", "mem_limit": "16m"}, RunPolicy(), "memswap_limit"),
        ({"shm_size": "1g"}, RunPolicy(), "shm_size"),
        ({"cpu_shares": 512}, RunPolicy(), "cpu_shares"),
        ({"cpuset_cpus": "0"}, RunPolicy(), "cpuset_cpus"),
        ({"cpu_period": 50_000}, RunPolicy(), "cpu_period"),
        ({"ipc_mode": "host"}, RunPolicy(allow_host_namespaces=True), "ipc_mode"),
        ({"pid_mode": "host"}, RunPolicy(allow_host_namespaces=True), "pid_mode"),
        ({"security_opt": ["no-new-privileges"]}, RunPolicy(), "security_opt"),
        ({"runtime": "runsc"}, RunPolicy(allow_runtimes=("runsc",)), "runtime"),
        ({"device_requests": [{"count": -1}]}, RunPolicy(allow_gpus=True), "device_requests"),
        ({"oom_kill_disable": True, "mem_limit": "1g"}, RunPolicy(), "oom_kill_disable"),
        ({"tmpfs": {"/t": "noexec"}}, RunPolicy(), "tmpfs"),
    ],
)
def test_what_a_swarm_service_cannot_have_refuses_the_run_naming_the_setting(
    host_config: dict[str, Any], policy: RunPolicy, key: str
) -> None:
    with pytest.raises(RunRefused, match=rf"^host_config `{key}` is not available in swarm mode: "):
        plan(replace(SWARM, policy=policy), host_config=host_config)


def test_the_operators_policy_is_asked_first() -> None:
    with pytest.raises(RunRefused, match="--allow-privileged"):
        plan(host_config={"privileged": True})


def test_mounts_keep_the_volume_parsing_and_bind_policy() -> None:
    config = agent_config(swarm=True, volumes=("/srv/data:/data:ro,rslave", "cache:/cache:nocopy"),
                          policy=RunPolicy(allow_bind_roots=("/srv",)))  # fmt: skip
    service = plan(config, host_config={"binds": ["/srv/in:/in"]})
    assert container(service)["Mounts"] == [
        {"Type": "bind", "Source": "/srv/data", "Target": "/data", "ReadOnly": True,
         "BindOptions": {"Propagation": "rslave"}},
        {"Type": "volume", "Source": "cache", "Target": "/cache",
         "VolumeOptions": {"NoCopy": True, "Labels": {L.MANAGED: "true"}}},
        {"Type": "bind", "Source": "/srv/in", "Target": "/in"},
    ]  # fmt: skip
    with pytest.raises(RunRefused, match="--allow-bind-root /etc"):
        plan(config, host_config={"binds": ["/etc:/etc"]})
    with pytest.raises(RunRefused, match="SELinux relabelling"):
        plan(config, host_config={"binds": ["/srv/in:/in:z"]})


def test_networks_are_the_agents_or_the_runs_allowed_one() -> None:
    service = plan(replace(SWARM, networks=("flows", "shared")))
    assert service.networks == ("flows", "shared")
    assert template(service)["Networks"] == [{"Target": "flows"}, {"Target": "shared"}]
    allowed = replace(SWARM, policy=RunPolicy(allow_networks=("overlay-a",)))
    assert plan(allowed, host_config={"network_mode": "overlay-a"}).networks == ("overlay-a",)
    assert plan(host_config={"network_mode": "bridge"}).networks == (), "each node's default bridge"
    with pytest.raises(RunRefused, match="'none' is not available in swarm mode"):
        plan(host_config={"network_mode": "none"})
    with pytest.raises(RunRefused, match="--allow-network overlay-b"):
        plan(allowed, host_config={"network_mode": "overlay-b"})


def test_placement_is_the_operators_plus_what_the_run_may_ask_for() -> None:
    config = replace(
        SWARM,
        constraints=("node.labels.role==flows",),
        placement_prefs=("spread=node.labels.zone",),
        policy=RunPolicy(allow_placement=("node.labels.zone==*", "spread=node.labels.*")),
    )
    asked = {"constraints": ["node.labels.zone == eu", "node.labels.role==flows"],
             "preferences": [{"spread": "node.labels.rack"}]}  # fmt: skip
    assert template(plan(config, placement=asked))["Placement"] == {
        "Constraints": ["node.labels.role==flows", "node.labels.zone==eu"],
        "Preferences": [
            {"Spread": {"SpreadDescriptor": "node.labels.zone"}},
            {"Spread": {"SpreadDescriptor": "node.labels.rack"}},
        ],
    }
    assert template(plan(config))["Placement"] == {
        "Constraints": ["node.labels.role==flows"],
        "Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.zone"}}],
    }
    with pytest.raises(RunRefused, match=r"placement constraint 'node.role==manager'.*--allow-placement"):
        plan(config, placement={"constraints": ["node.role==manager"]})
    with pytest.raises(RunRefused, match=r"--allow-placement 'node\.labels\.zone==eu'"):
        plan(placement={"constraints": ["node.labels.zone==eu"]})
    assert "Placement" not in template(plan())


def test_a_container_agent_refuses_a_run_that_asks_for_placement() -> None:
    with pytest.raises(RunRefused, match=r"Swarm `placement`.*--swarm"):
        plan_container(flow_run(placement={"constraints": ["node.role==worker"]}), AgentConfig(),
                       agent_id="a", daemon_id="d")  # fmt: skip


@pytest.mark.parametrize(
    ("policy", "image", "resolve"),
    [
        (None, "registry.example/app:latest", True),  # floating: always
        (None, "registry.example/app", True),
        (None, "registry.example/app:1.0", False),  # pinned: if-not-present
        (PullPolicy.ALWAYS, "registry.example/app:1.0", True),
        (PullPolicy.NEVER, "registry.example/app:latest", False),
        (PullPolicy.ALWAYS, "registry.example/app@sha256:" + "b" * 64, False),  # a digest already
    ],
)
def test_the_pull_policy_decides_whether_the_tag_is_pinned_to_a_digest(
    policy: PullPolicy | None, image: str, resolve: bool
) -> None:
    assert plan(replace(SWARM, pull_policy=policy), image=image).resolve_digest is resolve


def test_the_image_allow_list_applies() -> None:
    config = agent_config(swarm=True, allow_images=("dockyard-test/*",))
    assert plan(config).image == "dockyard-test/busybox:1"
    with pytest.raises(RunRefused, match="--allow-image"):
        plan(config, image="other/app:1")


def test_exposed_ports_change_nothing_for_a_service() -> None:
    assert "EndpointSpec" not in plan(ports=[8080]).spec
    assert plan(ports=[8080]).spec == plan().spec


def test_the_redacted_plan_hides_secrets() -> None:
    shown = redacted_service(plan(replace(SWARM, key="SECRET-KEY"), env={"DB_PASSWORD": "hunter2"}))
    text = str(shown)
    assert "SECRET-KEY" not in text and "hunter2" not in text
    assert "PREFECT__CLOUD__API_KEY=<redacted>" in shown["service"]["TaskTemplate"]["ContainerSpec"]["Env"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"networks": ("host",)}, "--network host is not available with --swarm"),
        ({"networks": ("bridge",)}, "--network bridge is not available with --swarm"),
        ({"volumes": ("/srv:/srv:z",)}, "--volume: .*SELinux relabelling"),
        ({"constraints": ("node.labels.role",)}, "--constraint: 'node.labels.role' is not a placement"),
        ({"placement_prefs": ("binpack=node.id",)}, "--placement-pref: 'binpack=node.id' is not"),
        ({"placement_timeout": 0.0}, "--placement-timeout must be a positive number"),
    ],
)
def test_swarm_settings_are_checked_at_start(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        validate_agent_config(agent_config(swarm=True, **values))
