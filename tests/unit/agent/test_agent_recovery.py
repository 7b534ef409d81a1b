"""Restarts, daemon loss, backend loss, and container output — on fakes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from dockyard.domain.agent.model import RunLog
from dockyard.domain.agent.outcomes import Verb
from support.agent_harness import Harness, wait_for
from support.fakes import FakeRuntime


def test_a_restarted_agent_adopts_running_containers_and_records_their_end() -> None:
    first = Harness()
    run_id = first.backend.add_run()
    with first.running():
        cid = first.container_of(run_id)
    assert first.runtime.containers[cid].status == "running", "stopping the agent must not stop containers"

    second = Harness(backend=first.backend, runtime=first.runtime, clock=first.clock, leases=first.leases)
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

    second = Harness(backend=first.backend, runtime=first.runtime, clock=first.clock, leases=first.leases)
    with second.running():
        second.wait_state(run_id, "Failed")
    assert "exited with code 2" in first.backend.message_of(run_id)
    assert first.backend.states_of(run_id).count("Failed") == 1


def submitted(agent: str, *, instance: str, lease: str) -> dict[str, Any]:
    """A Submitted state as the agent process ``instance`` writes it."""
    claim = {"agent": agent, "daemon": "daemon-1", "instance": instance, "lease": lease}
    return {"type": "Submitted", "message": "m", "context": {"dockyard": claim}}


def test_a_run_submitted_by_this_hosts_crashed_agent_but_never_created_is_deployed_once() -> None:
    h = Harness()
    run_id = h.backend.add_run()
    # The agent before died right after claiming: Submitted by it, no container anywhere. Its
    # lease went with it.
    crashed = h.leases.acquire("test-agent", "daemon-1", "crashed")
    h.leases.release(crashed)
    h.backend.set_flow_run_state(run_id, 1, submitted("test-agent", instance="crashed", lease=crashed.id))
    with h.running():
        cid = h.container_of(run_id)
        h.runtime.finish(cid, 0)
        h.wait_state(run_id, "Success")
    assert h.backend.states_of(run_id).count("Submitted") == 1
    assert len(h.runtime.removed) == 1


@pytest.mark.parametrize(
    ("agent", "lease"),
    [("other", "any"), ("test-agent", "another-hosts-lease"), ("test-agent", None)],
    ids=["another agent", "same name, another host", "same name, no lease (older dockyard)"],
)
def test_a_run_submitted_by_another_agent_process_is_not_touched_at_start(
    agent: str, lease: str | None
) -> None:
    h = Harness()
    run_id = h.backend.add_run()
    claim = submitted(agent, instance="someone-else", lease=lease or "")
    if lease is None:
        del claim["context"]["dockyard"]["lease"], claim["context"]["dockyard"]["instance"]
    h.backend.set_flow_run_state(run_id, 1, claim)
    with h.running() as agent_:
        wait_for(lambda: agent_.identity is not None)
        wait_for(lambda: h.backend.polls >= 2, what="two polls after recovery")
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

    second = Harness(backend=first.backend, runtime=first.runtime, clock=first.clock, leases=first.leases)
    with second.running():
        wait_for(lambda: second.agent is not None and second.agent.tracker.get(run_id) is not None)
        second.runtime.finish(cid, 0, output=b"line 0\nline 1\nline 2\nline 3\n")
        second.wait_state(run_id, "Success")
    shipped = [line for line in first.backend.logs_of(run_id) if line.startswith("line")]
    assert shipped == ["line 0", "line 1", "line 2", "line 3"]


def after_submission(logs: list[str]) -> list[str]:
    return [line for line in logs if not line.startswith("Submitted for execution")]


def test_output_written_while_no_agent_ran_is_shipped_before_the_outcome() -> None:
    first = Harness()
    run_id = first.backend.add_run(run_config={"type": "DockerRun", "command": "work"})
    with first.running():
        cid = first.container_of(run_id)
    started = first.runtime.containers[cid].started_at
    assert started is not None
    # The first agent shipped line 0 (stamped 0 s in), then went away; the container went on.
    first.backend.logs.append(RunLog(run_id, "line 0", "INFO", "container", started))
    first.runtime.finish(cid, 0, output=b"line 0\nline 1\nline 2\n")

    second = Harness(backend=first.backend, runtime=first.runtime, clock=first.clock, leases=first.leases)
    with second.running():
        second.wait_state(run_id, "Success")
    assert after_submission(first.backend.logs_of(run_id)) == [
        "line 0", "line 1", "line 2", "Container exited with code 0.",
    ]  # fmt: skip


class BreakingStreams(FakeRuntime):
    """Every output stream breaks off after the lines written so far, as a dropped
    connection to the daemon does, while the container runs on."""

    def follow_logs(
        self, container_id: str, *, timestamps: bool = False, since: datetime | None = None
    ) -> Iterator[bytes]:
        c = self.containers[container_id]
        if c.status != "running":
            yield from super().follow_logs(container_id, timestamps=timestamps, since=since)
            return
        wait_for(lambda: c.output, what="some output")
        assert c.started_at is not None and timestamps
        for i, line in enumerate(c.output.splitlines(keepends=True)):
            moment = c.started_at + timedelta(seconds=i)
            yield moment.strftime("%Y-%m-%dT%H:%M:%S.%f000Z ").encode() + line


def test_output_a_broken_stream_missed_is_shipped_once_when_the_container_ends() -> None:
    h = Harness(runtime=BreakingStreams(images=["dockyard-test/busybox:1"]))
    run_id = h.backend.add_run(run_config={"type": "DockerRun", "command": "work"})
    with h.running() as agent:
        cid = h.container_of(run_id)
        h.runtime.containers[cid].output = b"early\n"
        wait_for(lambda: agent.streamer.active_streams == 0, what="the stream to break off")
        h.runtime.finish(cid, 0, output=b"late\n")
        h.wait_state(run_id, "Success")
    assert after_submission(h.backend.logs_of(run_id)) == ["early", "late", "Container exited with code 0."]
