"""Agent benchmark: dockyard's agent beside Prefect 1.4.1's DockerAgent and the raw daemon.

One run, one `dockyard server` (a real process on a free port, temporary database), and
three ways to start containers of dockyard-test/prefect-stub:1, whose `prefect` exits at once:

  (a) a raw docker SDK create+start loop on 8 threads (the dockyard agent's deployment
      workers): the daemon's limit on this machine; for context the same with
      auto_remove (the daemon also removes what exits, as with the agents), and one at a time;
  (b) `dockyard agent start --api URL --name N --label L --no-pull`, a real process;
  (c) `prefect agent docker start --api URL --name N --label L --no-pull` from .venv-prefect.

Both agents run the same runs: a DockerRun of the image with its default command, which
both turn into `prefect execute flow-run`. Each phase has a fresh agent process, and the
throughput phases run back to back. For each agent it measures

  throughput    all runs are created first, then the agent starts; the clock starts when
                the agent registers (its first poll follows at once) and stops at the
                last container's `start` event (Docker's events stream);
  CPU per run   utime+stime of the agent's process tree from /proc, from registration to
                the last start, and on until every container is removed;
  peak memory   VmHWM of the agent process in the throughput phase;
  latency       after 16 s idle (the poll backoff at its 10 s maximum): one run at a time,
                from just before its creation to its container's start, with seeded idle
                gaps between runs;
  streaming     with --show-flow-logs, PSS of the agent's whole process tree, idle and
                while N containers print a line every 0.2 s.

Everything it creates is labelled and removed at the end, also on failure or Ctrl-C.
Other work on the same daemon shows up as noise: figures are printed as measured.

    .venv/bin/python bench/bench_agent.py [--runs 100] [--latency-runs 10] [--streams 20] [--skip-prefect]
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from types import FrameType
from typing import TypeVar

import _phases
from _agents import PREFECT, REPO
from _bench import IMAGE, Bench
from _figures import AgentFigures, Figures, Throughput
from _render import render
from _report import median_by

WORKERS = 8  # dockyard's Agent(workers=8): deployments in parallel
NAMES = {"dockyard": "(b) dockyard agent", "prefect": "(c) Prefect 1.4.1 DockerAgent"}
T = TypeVar("T")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench_agent.py",
        description=__doc__.split("\n\n    .venv")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=100, help="runs per throughput phase (default 100)")
    parser.add_argument("--latency-runs", type=int, default=10, help="single runs for latency (default 10)")
    parser.add_argument(
        "--latency-gap",
        type=float,
        default=4.0,
        help="mean idle seconds between latency runs; the gaps are uniform in [0.5, 1.5] x this,"
        " seeded, the same for both agents (default 4)",
    )
    parser.add_argument(
        "--streams", type=int, default=20, help="streaming containers with -f (default 20; 0 skips)"
    )
    parser.add_argument(
        "--skip-prefect", action="store_true", help="skip (c); compare with the reference figures"
    )
    parser.add_argument("--skip-dockyard", action="store_true", help="skip (b)")
    parser.add_argument(
        "--dockyard-args", default="", metavar="ARGS", help="extra `dockyard agent start` options, one string"
    )
    parser.add_argument(
        "--prefect-args", default="", metavar="ARGS", help="extra `prefect agent docker start` options"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat the throughput phases this often (alternating their order) and keep each"
        " column's median round: the daemon is shared, and noisy (default 1)",
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the agents' and the server's logs")
    options = parser.parse_args(argv)
    if options.runs < 2:
        parser.error("--runs must be at least 2")
    if options.rounds < 1:
        parser.error("--rounds must be at least 1")
    return options


def _guarded(figures: Figures, name: str, measure: Callable[[], T]) -> T | None:
    """A phase that fails (an agent that will not start, say) is reported beside the rest."""
    try:
        return measure()
    except Exception as exc:
        figures.notes.append(f"{name} FAILED: {type(exc).__name__}: {exc}")
        print(f"  {name} failed: {exc}", file=sys.stderr, flush=True)
        return None


def _throughput_rounds(
    bench: Bench,
    figures: Figures,
    agents: dict[str, AgentFigures],
    options: argparse.Namespace,
    progress: Callable[[str], None],
) -> None:
    """The throughput phases back to back, so they see the same daemon conditions; with
    several rounds, alternately in reverse order, and each column keeps its median round."""
    n = options.runs
    phases: list[tuple[str, str, Callable[[], Throughput]]] = [
        ("raw", f"(a) raw SDK create+start, {n} containers on {WORKERS} threads",
         partial(_phases.raw_loop, bench, n, WORKERS)),
        ("raw+rm", "(a) the same with auto_remove (the daemon removes each container when it exits)",
         partial(_phases.raw_loop, bench, n, WORKERS, auto_remove=True)),
    ]  # fmt: skip
    for kind in agents:
        phases.append((kind, f"{NAMES[kind]}: {n} runs", partial(_phases.throughput, bench, kind, n)))
    measured: dict[str, list[Throughput]] = {key: [] for key, _, _ in phases}
    for round_index in range(options.rounds):
        for key, title, measure in phases if round_index % 2 == 0 else phases[::-1]:
            progress(f"{title}{f' (round {round_index + 1})' if options.rounds > 1 else ''}")
            result = _guarded(figures, key, measure)
            if result is not None:
                measured[key].append(result)
    figures.round_rates = {key: [t.rate for t in found] for key, found in measured.items()}
    figures.raw_parallel = median_by(measured["raw"], _rate)
    figures.raw_parallel_removing = median_by(measured["raw+rm"], _rate)
    for kind, figures_of_kind in agents.items():
        figures_of_kind.throughput = median_by(measured[kind], _rate)


def _rate(throughput: Throughput) -> float:
    return throughput.rate if throughput.rate is not None else 0.0


def run(options: argparse.Namespace, progress: Callable[[str], None]) -> Figures:
    kinds = [
        k for k, skip in (("dockyard", options.skip_dockyard), ("prefect", options.skip_prefect)) if not skip
    ]
    if "prefect" in kinds and not PREFECT.exists():
        subprocess.run(["bash", str(REPO / "scripts" / "prefect-venv.sh")], check=True)
    agent_args = {
        "dockyard": shlex.split(options.dockyard_args),
        "prefect": shlex.split(options.prefect_args),
    }
    bench = Bench(keep_logs=options.keep_logs, agent_args=agent_args)
    figures = Figures(runs=options.runs, workers=WORKERS)
    agents = {kind: AgentFigures() for kind in kinds}
    figures.dockyard, figures.prefect = agents.get("dockyard"), agents.get("prefect")
    rng = random.Random(1)
    figures.gaps = [rng.uniform(0.5, 1.5) * options.latency_gap for _ in range(options.latency_runs)]
    n = options.runs
    try:
        api = bench.start()
        figures.notes += [
            f"Docker Engine {bench.client.version().get('Version', '?')}; dockyard server at {api.url}",
            f"every run: {IMAGE}, default command -> `{_phases.COMMAND}` (exits at once), --no-pull",
            "runs are created through the GraphQL API (create_flow_run, DockerRun run config) BEFORE the",
            "  agent starts; 'available' = the agent's registration (its first poll follows at once);",
            "  (a) starts its clock at its first create call; every phase has a fresh agent process",
            "container start times come from Docker's events stream (start events, by flow-id label)",
        ]
        figures.notes += [f"extra {k} agent options: {' '.join(v)}" for k, v in agent_args.items() if v]
        if options.rounds > 1:
            figures.notes.append(
                f"throughput: {options.rounds} rounds in alternating order;"
                " each column shows its median round"
            )
        _throughput_rounds(bench, figures, agents, options, progress)
        progress(f"(a) raw SDK create+start, {n} containers one at a time")
        figures.raw_serial = _guarded(figures, "(a) x1", partial(_phases.raw_loop, bench, n, 1))
        for kind in kinds if options.latency_runs else []:
            progress(
                f"{NAMES[kind]}: idle {_phases.IDLE_SECONDS:.0f} s, then {options.latency_runs} single runs"
            )
            agents[kind].latencies = (
                _guarded(figures, kind, partial(_phases.latency, bench, kind, figures.gaps)) or []
            )
        for kind in kinds if options.streams else []:
            progress(f"{NAMES[kind]} with --show-flow-logs: {options.streams} streaming containers")
            agents[kind].streaming = _guarded(
                figures, kind, partial(_phases.streaming, bench, kind, options.streams)
            )
        return figures
    finally:
        bench.close()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    started = time.monotonic()
    try:
        figures = run(options, lambda text: print(text, flush=True))
    except KeyboardInterrupt:
        print("interrupted; everything the benchmark created has been removed", file=sys.stderr)
        return 130
    print()
    print(
        render(
            figures,
            options,
            cpus=os.cpu_count() or 0,
            elapsed=time.monotonic() - started,
            idle=_phases.IDLE_SECONDS,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
