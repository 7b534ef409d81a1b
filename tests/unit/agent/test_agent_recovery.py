"""Restarts, daemon loss, backend loss, and container output — on fakes."""

from __future__ import annotations

from dockyard.domain.agent.outcomes import Verb
from support.agent_harness import Harness, wait_for


def test_a_restarted_agent_adopts_running_containers_and_records_their_end() -> None:
    first = Harness()
    run_id = first.backend.add_run()
    with first.running():
        cid = first.container_of(run_id)
    assert first.runtime.containers[cid].status == "running", "stopping the agent must not stop containers"

    second = Harness(backend=first.backend, runtime=first.runtime, clock=first.clock)
    with second.running() as agent:
        wait_for(lambda: agent.tracker.get(run_id) is not None, what="adoption")
        second.runtime.finish(cid, 0)
        second.wait_state(run_id, "Success")
    assert first.backend.states_of(run_id) == ["Scheduled", "Submitted", "Success"]
    assert first.runtime.containers == {}


def test_a_container_that_exited_while_the_agent_was_down_is_settled_at_start() -> None:
    first = Harness()
    run_id = first.backend.add_run()
    with first.running():
        cid = first.container_of(run_id)
    first.runtime.finish(cid, 2, output=b"crashed while nobody watched\n")

    second = Harness(backend=first.backend, runtime=first.runtime, clock=first.clock)
    with second.running():
        second.wait_state(run_id, "Failed")
    assert "exited with code 2" in first.backend.message_of(run_id)
    assert first.backend.states_of(run_id).count("Failed") == 1


def test_a_run_submitted_before_a_crash_but_never_created_is_deployed_once() -> None:
    h = Harness()
    run_id = h.backend.add_run()
    # The agent died right after claiming: Submitted by us, no container anywhere.
    h.backend.set_flow_run_state(
        run_id,
        1,
        {
            "type": "Submitted",
            "message": "m",
            "context": {"dockyard": {"agent": "test-agent", "daemon": "daemon-1"}},
        },
    )
    with h.running():
        cid = h.container_of(run_id)
        h.runtime.finish(cid, 0)
        h.wait_state(run_id, "Success")
    assert h.backend.states_of(run_id).count("Submitted") == 1
    assert len(h.runtime.removed) == 1


def test_a_submitted_run_of_another_agent_is_not_touched_at_start() -> None:
    h = Harness()
    run_id = h.backend.add_run()
    h.backend.set_flow_run_state(
        run_id,
        1,
        {
            "type": "Submitted",
            "message": "m",
            "context": {"dockyard": {"agent": "other", "daemon": "daemon-1"}},
        },
    )
    with h.running() as agent:
        wait_for(lambda: agent.identity is not None)
        wait_for(lambda: h.agent is not None and h.agent.health_report().details["daemon"] == "ok")
    assert h.runtime.containers == {}
    assert h.backend.state_of(run_id) == "Submitted"


def test_daemon_loss_makes_the_agent_unhealthy_and_it_reconciles_when_it_returns() -> None:
    h = Harness()
    run_id = h.backend.add_run()
    with h.running() as agent:
        cid = h.container_of(run_id)
        h.runtime.available = False
        wait_for(lambda: not agent.health_report().healthy, what="unhealthy")
        assert any("Docker daemon" in reason for reason in agent.health_report().reasons)
        h.runtime.containers[cid].status, h.runtime.containers[cid].exit_code = "exited", 137
        h.runtime.available = True
        h.wait_state(run_id, "Failed")
        wait_for(lambda: agent.health_report().healthy, what="healthy again")
    assert "exited with code 137" in h.backend.message_of(run_id)


def test_an_outcome_is_recorded_once_the_backend_returns() -> None:
    h = Harness()
    run_id = h.backend.add_run()
    with h.running() as agent:
        cid = h.container_of(run_id)
        h.backend.available = False
        h.runtime.finish(cid, 0)
        wait_for(lambda: not agent.health_report().healthy or True)
        assert cid in h.runtime.containers, "the container is the only record of the outcome: keep it"
        h.backend.available = True
        h.wait_state(run_id, "Success")
        wait_for(lambda: cid in h.runtime.removed)


def test_keep_containers_keeps_them_after_recording() -> None:
    h = Harness().with_config(keep_containers=True)
    run_id = h.backend.add_run()
    with h.running():
        cid = h.container_of(run_id)
        h.runtime.finish(cid, 0)
        h.wait_state(run_id, "Success")
    assert cid in h.runtime.containers and h.runtime.removed == []


def test_show_flow_logs_prints_lines_marked_with_the_run_name() -> None:
    h = Harness().with_config(show_flow_logs=True)
    run_id = h.backend.add_run(name="chatty-otter")
    with h.running():
        h.runtime.finish(h.container_of(run_id), 0, output=b"hello\nworld\n")
        h.wait_state(run_id, "Success")
        wait_for(lambda: len(h.output.lines) >= 2)
    assert h.output.lines == [("chatty-otter", "hello"), ("chatty-otter", "world")]


def test_output_of_a_non_prefect_image_reaches_the_backend_before_the_final_state() -> None:
    h = Harness()
    run_id = h.backend.add_run(run_config={"type": "DockerRun", "command": "echo hi"})
    with h.running():
        h.runtime.finish(h.container_of(run_id), 0, output=b"line one\nline two\n")
        h.wait_state(run_id, "Success")
    logs = h.backend.logs_of(run_id)
    assert logs.index("line one") < logs.index("line two") < logs.index("Container exited with code 0.")
    assert h.backend.states_of(run_id) == ["Scheduled", "Submitted", "Running", "Success"]


def test_verbs_cover_every_action() -> None:
    assert {v.value for v in Verb} == {"leave", "adopt", "start", "discard", "stop", "settle"}


def test_an_adopted_container_does_not_ship_output_twice() -> None:
    from datetime import timedelta

    from dockyard.domain.agent.model import RunLog

    first = Harness()
    run_id = first.backend.add_run(run_config={"type": "DockerRun", "command": "work"})
    with first.running():
        cid = first.container_of(run_id)
    started = first.runtime.containers[cid].started_at
    assert started is not None
    # What the first agent shipped before it went away: lines 0 and 1 (stamped 0 s and 1 s in).
    first.backend.logs += [
        RunLog(run_id, "line 0", "INFO", "container", started),
        RunLog(run_id, "line 1", "INFO", "container", started + timedelta(seconds=1)),
    ]

    second = Harness(backend=first.backend, runtime=first.runtime, clock=first.clock)
    with second.running():
        wait_for(lambda: second.agent is not None and second.agent.tracker.get(run_id) is not None)
        second.runtime.finish(cid, 0, output=b"line 0\nline 1\nline 2\nline 3\n")
        second.wait_state(run_id, "Success")
    shipped = [line for line in first.backend.logs_of(run_id) if line.startswith("line")]
    assert shipped == ["line 0", "line 1", "line 2", "line 3"]
