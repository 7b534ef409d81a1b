"""The agent in swarm mode on fakes: each run a service on a Swarm manager in memory
(``FakeSwarm``), deployed through the real planner and supervised by the same reconcile
pass as containers: task states to final states, the placement deadline, cancel, limits,
networks, digest pinning and registry logins."""

from __future__ import annotations

import pytest

from dockyard.domain.agent import labels as L
from dockyard.domain.agent.agent import Agent
from dockyard.domain.agent.config import AgentConfig, PullPolicy, RegistryCredentials
from dockyard.domain.errors import ConfigurationError
from support.agent_harness import DEFAULT_IMAGE, Harness, wait_for
from support.clock import AGENT_START, FakeClock
from support.fake_swarm import STOPPED, FakeSwarm
from support.fakes import FakeBackend, FakeLeases, FakeRuntime

LOGIN = RegistryCredentials("localhost:5000", "robot", "s3cret")


def swarm_harness(**config: object) -> Harness:
    return Harness(AgentConfig(name="swarm-agent", swarm=True, **config), runtime=FakeSwarm())  # type: ignore[arg-type]


def service_of(h: Harness, run_id: str) -> str:
    wait_for(lambda: h.runtime.by_run(run_id) is not None, what=f"a service for {run_id}")
    return str(h.runtime.by_run(run_id).id)


def command_run(h: Harness, command: str = "echo hi", **run_config: object) -> str:
    return h.backend.add_run(
        run_config={"type": "DockerRun", "image": DEFAULT_IMAGE, "command": command, **run_config}
    )


def test_a_run_is_one_service_carrying_the_plan_and_ends_success_when_its_task_completes() -> None:
    h = swarm_harness()
    run_id = command_run(h)
    with h.running():
        sid = service_of(h, run_id)
        service = h.runtime.services[sid]
        assert service.spec["Labels"][L.FLOW_RUN_ID] == run_id
        assert service.spec["Labels"][L.DAEMON_ID] == "cluster-1", "a service belongs to the Swarm"
        assert service.spec["Mode"] == {"Replicated": {"Replicas": 1}}
        assert service.spec["TaskTemplate"]["RestartPolicy"]["Condition"] == "none"
        h.wait_state(run_id, "Running")  # a command run has no flow runner to say so
        h.runtime.finish(sid, 0, output=b"hi\n")
        h.wait_state(run_id, "Success")
        wait_for(lambda: sid in h.runtime.removed, what="the service's removal")
    assert h.backend.message_of(run_id) == "Container exited with code 0."
    assert f"Submitted for execution: Service ID: {sid}" in h.backend.logs_of(run_id)
    assert "hi" in h.backend.logs_of(run_id), "the task's output becomes run logs"


def test_a_failed_task_fails_the_run_with_its_exit_code_and_last_lines() -> None:
    h = swarm_harness()
    run_id = command_run(h)
    with h.running():
        sid = service_of(h, run_id)
        h.runtime.move(sid, "running")
        h.runtime.finish(sid, 3, output=b"starting\nsomething broke\n")
        h.wait_state(run_id, "Failed")
        wait_for(lambda: sid in h.runtime.removed, what="the service's removal")
    assert "Container exited with code 3." in h.backend.message_of(run_id)
    assert "something broke" in h.backend.message_of(run_id)


def test_a_task_the_node_rejects_fails_the_run_with_swarms_reason() -> None:
    h = swarm_harness()
    run_id = command_run(h)
    with h.running():
        sid = service_of(h, run_id)
        h.runtime.move(sid, "rejected", error="No such image: dockyard-test/busybox:1")
        h.wait_state(run_id, "Failed")
        wait_for(lambda: sid in h.runtime.removed, what="the service's removal")
    assert h.backend.message_of(run_id) == (
        "The Swarm node refused to run the flow run's task: No such image: dockyard-test/busybox:1."
    )


def test_a_task_no_node_takes_within_the_placement_timeout_fails_saying_why() -> None:
    h = swarm_harness(placement_timeout=30.0)
    run_id = command_run(h)
    reason = "no suitable node (scheduling constraints not satisfied on 3 nodes)"
    with h.running():
        sid = service_of(h, run_id)
        h.runtime.move(sid, "pending", error=reason)
        h.clock.advance(20)
        h.clock.advance(5)
        assert h.backend.state_of(run_id) == "Running", "still within the timeout"
        h.clock.advance(10)
        h.wait_state(run_id, "Failed")
        wait_for(lambda: sid in h.runtime.removed, what="the service's removal")
    assert (
        h.backend.message_of(run_id) == f"No Swarm node could take the flow run's task within 30s: {reason}."
    )


def test_a_task_still_being_prepared_on_a_node_is_not_unplaced() -> None:
    h = swarm_harness(placement_timeout=5.0)
    run_id = command_run(h)
    with h.running():
        sid = service_of(h, run_id)
        h.runtime.move(sid, "starting")  # a node has it: pulling a large image, say
        h.clock.advance(60)
        h.runtime.finish(sid, 0)
        h.wait_state(run_id, "Success")


def test_cancelling_stops_the_service_then_records_cancelled_and_removes_it() -> None:
    h = swarm_harness(cancel_grace=7.0)
    run_id = command_run(h, "sleep 300")
    with h.running():
        sid = service_of(h, run_id)
        h.runtime.move(sid, "running")
        h.backend.set_state_directly(run_id, "Cancelling", "Flow run is cancelling")
        h.wait_state(run_id, "Cancelled")
        wait_for(lambda: sid in h.runtime.removed, what="the service's removal")
    assert h.runtime.by_run(run_id) is None


def test_a_run_over_its_time_limit_is_stopped_and_fails_as_timed_out() -> None:
    h = swarm_harness(run_timeout=60.0)
    run_id = command_run(h, "sleep 300")
    with h.running():
        sid = service_of(h, run_id)
        h.runtime.move(sid, "running")
        h.clock.advance(61)
        h.wait_state(run_id, "Failed")
        wait_for(lambda: sid in h.runtime.removed, what="the service's removal")
    assert "timed out" in h.backend.message_of(run_id) and "60s" in h.backend.message_of(run_id)


def test_a_service_stopped_while_no_agent_ran_is_settled_by_the_next_one() -> None:
    """The stopped service is the run's record: a restarted agent finds it ended."""
    backend, swarm, leases = FakeBackend(), FakeSwarm(), FakeLeases()
    first = Harness(
        AgentConfig(name="swarm-agent", swarm=True), backend=backend, runtime=swarm, leases=leases
    )  # type: ignore[arg-type]
    run_id = command_run(first, "sleep 300")
    with first.running():
        sid = service_of(first, run_id)
        swarm.move(sid, "running")
    swarm.move(sid, "exited", exit_code=None, error=STOPPED)
    second = Harness(
        AgentConfig(name="swarm-agent", swarm=True), backend=backend, runtime=swarm, leases=leases
    )  # type: ignore[arg-type]
    with second.running():
        second.wait_state(run_id, "Failed")
        wait_for(lambda: sid in swarm.removed, what="the service's removal")
    assert backend.message_of(run_id) == f"Container ended without an exit code; Docker reported: {STOPPED}."


def test_limit_one_deploys_the_second_run_only_once_the_first_service_is_settled() -> None:
    h = swarm_harness(limit=1)
    first, second = command_run(h), command_run(h)
    with h.running():
        wait_for(lambda: len(h.runtime.services) == 1, what="one service")
        h.clock.advance(30)
        assert len(h.runtime.services) == 1
        [sid] = h.runtime.services
        h.runtime.finish(sid, 0)
        wait_for(
            lambda: {h.backend.state_of(first), h.backend.state_of(second)} >= {"Success"}, what="one done"
        )
        later = next(r for r in (first, second) if h.backend.state_of(r) != "Success")
        h.runtime.finish(service_of(h, later), 0)
        h.wait_state(later, "Success")


def test_heartbeats_speak_for_a_command_run_whose_task_waits_for_a_node() -> None:
    h = swarm_harness()
    run_id = command_run(h)
    with h.running():
        service_of(h, run_id)
        wait_for(lambda: any(run_id in beat for beat in h.backend.heartbeats), what="a heartbeat")


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        (None, "The network 'flows' does not exist on the Swarm's manager"),
        ("local", "The network 'flows' is a local network, which exists on one node only"),
    ],
)
def test_a_network_that_is_not_swarm_scoped_fails_the_run_naming_it(scope: str | None, message: str) -> None:
    h = swarm_harness(networks=("flows",))
    if scope is not None:
        h.runtime.networks["flows"] = scope
    run_id = command_run(h)
    with h.running():
        h.wait_state(run_id, "Failed")
    assert message in h.backend.message_of(run_id)
    assert not h.runtime.services


def test_a_swarm_scoped_network_is_joined() -> None:
    h = swarm_harness(networks=("flows",))
    h.runtime.networks["flows"] = "swarm"
    run_id = command_run(h)
    with h.running():
        sid = service_of(h, run_id)
    assert h.runtime.services[sid].spec["TaskTemplate"]["Networks"] == [{"Target": "flows"}]


def test_pull_policy_always_pins_the_service_to_the_digest_its_registry_serves_with_the_login() -> None:
    h = swarm_harness(pull_policy=PullPolicy.ALWAYS, registry_credentials=(LOGIN,))
    image = "localhost:5000/team/app:1.0"
    h.runtime.digests[image] = "sha256:" + "a" * 64
    run_id = command_run(h, image=image)
    with h.running():
        sid = service_of(h, run_id)
    service = h.runtime.services[sid]
    assert service.image == f"{image}@sha256:{'a' * 64}"
    assert h.runtime.resolved == [(image, LOGIN)]
    assert service.credentials == LOGIN, "the nodes pull with the agent's login"


def test_an_image_its_registry_cannot_resolve_fails_the_run_with_the_registrys_words() -> None:
    h = swarm_harness(pull_policy=PullPolicy.ALWAYS)
    run_id = command_run(h, image="localhost:5000/team/app:1.0")
    with h.running():
        h.wait_state(run_id, "Failed")
    assert "Cannot resolve image localhost:5000/team/app:1.0 at its registry" in h.backend.message_of(run_id)


@pytest.mark.parametrize("policy", [None, PullPolicy.IF_NOT_PRESENT, PullPolicy.NEVER])
def test_other_pull_policies_name_the_image_as_given_and_leave_pulls_to_the_nodes(
    policy: PullPolicy | None,
) -> None:
    h = swarm_harness(pull_policy=policy)
    run_id = command_run(h, image="localhost:5000/team/app:1.0")
    with h.running():
        sid = service_of(h, run_id)
    assert h.runtime.services[sid].image == "localhost:5000/team/app:1.0"
    assert h.runtime.resolved == []


def test_a_taken_service_name_tries_the_next_one() -> None:
    h = swarm_harness()
    run_id = h.backend.add_run(
        name="brave-otter", run_config={"type": "DockerRun", "image": DEFAULT_IMAGE, "command": "true"}
    )
    h.runtime.taken_names.add("brave-otter")
    with h.running():
        sid = service_of(h, run_id)
    assert h.runtime.services[sid].name == "brave-otter-1"


def test_a_run_swarm_cannot_express_fails_naming_its_setting() -> None:
    h = swarm_harness()
    run_id = command_run(h, host_config={"shm_size": "1g"})
    with h.running():
        h.wait_state(run_id, "Failed")
    assert h.backend.message_of(run_id).startswith("host_config `shm_size` is not available in swarm mode")
    assert not h.runtime.services


def test_swarm_mode_and_the_runtime_must_agree() -> None:
    clock, leases = FakeClock(AGENT_START), FakeLeases()
    with pytest.raises(ConfigurationError, match="swarm mode needs a Swarm service runtime"):
        Agent(config=AgentConfig(swarm=True), backend=FakeBackend(), runtime=FakeRuntime(), clock=clock,
              leases=leases)  # fmt: skip
    with pytest.raises(ConfigurationError, match="swarm mode needs a Swarm service runtime"):
        Agent(config=AgentConfig(), backend=FakeBackend(), runtime=FakeSwarm(), clock=clock, leases=leases)
