"""The figures one benchmark run collects, and what follows from them."""

from __future__ import annotations

from dataclasses import dataclass, field

from _procfs import TreeMemory


@dataclass
class Throughput:
    runs: int
    available: float  # epoch seconds: registration (agents) or the first create (raw loop)
    starts: list[float]
    launched: float | None = None
    cpu_to_last_start: float | None = None
    cpu_until_removed: float | None = None
    server_cpu_until_removed: float | None = None  # the dockyard server's share
    machine_cpu_to_last_start: float | None = None  # every process on the machine (noisy)
    peak_kib: int | None = None
    removed: int | None = None
    states: str = ""

    @property
    def complete(self) -> bool:
        return len(self.starts) >= self.runs

    @property
    def rate(self) -> float | None:
        return len(self.starts) / (self.starts[-1] - self.available) if self.complete else None

    @property
    def steady_rate(self) -> float | None:
        if not self.complete or len(self.starts) < 2:
            return None
        return (len(self.starts) - 1) / (self.starts[-1] - self.starts[0])

    @property
    def first_start_after(self) -> float | None:
        return self.starts[0] - self.available if self.starts else None

    @property
    def startup(self) -> float | None:
        return self.available - self.launched if self.launched is not None else None

    def per_run_ms(self, seconds: float | None) -> float | None:
        return None if seconds is None else seconds / self.runs * 1000


@dataclass
class Streaming:
    streams: int
    started: int
    idle: TreeMemory
    busy: TreeMemory
    lines_printed: int

    @property
    def extra_per_stream_kib(self) -> float | None:
        return (self.busy.pss_kib - self.idle.pss_kib) / self.started if self.started else None


@dataclass
class AgentFigures:
    """One agent's results; a phase that failed or was skipped stays None / empty."""

    throughput: Throughput | None = None
    latencies: list[float] = field(default_factory=list)
    streaming: Streaming | None = None


@dataclass
class Figures:
    runs: int
    workers: int
    raw_parallel: Throughput | None = None
    raw_parallel_removing: Throughput | None = None
    raw_serial: Throughput | None = None
    dockyard: AgentFigures | None = None
    prefect: AgentFigures | None = None
    round_rates: dict[str, list[float | None]] = field(default_factory=dict)  # runs/s per round
    gaps: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
