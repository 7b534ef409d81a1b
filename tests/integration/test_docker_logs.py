"""Container output through DockerContainerRuntime: tails, and following live output."""

from __future__ import annotations

import logging
import threading

import pytest

from support.containers import Case, eventually

# Runs until SIGTERM, saying hello first and goodbye last.
UNTIL_TERM = "trap 'echo bye; exit 0' TERM; echo hello; while true; do sleep 0.1; done"


def test_logs_hold_stdout_and_stderr(case: Case, busybox: str) -> None:
    container_id = case.run(busybox, "echo to stdout; echo to stderr >&2")
    case.runtime.wait_container(container_id)

    everything = case.runtime.container_logs(container_id)

    # Two pipes: the daemon does not promise their relative order.
    assert sorted(everything.splitlines()) == [b"to stderr", b"to stdout"]


def test_the_tail_is_the_last_lines(case: Case, busybox: str) -> None:
    container_id = case.run(busybox, "seq 1 10")
    case.runtime.wait_container(container_id)

    assert case.runtime.container_logs(container_id, tail=3) == b"8\n9\n10\n"
    assert case.runtime.container_logs(container_id) == b"".join(b"%d\n" % n for n in range(1, 11))


def test_following_yields_output_from_the_start_and_ends_with_the_container(case: Case, busybox: str) -> None:
    container_id = case.run(busybox, "echo one; sleep 0.3; echo two; sleep 0.3; echo three")

    followed = b"".join(case.runtime.follow_logs(container_id))

    assert followed == b"one\ntwo\nthree\n"
    state = case.runtime.inspect_container(container_id)
    assert state is not None and state.ended


def test_following_a_finished_container_replays_its_output(case: Case, busybox: str) -> None:
    container_id = case.run(busybox, "seq 1 5")
    case.runtime.wait_container(container_id)

    assert b"".join(case.runtime.follow_logs(container_id)) == b"1\n2\n3\n4\n5\n"


def test_a_split_multibyte_character_arrives_as_raw_bytes(case: Case, busybox: str) -> None:
    # Docker cuts a line without a newline into 16 KiB messages; with the `local` log driver
    # (the json-file driver replaces broken UTF-8) the cut lands inside the euro sign.
    script = r"head -c 16383 /dev/zero | tr '\0' x; printf '\342'; sleep 0.3; printf '\202\254\n'"
    container_id = case.run(busybox, script, HostConfig={"LogConfig": {"Type": "local", "Config": {}}})

    chunks = list(case.runtime.follow_logs(container_id))

    assert b"".join(chunks).startswith(b"x" * 16383 + "€".encode())
    assert any(not _decodes(chunk) for chunk in chunks), "the daemon no longer splits the character"


def _decodes(chunk: bytes) -> bool:
    try:
        chunk.decode()
    except UnicodeDecodeError:
        return False
    return True


def test_following_ends_quietly_when_the_container_vanishes(case: Case, busybox: str) -> None:
    container_id = case.run(busybox, UNTIL_TERM)
    received: list[bytes] = []
    outcome: list[BaseException | None] = []

    def follow() -> None:
        try:
            received.extend(case.runtime.follow_logs(container_id))
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    follower = threading.Thread(target=follow)
    follower.start()
    eventually(lambda: b"hello\n" in b"".join(received), what="first output")
    case.runtime.remove_container(container_id)
    follower.join(timeout=60)

    assert not follower.is_alive()
    assert outcome == [None]
    assert list(case.runtime.follow_logs(container_id)) == []


def test_fifty_streams_follow_at_once_without_pool_churn(
    case: Case, busybox: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="urllib3")
    ids = [case.run(busybox, UNTIL_TERM) for _ in range(50)]
    received: dict[str, list[bytes]] = {container_id: [] for container_id in ids}

    def follow(container_id: str) -> None:
        received[container_id].extend(case.runtime.follow_logs(container_id))

    followers = [threading.Thread(target=follow, args=(container_id,)) for container_id in ids]
    for follower in followers:
        follower.start()
    # Every stream is open at the same time once each has seen its container's hello.
    eventually(lambda: all(b"hello" in b"".join(chunks) for chunks in received.values()), what="50 hellos")
    stoppers = [
        threading.Thread(target=case.runtime.stop_container, args=(container_id, 30)) for container_id in ids
    ]
    for thread in stoppers:
        thread.start()
    for thread in stoppers + followers:
        thread.join(timeout=120)

    assert not any(thread.is_alive() for thread in followers)
    outputs = {container_id: b"".join(chunks) for container_id, chunks in received.items()}
    assert outputs == dict.fromkeys(ids, b"hello\nbye\n")
    assert not [record for record in caplog.records if "pool" in record.getMessage()]
