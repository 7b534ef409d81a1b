"""Prefect 1.4.1's own run configs through its own client: create_flow_run stores each of
them as Prefect serialises it (DockerRun, LocalRun, UniversalRun, KubernetesRun), and refuses
only a DockerRun that dockyard's agent could not run, with the reason in Prefect's
ClientError; the flow's parameters and a name given come through as well."""

from __future__ import annotations

import json
from pathlib import Path

from support.prefect_client import prefect_env, run_python
from support.server_process import ServerProcess, dockyard_server

__all__ = ["dockyard_server"]

CREATE_RUNS = """
import json
from prefect import Client, Flow, Parameter, task
from prefect.run_configs import DockerRun, KubernetesRun, LocalRun, UniversalRun
from prefect.exceptions import ClientError


@task
def echo(x):
    return x


with Flow("compat-run-configs") as flow:
    echo(Parameter("who", default="world"))

client = Client()
client.create_project("compat")
flow_id = client.register(flow, project_name="compat", build=False, no_url=True)
configs = {
    "docker": DockerRun(image="prefecthq/prefect:1.4.1", env={"A": "1", "N": 2}, labels=["docker"],
                        ports=[8080], host_config={"mem_limit": "64m"}),
    "docker-empty": DockerRun(),
    "local": LocalRun(working_dir="/tmp", env={"A": "1"}, labels=["local"]),
    "universal": UniversalRun(env={"A": "1"}, labels=["any"]),
    "kubernetes": KubernetesRun(image="prefecthq/prefect:1.4.1", cpu_limit="1", memory_request="1Gi",
                                image_pull_secrets=["regcred"], labels=["k8s"]),
}
out = {"runs": {}, "refused": {}}
for name, config in configs.items():
    out["runs"][name] = client.create_flow_run(
        flow_id=flow_id, run_config=config, parameters={"who": name}, run_name=f"compat-{name}"
    )
for name, config in {
    "bad-image": DockerRun(image="Not An Image"),
    "bad-env": DockerRun(image="busybox:1", env={"A": {"nested": 1}}),
}.items():
    try:
        client.create_flow_run(flow_id=flow_id, run_config=config)
    except ClientError as exc:
        out["refused"][name] = str(exc)
print(json.dumps(out))
"""

STORED = "query($id: uuid!) { flow_run_by_pk(id: $id) { name parameters labels run_config } }"


def test_prefects_run_configs_are_stored_and_a_docker_run_the_agent_cannot_run_is_refused(
    dockyard_server: ServerProcess, tmp_path: Path
) -> None:
    env = prefect_env(dockyard_server.url, tmp_path / "home")
    out = json.loads(run_python(CREATE_RUNS, env).strip().splitlines()[-1])

    stored = {
        name: dockyard_server.data(STORED, {"id": run_id})["flow_run_by_pk"]
        for name, run_id in out["runs"].items()
    }
    assert {name: run["run_config"]["type"] for name, run in stored.items()} == {
        "docker": "DockerRun",
        "docker-empty": "DockerRun",
        "local": "LocalRun",
        "universal": "UniversalRun",
        "kubernetes": "KubernetesRun",
    }
    docker = stored["docker"]["run_config"]
    assert (docker["image"], docker["env"], docker["ports"], docker["host_config"]) == (
        "prefecthq/prefect:1.4.1",
        {"A": "1", "N": 2},
        [8080],
        {"mem_limit": "64m"},
    )
    assert stored["kubernetes"]["run_config"]["cpu_limit"] == "1"
    assert stored["local"]["run_config"]["working_dir"] == "/tmp"
    for name, run in stored.items():
        assert run["name"] == f"compat-{name}" and run["parameters"] == {"who": name}
    assert stored["universal"]["labels"] == ["any"]

    assert "run_config `image`: invalid image reference 'Not An Image'" in out["refused"]["bad-image"]
    assert "env value of `A` must be a string, not dict" in out["refused"]["bad-env"]
    assert len(out["refused"]) == 2
