"""Container output to lines, and one run's lines to batched, capped run logs."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from dockyard.domain.agent.model import RunLog
from dockyard.domain.agent.output import CONTAINER_LOG_NAME, LineSplitter
from dockyard.domain.agent.streaming import RunOutput
from dockyard.domain.errors import BackendUnavailable


@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",))), max_size=8
    ),
    st.data(),
)
def test_any_chunking_of_utf8_output_gives_the_same_lines(lines: list[str], data: st.DataObject) -> None:
    raw = "".join(line + "\n" for line in lines).encode("utf-8")
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=10)))
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    splitter = LineSplitter()
    got = [line for chunk in chunks for line in splitter.feed(chunk)] + splitter.flush()
    assert got == lines


def test_a_character_split_across_chunks_stays_whole() -> None:
    splitter = LineSplitter()
    snowman = "☃".encode()
    assert splitter.feed(b"a" + snowman[:1]) == []
    assert splitter.feed(snowman[1:] + b"b\nrest") == ["a☃b"]
    assert splitter.flush() == ["rest"]


def test_an_endless_line_is_cut_rather_than_buffered_forever() -> None:
    splitter = LineSplitter(max_line=10)
    assert splitter.feed(b"x" * 25) == ["x" * 10, "x" * 10]
    assert splitter.flush() == ["x" * 5]


class Sink:
    def __init__(self) -> None:
        self.batches: list[list[RunLog]] = []
        self.down = False

    def __call__(self, logs: Sequence[RunLog]) -> None:
        if self.down:
            raise BackendUnavailable("backend down")
        self.batches.append(list(logs))


def test_run_output_batches_caps_and_notes_truncation() -> None:
    sink = Sink()
    output = RunOutput("r1", sink, max_bytes=30, batch_lines=2)
    for i in range(10):
        output.add(f"line number {i}")  # 14 bytes + newline each
    output.flush()
    messages = [entry.message for batch in sink.batches for entry in batch]
    assert messages[:2] == ["line number 0", "line number 1"]
    assert len(messages) == 3 and "truncated" in messages[2]
    assert output.truncated
    assert all(len(batch) <= 2 for batch in sink.batches)
    assert {entry.name for batch in sink.batches for entry in batch} == {CONTAINER_LOG_NAME}


def test_run_output_keeps_logs_when_the_backend_is_down() -> None:
    sink = Sink()
    output = RunOutput("r1", sink, batch_lines=100)
    output.add("one")
    sink.down = True
    assert output.flush() is False
    output.add("two")
    sink.down = False
    assert output.flush() is True
    assert [e.message for e in sink.batches[0]] == ["one", "two"]


def test_docker_timestamps_are_split_from_the_line() -> None:
    from datetime import UTC, datetime

    from dockyard.domain.agent.output import split_timestamp

    moment, text = split_timestamp("2026-01-02T03:04:05.123456789Z hello world")
    assert moment == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert text == "hello world"
    assert split_timestamp("2026-01-02T03:04:05Z x") == (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "x")
    assert split_timestamp("no timestamp here") == (None, "no timestamp here")
