"""One supervision pass at a time, on fakes: batching, retries and what is asked when."""

from __future__ import annotations

import time
from typing import Any

from dockyard.domain.agent import labels as L
from dockyard.domain.agent.health import AgentHealth
from dockyard.domain.agent.model import TaskRunInfo
from dockyard.domain.agent.outbox import Outbox
from dockyard.domain.agent.ownership import Owner
from dockyard.domain.agent.streaming import OutputStreamer
from dockyard.domain.agent.supervision import SupervisionSettings, Supervisor
from dockyard.domain.agent.tracker import Phase, TrackedRun, Tracker
from dockyard.domain.errors import BackendError
from support.agent_harness import wait_for
from support.clock import FakeClock
from support.fakes import FakeBackend, FakeRuntime

IMAGE = "dockyard-test/busybox:1"
OWNER = Owner("a", "daemon-1", instance="instance-1", lease="lease-1")
GRACE = SupervisionSettings(agent_name="a").takeover_grace


class Rig:
    def __init__(self) -> None:
        self.backend, self.runtime, self.clock = FakeBackend(), FakeRuntime(images=[IMAGE]), FakeClock()
        self.tracker = Tracker()
        self.asked: list[list[str]] = []
        original = self.backend.run_statuses

        def recording(ids: Any) -> Any:
            self.asked.append(sorted(ids))
            return original(ids)

        self.backend.run_statuses = recording  # type: ignore[method-assign]
        self.supervisor = Supervisor(
            backend=self.backend, runtime=self.runtime, clock=self.clock, tracker=self.tracker,
            health=AgentHealth(), settings=SupervisionSettings(agent_name="a", status_interval=3.0),
            streamer=OutputStreamer(backend=self.backend, runtime=self.runtime), outbox=Outbox(self.backend),
        )  # fmt: skip
        self.supervisor.act_for(OWNER)

    def running_run(self, *, ship_logs: bool = False) -> tuple[str, str]:
        run_id = self.backend.add_run()
        self.backend.set_state_directly(run_id, "Submitted")
        labels = {L.FLOW_RUN_ID: run_id, L.AGENT: "a", L.INSTANCE: OWNER.instance, L.LEASE: OWNER.lease}
        cid = self.runtime.create_container(f"c-{run_id[:8]}", {"Image": IMAGE, "Labels": labels})
        self.runtime.start_container(cid)
        tracked = TrackedRun(
            run_id, phase=Phase.RUNNING, container_id=cid, started_at=0.0, ship_logs=ship_logs
        )
        self.tracker.track(tracked)
        return run_id, cid

    def untracked_run(self, instance: str, lease: str, *, state: str = "Running") -> tuple[str, str]:
        """A running container of agent "a" that this process does not track: a predecessor's
        or another process's, by its instance and lease."""
        run_id = self.backend.add_run()
        self.backend.set_state_directly(run_id, state)
        labels = {L.FLOW_RUN_ID: run_id, L.AGENT: "a", L.SHIP_LOGS: "true"}
        labels |= {L.INSTANCE: instance, L.LEASE: lease}
        cid = self.runtime.create_container(f"c-{run_id[:8]}", {"Image": IMAGE, "Labels": labels})
        self.runtime.start_container(cid)
        return run_id, cid


def test_outcomes_of_one_pass_are_written_in_one_request() -> None:
    rig = Rig()
    runs = [rig.running_run() for _ in range(3)]
    for _, cid in runs:
        rig.runtime.finish(cid, 0)
    rig.supervisor.tick()
    assert rig.backend.batches == 1
    assert all(rig.backend.state_of(run_id) == "Success" for run_id, _ in runs)
    assert rig.runtime.containers == {} and len(rig.tracker) == 0


def test_a_refused_batch_is_retried_one_by_one() -> None:
    rig = Rig()
    runs = [rig.running_run() for _ in range(2)]
    for _, cid in runs:
        rig.runtime.finish(cid, 1)

    def refuse(updates: Any) -> None:
        raise BackendError("batch too large")

    rig.backend.set_flow_run_states = refuse  # type: ignore[method-assign]
    rig.supervisor.tick()
    assert [rig.backend.state_of(run_id) for run_id, _ in runs] == ["Failed", "Failed"]
    assert rig.runtime.containers == {}


def test_while_the_backend_is_away_ended_containers_are_kept_and_recorded_later() -> None:
    rig = Rig()
    run_id, cid = rig.running_run()
    rig.runtime.finish(cid, 3)
    rig.backend.available = False
    rig.supervisor.tick()
    assert cid in rig.runtime.containers
    rig.backend.available = True
    rig.supervisor.tick()
    assert rig.backend.state_of(run_id) == "Failed" and cid not in rig.runtime.containers
    assert rig.backend.logs_of(run_id).count(rig.backend.message_of(run_id)) == 1, (
        "one outcome log, not one per pass"
    )


def test_running_containers_are_asked_about_only_every_status_interval() -> None:
    rig = Rig()
    run_id, _ = rig.running_run()
    rig.supervisor.tick()
    rig.supervisor.tick()
    rig.supervisor.tick()
    assert rig.asked == [[run_id]], "only the first pass asks about a plainly running container"
    rig.clock.advance(3.1)
    rig.supervisor.tick()
    assert rig.asked == [[run_id], [run_id]]


def test_a_dead_predecessors_container_on_this_host_is_adopted_at_once() -> None:
    rig = Rig()
    run_id, cid = rig.untracked_run("predecessor", OWNER.lease)
    rig.supervisor.tick()
    tracked = rig.tracker.get(run_id)
    assert tracked is not None and tracked.container_id == cid


def test_another_processs_containers_are_left_to_it_while_it_may_be_alive() -> None:
    rig = Rig()
    running, _ = rig.untracked_run("other-host", "other-lease")
    ended, ended_cid = rig.untracked_run("other-host", "other-lease")
    rig.runtime.finish(ended_cid, 0, output=b"theirs\n")
    for _ in range(3):
        rig.supervisor.tick()
        rig.clock.advance(50)  # 150 s in all: within the takeover grace
    assert rig.tracker.get(running) is None, "not adopted: its owner follows it"
    assert rig.backend.state_of(ended) == "Running" and ended_cid in rig.runtime.containers
    assert rig.backend.logs_of(ended) == [], "its output is its owner's to ship"


def test_an_ended_container_its_owner_leaves_for_the_grace_is_taken_over_with_its_output() -> None:
    rig = Rig()
    run_id, cid = rig.untracked_run("dead-elsewhere", "other-lease")
    rig.runtime.finish(cid, 0, output=b"one\ntwo\n")
    rig.supervisor.tick()
    rig.clock.advance(GRACE - 1)
    rig.supervisor.tick()
    assert cid in rig.runtime.containers
    rig.clock.advance(2)
    rig.supervisor.tick()
    assert rig.backend.state_of(run_id) == "Success" and cid not in rig.runtime.containers
    assert rig.backend.logs_of(run_id)[:2] == ["one", "two"]


def test_a_cancel_its_owner_leaves_undone_for_the_grace_is_carried_out() -> None:
    rig = Rig()
    run_id, cid = rig.untracked_run("dead-elsewhere", "other-lease", state="Cancelling")
    rig.supervisor.tick()
    rig.clock.advance(GRACE - 1)
    rig.supervisor.tick()
    assert rig.runtime.containers[cid].status == "running"
    rig.clock.advance(2)
    rig.supervisor.tick()  # taken over: stopped
    wait_for(lambda: rig.runtime.containers[cid].status == "exited", what="the stop")
    rig.supervisor.tick()
    assert rig.backend.state_of(run_id) == "Cancelled"


def test_a_running_container_whose_owner_is_unknown_is_never_taken_over() -> None:
    rig = Rig()
    run_id, _ = rig.untracked_run("other-host", "other-lease")
    for _ in range(5):
        rig.supervisor.tick()
        rig.clock.advance(GRACE)
    assert rig.tracker.get(run_id) is None


def _task_run(task_run_id: str, state: str) -> TaskRunInfo:
    return TaskRunInfo(task_run_id, 2, {"type": state})


def test_a_run_the_agent_ends_takes_its_running_task_runs_with_it() -> None:
    rig = Rig()
    failed, _ = rig.running_run()
    ok, _ = rig.running_run()
    for run_id in (failed, ok):
        rig.backend.set_state_directly(run_id, "Running")
        rig.backend.task_runs[run_id] = [
            _task_run(f"{run_id}-a", "Success"),
            _task_run(f"{run_id}-b", "Running"),
        ]
    rig.runtime.finish(rig.runtime.by_run(failed).id, 137)  # type: ignore[union-attr]
    rig.runtime.finish(rig.runtime.by_run(ok).id, 0)  # type: ignore[union-attr]

    rig.supervisor.tick()

    assert rig.backend.state_of(failed) == "Failed"
    (written,) = rig.backend.task_run_states[f"{failed}-b"]
    assert written["type"] == "Failed" and written["message"] == rig.backend.message_of(failed)
    assert "exited with code 137" in written["message"]
    assert f"{failed}-a" not in rig.backend.task_run_states, "finished task runs are left alone"
    assert rig.backend.state_of(ok) == "Success" and f"{ok}-b" not in rig.backend.task_run_states


def test_a_cancelled_run_cancels_the_task_runs_still_running() -> None:
    rig = Rig()
    run_id, cid = rig.running_run()
    rig.backend.task_runs[run_id] = [_task_run("t1", "Running")]
    rig.backend.set_state_directly(run_id, "Cancelling")
    rig.supervisor.tick()  # stops the container (on a thread)
    deadline = time.monotonic() + 5
    while rig.runtime.containers[cid].status != "exited" and time.monotonic() < deadline:
        time.sleep(0.01)
    rig.supervisor.tick()
    assert rig.backend.state_of(run_id) == "Cancelled"
    assert [s["type"] for s in rig.backend.task_run_states["t1"]] == ["Cancelled"]


def test_a_run_the_backend_rescheduled_is_stopped_and_given_back_without_a_state() -> None:
    rig = Rig()
    run_id, cid = rig.running_run()
    rig.backend.set_state_directly(run_id, "Running")
    rig.supervisor.tick()
    rig.backend.set_state_directly(run_id, "Scheduled", "Rescheduled by a Lazarus process.")
    history = rig.backend.states_of(run_id)
    rig.clock.advance(3.1)  # the next full status check sees it
    rig.supervisor.tick()
    deadline = time.monotonic() + 5
    while rig.runtime.containers[cid].status != "exited" and time.monotonic() < deadline:
        time.sleep(0.01)
    rig.supervisor.tick()

    assert cid not in rig.runtime.containers and len(rig.tracker) == 0, "free to be deployed again"
    assert rig.backend.states_of(run_id) == history, "no outcome written over the new Scheduled state"


def test_heartbeats_are_sent_for_runs_with_no_flow_runner_while_their_container_runs() -> None:
    rig = Rig()
    command_run, command_cid = rig.running_run(ship_logs=True)
    flow_runner_run, _ = rig.running_run(ship_logs=False)
    paused_run, paused_cid = rig.running_run(ship_logs=True)
    rig.runtime.containers[paused_cid].status = "paused"
    rig.tracker.claim("deploying")

    rig.supervisor.tick()
    rig.supervisor.tick()
    assert rig.backend.heartbeats == [sorted([command_run, "deploying"])], "once per interval"
    assert flow_runner_run not in rig.backend.heartbeats[0], "a flow runner sends its own"
    assert paused_run not in rig.backend.heartbeats[0], "a frozen container is not alive"

    rig.clock.advance(31)
    rig.runtime.finish(command_cid, 0)
    rig.supervisor.tick()
    assert rig.backend.heartbeats[1:] == [["deploying"]]
