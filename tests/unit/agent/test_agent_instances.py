"""Same-named agents: refused beside a live one on one host, never running a run twice across
hosts, and a restart on the same host carrying on at once."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

import pytest

from dockyard.domain.agent.labels import INSTANCE
from dockyard.domain.agent.model import FlowRun
from dockyard.domain.errors import AgentNameInUse
from support.agent_harness import Harness, wait_for
from support.clock import AGENT_START, FakeClock
from support.fakes import FakeBackend, FakeRuntime

IMAGE = "dockyard-test/busybox:1"


class RacingBackend(FakeBackend):
    """Two agents read the same runs, still Scheduled, before either claims them: the race
    every pair of agents serving one queue runs."""

    def __init__(self) -> None:
        super().__init__()
        self._both_read = threading.Barrier(2, timeout=5)
        self._reads = 0
        self._reads_lock = threading.Lock()

    def flow_runs(self, ids: Sequence[str], *, retry_buffer: datetime) -> list[FlowRun]:
        runs = super().flow_runs(ids, retry_buffer=retry_buffer)
        with self._reads_lock:
            self._reads += 1
            racing = self._reads <= 2
        if racing:
            self._both_read.wait()
        return runs


def test_a_second_agent_with_a_live_name_on_the_same_host_is_refused_at_start() -> None:
    first = Harness()
    with first.running() as running:
        wait_for(lambda: running.identity is not None, what="the first agent to connect")
        second = Harness(backend=first.backend, runtime=first.runtime, leases=first.leases)
        with pytest.raises(AgentNameInUse, match=r"'test-agent' is already running .*its own --name"):
            second.build().start()
    assert len(first.backend.registered) == 1, "the refused agent never registered"
    third = Harness(backend=first.backend, runtime=first.runtime, leases=first.leases)
    with third.running() as restarted:
        wait_for(lambda: restarted.identity is not None, what="a restart once the first has ended")


def test_a_restart_on_the_same_host_knows_its_predecessor_and_stamps_a_new_instance() -> None:
    first = Harness()
    run_id = first.backend.add_run()
    with first.running() as before:
        cid = first.container_of(run_id)
    second = Harness(backend=first.backend, runtime=first.runtime, clock=first.clock, leases=first.leases)
    with second.running() as after:
        wait_for(lambda: after.tracker.get(run_id) is not None, what="adoption")
        assert after.instance_id != before.instance_id
        assert after.identity is not None and before.identity is not None
        assert after.identity.owner.lease == before.identity.owner.lease
    assert first.runtime.containers[cid].body["Labels"][INSTANCE] == before.instance_id


def test_two_same_named_agents_on_two_hosts_run_every_run_once_and_ship_its_output_once() -> None:
    backend, runtime, clock = (
        RacingBackend(),
        FakeRuntime(images=[IMAGE]),
        FakeClock(AGENT_START, real_time=True),
    )
    hosts = [Harness(backend=backend, runtime=runtime, clock=clock) for _ in range(2)]  # a lease each
    runs = [
        backend.add_run(name=f"run-{i}", run_config={"type": "DockerRun", "command": "work"})
        for i in range(20)
    ]
    with hosts[0].running() as one, hosts[1].running() as two:
        wait_for(lambda: backend.polls >= 2, what="both agents to poll")
        for run_id in runs:
            cid = hosts[0].container_of(run_id)
            runtime.finish(cid, 0, output=f"output of {run_id}\n".encode())
        for run_id in runs:
            hosts[0].wait_state(run_id, "Success")
        wait_for(lambda: len(one.tracker) == len(two.tracker) == 0, what="both agents to let go")
    assert len(runtime.created) == len(runs), "one container per run"
    for run_id in runs:
        assert backend.logs_of(run_id).count(f"output of {run_id}") == 1
        assert backend.states_of(run_id) == ["Scheduled", "Submitted", "Running", "Success"]
    assert runtime.containers == {}
