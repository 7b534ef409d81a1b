"""What the agent owes the backend: run logs in ordered batches, kept while the backend is
away, and final states written once it is back."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from dockyard.domain.agent.model import RunLog, StateUpdate
from dockyard.domain.agent.outbox import LogBatch, Outbox
from dockyard.domain.errors import BackendUnavailable
from dockyard.domain.states import state_document
from support.fakes import FakeBackend


class SlowSink:
    """Takes a while over its first batch, so a second flush would overtake it if it could."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.down = False

    def __call__(self, logs: Sequence[RunLog]) -> None:
        if self.down:
            raise BackendUnavailable("backend down")
        if not self.batches:
            time.sleep(0.2)
        self.batches.append([entry.message for entry in logs])


def entries(*messages: str) -> list[RunLog]:
    return [RunLog("r1", message) for message in messages]


def test_batches_arrive_in_the_order_they_were_flushed() -> None:
    sink = SlowSink()
    batch = LogBatch(sink)
    batch.put(*entries("first"))
    flushing = threading.Thread(target=batch.flush)
    flushing.start()
    time.sleep(0.05)  # the first send is under way
    batch.put(*entries("second"))
    assert batch.flush() is True
    flushing.join()
    assert sink.batches == [["first"], ["second"]]


def test_a_full_batch_goes_out_at_once() -> None:
    sink = SlowSink()
    batch = LogBatch(sink, batch_size=2)
    batch.put(*entries("a"))
    assert sink.batches == []
    batch.put(*entries("b"))
    assert sink.batches == [["a", "b"]] and len(batch) == 0


def test_a_failed_send_keeps_its_logs_first_and_the_oldest_go_beyond_the_bound() -> None:
    sink = SlowSink()
    sink.down = True
    batch = LogBatch(sink, max_pending=3)
    batch.put(*entries("1", "2"))
    assert batch.flush() is False
    batch.put(*entries("3", "4"))
    assert len(batch) == 3
    sink.down = False
    assert batch.flush() is True
    assert sink.batches == [["2", "3", "4"]]


def test_owed_states_are_written_after_the_logs_once_the_backend_is_back() -> None:
    backend = FakeBackend()
    run_id = backend.add_run()
    outbox = Outbox(backend)
    outbox.put_log(RunLog(run_id, "Deployment failed: no room"))
    outbox.put_state(StateUpdate(run_id, 1, state_document("Failed", "no room")))
    backend.available = False
    assert outbox.flush() is False
    assert backend.state_of(run_id) == "Scheduled" and len(outbox) == 2
    backend.available = True
    assert outbox.flush() is True
    assert backend.state_of(run_id) == "Failed" and backend.logs_of(run_id) == ["Deployment failed: no room"]
    assert len(outbox) == 0
    assert outbox.flush() is True and backend.states_of(run_id) == ["Scheduled", "Failed"], "written once"
