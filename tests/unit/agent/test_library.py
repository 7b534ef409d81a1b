"""The library front door: Prefect's DockerAgent arguments, built through the composition
root, with adapters overridden by an embedding program (here: fakes)."""

from __future__ import annotations

import threading

from dependency_injector import providers

from dockyard.entrypoints import DockerAgent
from dockyard.entrypoints.containers import Container
from support.agent_harness import wait_for
from support.fakes import FakeBackend, FakeLeases, FakeRuntime

ENV = {"PREFECT__CLOUD__AGENT__NAME": "from-env", "DOCKYARD_AGENT_LIMIT": "3"}


def test_prefect_arguments_map_onto_the_agent_config(tmp_path: object) -> None:
    agent = DockerAgent(
        None, "lib-agent", ["b", "a"], {"K": "V=W"}, 5, None, True, None, True, ["/data:/data:ro"],
        network="net1", networks=["net2"], reg_allow_list=["myorg"], api="http://127.0.0.1:9999", environ=ENV,
    )  # fmt: skip
    config = agent.config
    assert config.name == "lib-agent"
    assert set(config.labels) == {"a", "b"}
    assert config.env_vars == {"K": "V=W"}
    assert config.max_polls == 5
    assert config.send_flow_run_logs is False
    assert config.networks[:2] == ("net1", "net2")
    assert config.api == "http://127.0.0.1:9999"
    assert config.limit == 3, "options not given fall back to the environment"


def test_an_embedder_overrides_adapters_and_the_agent_runs_on_them() -> None:
    backend, runtime = FakeBackend(), FakeRuntime(images=["img:1"])
    run_id = backend.add_run(run_config={"type": "DockerRun", "image": "img:1", "command": "true"})
    container = Container()
    container.agent.backend.override(providers.Object(backend))
    container.agent.runtime.override(providers.Object(runtime))
    container.agent.leases.override(providers.Object(FakeLeases()))
    agent = DockerAgent(name="embedded", no_pull=True, container=container, environ={})

    thread = threading.Thread(target=agent.start, daemon=True)
    thread.start()
    try:
        wait_for(lambda: runtime.by_run(run_id) is not None, what="the container")
        container_state = runtime.by_run(run_id)
        assert container_state is not None
        wait_for(lambda: container_state.status == "running")
        runtime.finish(container_state.id, 0)
        wait_for(lambda: backend.state_of(run_id) == "Success", what="Success")
    finally:
        agent.stop()
        thread.join(timeout=15)
    assert not thread.is_alive()
    assert backend.registered[0]["name"] == "embedded"
    assert runtime.by_run(run_id) is None
