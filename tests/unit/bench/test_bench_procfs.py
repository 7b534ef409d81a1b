"""Reading an agent's process tree from /proc, against a fake /proc."""

from __future__ import annotations

from pathlib import Path

import pytest
from _procfs import (
    CLOCK_TICKS,
    descendants,
    identities,
    machine_busy_seconds,
    parse_stat,
    still_running,
    tree_cpu_seconds,
    tree_memory,
    vm_hwm_kib,
)


def stat_line(pid: int, ppid: int, *, comm: str = "python", ticks: tuple[int, int, int, int] = (0, 0, 0, 0),
              starttime: int = 1000) -> str:  # fmt: skip
    utime, stime, cutime, cstime = ticks
    after = ["S", ppid, 1, 1, 0, -1, 0, 0, 0, 0, 0, utime, stime, cutime, cstime, 20, 0, 1, 0, starttime]
    return f"{pid} ({comm}) " + " ".join(str(v) for v in after) + " 1000 100 18446744073709551615\n"


def add_process(
    proc: Path, pid: int, ppid: int, *, pss: int | None = None, hwm: int = 0, **stat: object
) -> None:
    folder = proc / str(pid)
    folder.mkdir(parents=True)
    (folder / "stat").write_text(stat_line(pid, ppid, **stat))  # type: ignore[arg-type]
    (folder / "status").write_text(f"Name:\tpython\nVmPeak:\t  999 kB\nVmHWM:\t  {hwm} kB\nVmRSS:\t 1 kB\n")
    if pss is not None:
        (folder / "smaps_rollup").write_text(
            f"55d0-7ffd ---p 00000000 00:00 0  [rollup]\nRss:\t {pss * 2} kB\nPss:\t {pss} kB\n"
            f"Pss_Anon:\t {pss // 2} kB\n"
        )


@pytest.fixture
def proc(tmp_path: Path) -> Path:
    # 100 is the agent: 101 and 102 are its children, 103 a grandchild; 200 is unrelated.
    root = tmp_path / "proc"
    add_process(root, 1, 0, pss=1, ticks=(5000, 5000, 0, 0))
    add_process(root, 100, 1, pss=40_000, hwm=60_000, ticks=(300, 100, 50, 10))
    add_process(root, 101, 100, pss=7_000, hwm=20_000, ticks=(20, 10, 0, 0))
    add_process(root, 102, 100, pss=None, ticks=(7, 3, 0, 0))  # ended before its memory was read
    add_process(root, 103, 101, pss=3_000, hwm=9_000, ticks=(1, 1, 0, 0), comm="my (odd) name")
    add_process(root, 200, 1, pss=99_999, hwm=99_999, ticks=(9000, 9000, 0, 0))
    (root / "self").mkdir()
    (root / "meminfo").write_text("MemTotal: 1 kB\n")
    return root


def test_stat_fields_are_read_after_a_command_name_with_spaces_and_parentheses() -> None:
    stat = parse_stat(stat_line(42, 7, comm="a (b) c) d", ticks=(11, 22, 33, 44), starttime=5555))
    assert (stat.pid, stat.ppid) == (42, 7)
    assert (stat.utime, stat.stime, stat.cutime, stat.cstime, stat.starttime) == (11, 22, 33, 44, 5555)


def test_descendants_are_children_and_their_children_only(proc: Path) -> None:
    assert descendants(100, proc) == [101, 102, 103]
    assert descendants(101, proc) == [103]
    assert descendants(103, proc) == []


def test_cpu_of_a_tree_counts_every_member_and_reaped_children(proc: Path) -> None:
    ticks = (300 + 100 + 50 + 10) + (20 + 10) + (7 + 3) + (1 + 1)
    assert tree_cpu_seconds(100, proc) == pytest.approx(ticks / CLOCK_TICKS)
    assert tree_cpu_seconds(103, proc) == pytest.approx(2 / CLOCK_TICKS)


def test_pss_is_summed_over_the_tree_skipping_processes_that_ended(proc: Path) -> None:
    memory = tree_memory(100, proc)
    assert memory.processes == 3
    assert memory.pss_kib == 40_000 + 7_000 + 3_000
    assert memory.peak_rss_kib == 60_000 + 20_000 + 9_000


def test_peak_memory_of_one_process(proc: Path) -> None:
    assert vm_hwm_kib(100, proc) == 60_000
    assert vm_hwm_kib(555, proc) is None


def test_a_reused_pid_is_not_the_process_that_was_recorded(proc: Path) -> None:
    recorded = identities([101, 103, 777], proc)
    assert recorded == [(101, 1000), (103, 1000)]
    assert all(still_running(identity, proc) for identity in recorded)
    (proc / "103" / "stat").write_text(stat_line(103, 1, starttime=2000))  # 103 ended; a new 103
    assert still_running((103, 1000), proc) is False
    assert still_running((101, 1000), proc) is True


def test_machine_busy_time_leaves_out_idle_and_io_wait(tmp_path: Path) -> None:
    (tmp_path / "stat").write_text(
        "cpu  100 20 30 5000 70 1 2 3 0 0\ncpu0 50 10 15 2500 35 1 1 1 0 0\nintr 12345\n"
    )
    assert machine_busy_seconds(tmp_path) == pytest.approx((100 + 20 + 30 + 1 + 2 + 3) / CLOCK_TICKS)
