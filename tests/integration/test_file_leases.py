"""FileLeases against the real kernel: one live holder per agent name and daemon, released
when the holding process dies (kill -9 included), with a lease id that outlives holders."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dockyard.adapters.file_leases import FileLeases
from dockyard.domain.errors import AgentNameInUse, ConfigurationError

HOLD = textwrap.dedent("""
    import sys, time
    from dockyard.adapters.file_leases import FileLeases
    FileLeases(sys.argv[1]).acquire("agent", "daemon-1", "held-elsewhere")
    print("held", flush=True)
    time.sleep(120)
""")


def test_a_second_holder_is_refused_until_the_first_releases(tmp_path: Path) -> None:
    leases = FileLeases(tmp_path)
    first = leases.acquire("agent", "daemon-1", "one")
    with pytest.raises(AgentNameInUse, match=r"'agent' is already running .*its own --name"):
        FileLeases(tmp_path).acquire("agent", "daemon-1", "two")
    other_daemon = leases.acquire("agent", "daemon-2", "three")
    other_name = leases.acquire("agent-b", "daemon-1", "four")
    assert len({first.id, other_daemon.id, other_name.id}) == 3

    leases.release(first)
    again = FileLeases(tmp_path).acquire("agent", "daemon-1", "five")
    assert again.id == first.id, "the lease id stays with the host, from holder to holder"
    assert again.previous_holder == "one"


def test_a_lease_dies_with_its_process_even_on_kill_9(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(AgentNameInUse, match=rf"pid {holder.pid}\b"):
            FileLeases(tmp_path).acquire("agent", "daemon-1", "me")
        holder.kill()
        holder.wait(timeout=10)
        lease = FileLeases(tmp_path).acquire("agent", "daemon-1", "me")
        assert lease.previous_holder == "held-elsewhere"
    finally:
        holder.kill()
        holder.wait(timeout=10)


def test_a_directory_that_cannot_be_made_is_a_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ConfigurationError, match="--lock-dir"):
        FileLeases(blocker / "locks").acquire("agent", "daemon-1", "me")
