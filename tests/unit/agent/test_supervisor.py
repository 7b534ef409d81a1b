"""One supervision pass at a time, on fakes: batching, retries and what is asked when."""

from __future__ import annotations

from typing import Any

from dockyard.domain.agent import labels as L
from dockyard.domain.agent.health import AgentHealth
from dockyard.domain.agent.supervision import SupervisionSettings, Supervisor
from dockyard.domain.agent.tracker import Phase, TrackedRun, Tracker
from dockyard.domain.errors import BackendError
from support.fakes import FakeBackend, FakeClock, FakeRuntime

IMAGE = "dockyard-test/busybox:1"


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
        )  # fmt: skip

    def running_run(self) -> tuple[str, str]:
        run_id = self.backend.add_run()
        self.backend.set_state_directly(run_id, "Submitted")
        labels = {L.FLOW_RUN_ID: run_id, L.AGENT: "a"}
        cid = self.runtime.create_container(f"c-{run_id[:8]}", {"Image": IMAGE, "Labels": labels})
        self.runtime.start_container(cid)
        self.tracker.track(TrackedRun(run_id, phase=Phase.RUNNING, container_id=cid, started_at=0.0))
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
