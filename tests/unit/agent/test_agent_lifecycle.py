"""The agent use case end to end on fakes: claim, deploy, supervise, record, clean up."""

from __future__ import annotations

import threading

from dockyard.domain.agent.agent import Agent
from dockyard.domain.agent.polling import BACKOFF
from support.agent_harness import DEFAULT_IMAGE, Harness, wait_for
from support.clock import AGENT_START, FakeClock
from support.fakes import FakeRuntime


def test_exit_zero_ends_success_and_the_container_is_removed() -> None:
    h = Harness()
    run_id = h.backend.add_run()
    with h.running():
        cid = h.container_of(run_id)
        assert h.backend.states_of(run_id)[:2] == ["Scheduled", "Submitted"]
        h.runtime.finish(cid, 0)
        h.wait_state(run_id, "Success")
        wait_for(lambda: cid in h.runtime.removed, what="container removal")
    assert f"Submitted for execution: Container ID: {cid}" in h.backend.logs_of(run_id)


def test_exit_three_ends_failed_naming_the_code_and_the_output() -> None:
    h = Harness()
    run_id = h.backend.add_run()
    with h.running():
        h.runtime.finish(h.container_of(run_id), 3, output=b"starting\nsomething broke\n")
        h.wait_state(run_id, "Failed")
    message = h.backend.message_of(run_id)
    assert "exited with code 3" in message
    assert "something broke" in message
    assert any("exited with code 3" in line for line in h.backend.logs_of(run_id))


def test_oom_kill_is_named() -> None:
    h = Harness()
    run_id = h.backend.add_run()
    with h.running():
        h.runtime.finish(h.container_of(run_id), 137, oom=True)
        h.wait_state(run_id, "Failed")
    assert "OOM-killed" in h.backend.message_of(run_id)


def test_a_run_the_flow_runner_finished_is_left_alone() -> None:
    h = Harness()
    run_id = h.backend.add_run()
    with h.running():
        cid = h.container_of(run_id)
        h.backend.set_state_directly(run_id, "Running")
        h.backend.set_state_directly(run_id, "Failed", "task failed inside the flow")
        h.runtime.finish(cid, 1)
        wait_for(lambda: cid in h.runtime.removed, what="container removal")
    assert h.backend.states_of(run_id) == ["Scheduled", "Submitted", "Running", "Failed"]
    assert h.backend.message_of(run_id) == "task failed inside the flow"


def test_cancelling_stops_the_container_and_ends_cancelled() -> None:
    h = Harness().with_config(cancel_grace=7.0)
    run_id = h.backend.add_run()
    with h.running():
        cid = h.container_of(run_id)
        h.backend.set_state_directly(run_id, "Running")
        h.backend.set_state_directly(run_id, "Cancelling", "Flow run is cancelling")
        h.wait_state(run_id, "Cancelled")
        wait_for(lambda: cid in h.runtime.removed, what="container removal")
    assert h.runtime.by_run(run_id) is None


def test_a_run_over_its_time_limit_is_stopped_and_fails_as_timed_out() -> None:
    h = Harness()
    run_id = h.backend.add_run(run_config={"type": "DockerRun", "timeout": 60})
    with h.running():
        h.container_of(run_id)
        h.clock.advance(61)
        h.wait_state(run_id, "Failed")
    assert "timed out" in h.backend.message_of(run_id)
    assert "60s" in h.backend.message_of(run_id)


def test_limit_keeps_extra_runs_in_the_queue() -> None:
    h = Harness().with_config(limit=2)
    runs = [h.backend.add_run(name=f"run-{i}") for i in range(5)]
    most_running = 0
    with h.running():
        for _ in range(5):
            wait_for(lambda: len(h.runtime.running()) >= 1, what="a running container")
            most_running = max(most_running, len(h.runtime.running()))
            assert sum(h.backend.state_of(r) == "Scheduled" for r in runs) >= 5 - 2 - sum(
                h.backend.state_of(r) == "Success" for r in runs
            )
            h.runtime.finish(h.runtime.running()[0].id, 0)
            wait_for(lambda: len(h.runtime.running()) <= 2)
        wait_for(lambda: all(h.backend.state_of(r) == "Success" for r in runs), what="all runs to succeed")
    assert most_running <= 2


def test_a_run_another_agent_submitted_first_is_skipped_quietly() -> None:
    h = Harness()
    run_id = h.backend.add_run()
    original = h.backend.set_flow_run_state

    def racing(run: str, version: int | None, state: dict) -> None:  # type: ignore[type-arg]
        if state["type"] == "Submitted":
            h.backend.set_state_directly(run, "Submitted", "other agent")
        original(run, version, state)

    h.backend.set_flow_run_state = racing  # type: ignore[method-assign]
    with h.running():
        wait_for(lambda: h.backend.state_of(run_id) == "Submitted")
        wait_for(lambda: h.agent is not None and len(h.agent.tracker) == 0, what="the claim to be dropped")
    assert h.backend.states_of(run_id) == ["Scheduled", "Submitted"]
    assert h.runtime.containers == {}


def test_a_refused_run_fails_with_the_reason_and_leaves_nothing_behind() -> None:
    h = Harness()
    run_config = {"type": "DockerRun", "image": DEFAULT_IMAGE, "host_config": {"privileged": True}}
    run_id = h.backend.add_run(run_config=run_config)
    with h.running():
        h.wait_state(run_id, "Failed")
    reason = h.backend.message_of(run_id)
    assert "privileged" in reason and "--allow-privileged" in reason, reason
    assert reason in h.backend.logs_of(run_id)
    assert h.runtime.containers == {} and h.runtime.pulled == [], "refused before Docker was asked anything"


def test_a_start_failure_removes_the_created_container_and_fails_the_run() -> None:
    runtime = FakeRuntime(images=["dockyard-test/busybox:1"])
    runtime.fail_start = True
    h = Harness(runtime=runtime)
    run_id = h.backend.add_run()
    with h.running():
        h.wait_state(run_id, "Failed")
    assert "fake start failure" in h.backend.message_of(run_id)
    assert runtime.containers == {}
    assert any("fake start failure" in line for line in h.backend.logs_of(run_id))


def test_an_idle_agent_starts_a_new_run_when_the_backend_signals_it() -> None:
    # On a clock that moves only when told, the idle poll loop is walked through its backoff
    # (0.5, 1, 2 s) into its 4 s wait, and left there: only the backend's signal can start a
    # run before that wait ends.
    h = Harness(clock=FakeClock(AGENT_START))
    with h.running():
        for seconds in BACKOFF[1:4]:
            wait_for(lambda s=seconds: h.clock.waiting(s), what=f"the poll loop's {seconds}s wait")
            h.clock.advance(seconds)
        wait_for(lambda: h.clock.waiting(BACKOFF[4]), what="the poll loop's 4s wait")
        run_id = h.backend.add_run()
        wait_for(lambda: h.runtime.by_run(run_id) is not None, what="a start before the backoff ends")


def test_without_notifications_the_agent_still_finds_runs_by_polling() -> None:
    h = Harness()
    h.backend.notifies = False
    run_id = h.backend.add_run()
    with h.running():
        h.container_of(run_id)


def test_max_polls_ends_the_agent_after_that_many_polls() -> None:
    h = Harness().with_config(max_polls=3)
    h.backend.notifies = False
    run_id = h.backend.add_run()
    agent = Agent(
        config=h.config, backend=h.backend, runtime=h.runtime, clock=h.clock, leases=h.leases,
        tick_interval=0.02,
    )  # fmt: skip
    thread = threading.Thread(target=agent.start, daemon=True)
    thread.start()
    thread.join(timeout=15)
    assert not thread.is_alive(), "the agent must end by itself after its last poll"
    assert h.backend.polls == 3
    assert h.runtime.by_run(run_id) is not None, "the run found by the first poll was deployed"
