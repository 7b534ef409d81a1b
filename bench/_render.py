"""The benchmark's printed report: every figure and ratio side by side, then the targets."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from _figures import AgentFigures, Figures, Streaming, Throughput
from _report import Table, at_least, at_most, fmt, percentile, ratio, verdict

Cell = float | int | str | None
MIB = 1024.0
# Prefect 1.4.1's DockerAgent measured on this kind of machine against an in-memory backend.
REFERENCE = {
    "rate": 6.8,
    "rate_ratio": 0.88,
    "cpu_ms": 19.0,
    "peak_mib": 64.0,
    "p50": 2.6,
    "max": 8.0,
    "processes": 21,
    "pss_mib": 226.0,
}
TARGET_EXTRA_MIB = 0.5


def _mib(kib: float | None) -> float | None:
    return None if kib is None else kib / MIB


def _agent_throughput(agent: AgentFigures | None) -> Throughput | None:
    return agent.throughput if agent else None


def _prefect_cpu_ms(figures: Figures) -> float | None:
    """(c)'s CPU per run, or the reference figure when (c) was not measured."""
    if figures.prefect is None:
        return REFERENCE["cpu_ms"]
    measured = figures.prefect.throughput
    return measured.per_run_ms(measured.cpu_until_removed) if measured else None


def _throughput_table(figures: Figures) -> Table:
    raw = figures.raw_parallel
    raw_rate = raw.rate if raw else None
    w = figures.workers
    columns: list[tuple[str, Throughput | None]] = [
        (f"(a) raw x{w}", raw),
        (f"(a) x{w} +rm", figures.raw_parallel_removing),
        ("(a) raw x1", figures.raw_serial),
        ("(b) dockyard", _agent_throughput(figures.dockyard)),
        ("(c) Prefect", _agent_throughput(figures.prefect)),
    ]
    n = figures.runs
    table = Table(f"Throughput, {n} runs", [name for name, _ in columns] + ["reference"])

    def row(label: str, value: Callable[[Throughput], Cell], reference: str = "") -> None:
        table.row(label, *[fmt(value(t)) if t is not None else "-" for _, t in columns], reference)

    def agents_only(value: Callable[[Throughput], Cell]) -> Callable[[Throughput], Cell]:
        return lambda t: value(t) if t.launched is not None else None

    row(f"runs/s (available -> {n}th start)", lambda t: t.rate, fmt(REFERENCE["rate"]))
    row(f"  ratio to (a) raw x{w}", lambda t: ratio(t.rate, raw_rate), fmt(REFERENCE["rate_ratio"]))
    if any(len(rates) > 1 for rates in figures.round_rates.values()):
        keys = ["raw", "raw+rm", None, "dockyard", "prefect"]
        rounds = [" ".join(fmt(r, ".1f") for r in figures.round_rates.get(k, [])) if k else "" for k in keys]
        table.row("  runs/s of each round (the median is kept)", *[r or "-" for r in rounds], "")
    row(f"steady runs/s (1st -> {n}th start)", lambda t: t.steady_rate)
    row(f"  ratio to (a) raw x{w}", lambda t: ratio(t.steady_rate, raw.steady_rate if raw else None))
    row("seconds, available -> 1st start", lambda t: t.first_start_after)
    row(f"seconds, available -> {n}th start", lambda t: t.starts[-1] - t.available if t.starts else None)
    row("seconds, process launch -> registered", lambda t: t.startup)
    row(f"CPU ms/run, registered -> {n}th start", agents_only(lambda t: t.per_run_ms(t.cpu_to_last_start)))
    row(
        "CPU ms/run, registered -> all removed",
        lambda t: t.per_run_ms(t.cpu_until_removed),
        fmt(REFERENCE["cpu_ms"], ".1f"),
    )
    row("  ratio to (c)", lambda t: ratio(t.per_run_ms(t.cpu_until_removed), _prefect_cpu_ms(figures)))
    row("server CPU ms/run, registered -> removed", lambda t: t.per_run_ms(t.server_cpu_until_removed))
    row(
        f"machine CPU ms/run -> {n}th start (all procs)",
        lambda t: t.per_run_ms(t.machine_cpu_to_last_start),
    )
    row(
        "client CPU ms/run (this script's SDK calls)",
        lambda t: t.per_run_ms(t.cpu_to_last_start) if t.launched is None else None,
    )
    row("agent peak memory VmHWM (MiB)", lambda t: _mib(t.peak_kib), fmt(REFERENCE["peak_mib"], ".0f"))
    row("containers removed after exit", agents_only(lambda t: t.removed))
    row("run states afterwards", agents_only(lambda t: t.states))
    return table


def _latency(agent: AgentFigures | None) -> dict[str, float | None]:
    values = agent.latencies if agent else []
    if not values:
        return dict.fromkeys(("p50", "p95", "max", "min", "n"))
    return {
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "max": max(values),
        "min": min(values),
        "n": float(len(values)),
    }


def _latency_section(figures: Figures, idle: float) -> str:
    mine, theirs = _latency(figures.dockyard), _latency(figures.prefect)
    gaps = figures.gaps
    gap_text = f"{min(gaps):.1f}-{max(gaps):.1f} s" if gaps else "-"
    table = Table(
        f"Latency, run created -> container started (after {idle:.0f} s idle; idle gaps {gap_text}, seeded)",
        ["(b) dockyard", "(c) Prefect", "reference"],
    )
    table.row("runs measured", fmt(mine["n"], ".0f"), fmt(theirs["n"], ".0f"), "")
    for key, reference in (("p50", "p50"), ("p95", ""), ("max", "max"), ("min", "")):
        table.row(
            f"{key} (s)", fmt(mine[key]), fmt(theirs[key]), fmt(REFERENCE[reference]) if reference else ""
        )
    table.row("  p50 ratio dockyard / Prefect", fmt(ratio(mine["p50"], theirs["p50"])), "", "")
    lines = [table.render()]
    for agent, name in ((figures.dockyard, "dockyard"), (figures.prefect, "Prefect")):
        if agent and agent.latencies:
            lines.append(f"  {name} samples (s): " + " ".join(f"{v:.2f}" for v in agent.latencies))
    return "\n".join(lines)


def _streaming_table(figures: Figures, streams: int) -> Table:
    mine = figures.dockyard.streaming if figures.dockyard else None
    theirs = figures.prefect.streaming if figures.prefect else None
    table = Table(
        f"With --show-flow-logs: {streams} containers printing a line every 0.2 s"
        " (PSS of the agent's process tree)",
        ["(b) dockyard", "(c) Prefect", "reference"],
    )

    def row(label: str, value: Callable[[Streaming], Cell], reference: str = "", spec: str = ".1f") -> None:
        table.row(label, *[fmt(value(s), spec) if s is not None else "-" for s in (mine, theirs)], reference)

    row("containers streaming", lambda s: s.started)
    row("processes while idle", lambda s: s.idle.processes)
    row("processes while streaming", lambda s: s.busy.processes, str(REFERENCE["processes"]))
    row("PSS idle (MiB)", lambda s: _mib(s.idle.pss_kib))
    row("PSS streaming (MiB)", lambda s: _mib(s.busy.pss_kib), fmt(REFERENCE["pss_mib"], ".0f"))
    both = ratio(mine.busy.pss_kib, theirs.busy.pss_kib) if mine and theirs else None
    table.row("  ratio dockyard / Prefect", fmt(both), "", "")
    row("extra PSS per streaming container (MiB)", lambda s: _mib(s.extra_per_stream_kib), spec=".2f")
    row("sum of VmHWM while streaming (MiB)", lambda s: _mib(s.busy.peak_rss_kib))
    row("output lines the agent printed", lambda s: s.lines_printed)
    return table


def _targets(figures: Figures) -> list[str]:
    mine = _agent_throughput(figures.dockyard)
    if figures.dockyard is None:
        return ["Targets: (b) was not measured"]
    source = "(c)" if figures.prefect else "reference"
    theirs = _agent_throughput(figures.prefect)
    prefect_rate = (theirs.rate if theirs else None) if figures.prefect else REFERENCE["rate"]
    raw = figures.raw_parallel
    raw_bound = None if raw is None or raw.rate is None else 0.95 * raw.rate
    prefect_cpu = _prefect_cpu_ms(figures)
    cpu_bound = None if prefect_cpu is None else 0.5 * prefect_cpu
    rate = mine.rate if mine else None
    cpu = mine.per_run_ms(mine.cpu_until_removed) if mine else None
    latency = _latency(figures.dockyard)
    streaming = figures.dockyard.streaming
    extra = _mib(streaming.extra_per_stream_kib) if streaming else None
    checks = [
        (f"runs/s >= 0.95 x (a) raw x{figures.workers}", rate, ">=", raw_bound, at_least(rate, raw_bound)),
        (f"runs/s >= {source}", rate, ">=", prefect_rate, at_least(rate, prefect_rate)),
        (f"CPU ms/run <= 0.5 x {source}", cpu, "<=", cpu_bound, at_most(cpu, cpu_bound)),
        ("idle -> start latency p50 <= 0.5 s", latency["p50"], "<=", 0.5, at_most(latency["p50"], 0.5)),
        ("idle -> start latency p95 <= 1 s", latency["p95"], "<=", 1.0, at_most(latency["p95"], 1.0)),
        (
            f"extra PSS per streaming container <= {TARGET_EXTRA_MIB} MiB",
            extra,
            "<=",
            TARGET_EXTRA_MIB,
            at_most(extra, TARGET_EXTRA_MIB),
        ),
    ]
    lines = ["Targets for dockyard"]
    for name, value, op, bound, ok in checks:
        lines.append(f"  {verdict(ok)}  {name:<48} {fmt(value)} {op} {fmt(bound)}")
    return lines


def render(figures: Figures, options: argparse.Namespace, *, cpus: int, elapsed: float, idle: float) -> str:
    minutes, seconds = divmod(int(elapsed), 60)
    header = [f"dockyard agent benchmark: {cpus} CPUs, {minutes}m{seconds:02d}s in all"]
    header += [f"  {note}" for note in figures.notes]
    parts = ["\n".join(header), "", _throughput_table(figures).render(), ""]
    if options.latency_runs:
        parts += [_latency_section(figures, idle), ""]
    if options.streams:
        parts += [_streaming_table(figures, options.streams).render(), ""]
    parts.append("\n".join(_targets(figures)))
    return "\n".join(parts)
