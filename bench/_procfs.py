"""What an agent process tree costs, read from /proc: CPU time, peak memory, PSS.

Every function takes the proc root as a parameter so it can be pointed at a fake tree.
A process that ends between listing and reading simply stops counting.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    utime: int  # clock ticks
    stime: int
    cutime: int  # of reaped children
    cstime: int
    starttime: int  # clock ticks after boot: tells a process from a later one with its pid


def parse_stat(text: str) -> ProcStat:
    """One /proc/<pid>/stat line. The command name sits in parentheses and may itself contain
    spaces and parentheses, so the fields are counted from the last ')'."""
    head, _, tail = text.rpartition(")")
    pid = int(head.split("(", 1)[0])
    fields = tail.split()
    # After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14) ... starttime(19)
    return ProcStat(
        pid=pid,
        ppid=int(fields[1]),
        utime=int(fields[11]),
        stime=int(fields[12]),
        cutime=int(fields[13]),
        cstime=int(fields[14]),
        starttime=int(fields[19]),
    )


def read_stat(pid: int, proc: Path = PROC) -> ProcStat | None:
    try:
        return parse_stat((proc / str(pid) / "stat").read_text())
    except (OSError, ValueError, IndexError):
        return None


def descendants(pid: int, proc: Path = PROC) -> list[int]:
    """Every live process below ``pid`` (children, grandchildren, ...), by parent links."""
    children: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        stat = read_stat(int(entry.name), proc)
        if stat is not None:
            children.setdefault(stat.ppid, []).append(stat.pid)
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return sorted(found)


def tree(pid: int, proc: Path = PROC) -> list[int]:
    """``pid`` and its live descendants."""
    return [pid, *descendants(pid, proc)]


def identities(pids: list[int], proc: Path = PROC) -> list[tuple[int, int]]:
    """(pid, start time) of each live process, to recognise exactly these processes later."""
    found = []
    for pid in pids:
        stat = read_stat(pid, proc)
        if stat is not None:
            found.append((pid, stat.starttime))
    return found


def still_running(identity: tuple[int, int], proc: Path = PROC) -> bool:
    stat = read_stat(identity[0], proc)
    return stat is not None and stat.starttime == identity[1]


def tree_cpu_seconds(pid: int, proc: Path = PROC) -> float:
    """User + system CPU of ``pid`` and all its descendants, live or already reaped."""
    ticks = 0
    for member in tree(pid, proc):
        stat = read_stat(member, proc)
        if stat is not None:
            ticks += stat.utime + stat.stime + stat.cutime + stat.cstime
    return ticks / CLOCK_TICKS


def machine_busy_seconds(proc: Path = PROC) -> float:
    """CPU time every core has spent on anything but idling and waiting, since boot (the
    first line of /proc/stat: user nice system idle iowait irq softirq steal ...)."""
    fields = (proc / "stat").read_text().splitlines()[0].split()
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def _kib_field(path: Path, field: str) -> int | None:
    try:
        text = path.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name.strip() == field:
            return int(rest.split()[0])
    return None


def vm_hwm_kib(pid: int, proc: Path = PROC) -> int | None:
    """Peak resident set size of one process."""
    return _kib_field(proc / str(pid) / "status", "VmHWM")


def pss_kib(pid: int, proc: Path = PROC) -> int | None:
    """Proportional set size of one process: shared pages split among their sharers."""
    return _kib_field(proc / str(pid) / "smaps_rollup", "Pss")


@dataclass(frozen=True)
class TreeMemory:
    processes: int
    pss_kib: int
    peak_rss_kib: int  # the sum of every member's VmHWM (an upper bound)


def tree_memory(pid: int, proc: Path = PROC) -> TreeMemory:
    """PSS and VmHWM summed over ``pid`` and its descendants; processes whose figures
    cannot be read (ended meanwhile) are not counted."""
    count, pss, hwm = 0, 0, 0
    for member in tree(pid, proc):
        member_pss = pss_kib(member, proc)
        if member_pss is None:
            continue
        count += 1
        pss += member_pss
        hwm += vm_hwm_kib(member, proc) or 0
    return TreeMemory(processes=count, pss_kib=pss, peak_rss_kib=hwm)
