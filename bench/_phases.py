"""The measurements: the raw loop, and per agent its throughput, idle latency and memory
while streaming output."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator

from _bench import BENCH_LABEL, IMAGE, STREAM_IMAGE, Bench
from _daemon import FLOW_ID, EventRecorder, raw_create_start_loop, remove_labelled, unique
from _figures import Streaming, Throughput
from _procfs import TreeMemory, machine_busy_seconds, tree_cpu_seconds, tree_memory, vm_hwm_kib

COMMAND = "prefect execute flow-run"  # what both agents run for a flow of core version 1.4.1
IDLE_SECONDS = 16.0  # Prefect's backoff reaches 10 s after 0.25+0.5+1+2+4+8 s of empty polls


def raw_loop(bench: Bench, runs: int, workers: int, *, auto_remove: bool = False) -> Throughput:
    phase_id = str(uuid.uuid4())
    machine_before = machine_busy_seconds()
    result = raw_create_start_loop(
        bench.client,
        image=IMAGE,
        command=COMMAND,
        labels={BENCH_LABEL: bench.session, FLOW_ID: phase_id},
        event_label=f"{FLOW_ID}={phase_id}",
        count=runs,
        workers=workers,
        name_prefix=f"bench-{bench.session}-raw{workers}{'rm' if auto_remove else ''}",
        auto_remove=auto_remove,
    )
    machine = machine_busy_seconds() - machine_before
    remove_labelled(bench.client, f"{FLOW_ID}={phase_id}")  # outside the timed window
    return Throughput(
        runs=runs,
        available=result.began,
        starts=[event.time for event in result.starts],
        cpu_to_last_start=result.client_cpu_seconds,
        machine_cpu_to_last_start=machine,
    )


def throughput(bench: Bench, kind: str, runs: int) -> Throughput:
    """All runs exist before the agent starts; the clock starts at its registration."""
    api = bench.api
    flow_id = bench.new_flow(f"{kind}-throughput")
    label = unique(f"bench-{kind}")
    run_ids = [
        api.create_run(flow_id, image=IMAGE, label=label, name=bench.run_name(kind, i)) for i in range(runs)
    ]
    with EventRecorder(bench.client, f"{FLOW_ID}={flow_id}") as events:
        agent = bench.launch(kind, label, show_flow_logs=False)
        registered = api.wait_registered(agent)
        cpu_before, server_before = tree_cpu_seconds(agent.pid), bench.server_cpu_seconds()
        machine_before = machine_busy_seconds()
        starts = events.wait_for("start", runs, timeout=max(120.0, runs * 2.0))
        cpu_started, machine = tree_cpu_seconds(agent.pid), machine_busy_seconds() - machine_before
        destroyed = events.wait_for("destroy", len(starts), timeout=60.0)
        cpu_removed, server_removed = tree_cpu_seconds(agent.pid), bench.server_cpu_seconds()
        peak = vm_hwm_kib(agent.pid)
    states = Counter(api.states(run_ids).values()).most_common()
    bench.stop_agent(agent)
    return Throughput(
        runs=runs,
        available=registered,
        starts=[event.time for event in starts][:runs],
        launched=agent.launched,
        cpu_to_last_start=cpu_started - cpu_before,
        cpu_until_removed=cpu_removed - cpu_before if len(destroyed) >= len(starts) else None,
        server_cpu_until_removed=server_removed - server_before,
        machine_cpu_to_last_start=machine,
        peak_kib=peak,
        removed=len(destroyed),
        states=", ".join(f"{state} {count}" for state, count in states),
    )


def latency(bench: Bench, kind: str, gaps: list[float]) -> list[float]:
    """After the agent has idled long enough for the longest backoff: one run at a time,
    from just before its creation to its container's start, with ``gaps`` idle between."""
    api = bench.api
    flow_id = bench.new_flow(f"{kind}-latency")
    label = unique(f"bench-{kind}-l")
    found = []
    with EventRecorder(bench.client, f"{FLOW_ID}={flow_id}", actions=("start",)) as events:
        agent = bench.launch(kind, label, show_flow_logs=False)
        api.wait_registered(agent)
        time.sleep(IDLE_SECONDS)
        for index, gap in enumerate(gaps):
            created = time.time()
            run_id = api.create_run(
                flow_id, image=IMAGE, label=label, name=bench.run_name(f"{kind}-l", index)
            )
            started = events.started_run(run_id, timeout=60.0)
            if started is not None:
                found.append(started.time - created)
            time.sleep(gap)
    bench.stop_agent(agent)
    return found


def streaming(bench: Bench, kind: str, streams: int) -> Streaming:
    """PSS of the agent's process tree with --show-flow-logs: idle, then while ``streams``
    containers print a line every 0.2 s."""
    api = bench.api
    flow_id = bench.new_flow(f"{kind}-streams")
    label = unique(f"bench-{kind}-f")
    with EventRecorder(bench.client, f"{FLOW_ID}={flow_id}", actions=("start",)) as events:
        agent = bench.launch(kind, label, show_flow_logs=True)
        api.wait_registered(agent)
        time.sleep(3.0)
        idle = _median(tree_memory(agent.pid) for _ in _every(0.5, 3))
        for i in range(streams):
            api.create_run(flow_id, image=STREAM_IMAGE, label=label, name=bench.run_name(f"{kind}-f", i))
        started = events.wait_for("start", streams, timeout=90.0)
        time.sleep(5.0)  # every follower attached and printing
        busy = max((tree_memory(agent.pid) for _ in _every(1.0, 3)), key=lambda m: m.pss_kib)
    bench.stop_agent(agent)
    remove_labelled(bench.client, f"{FLOW_ID}={flow_id}")
    output = agent.log.read_text(errors="replace").splitlines()
    printed = sum("flow run output line" in line for line in output)
    return Streaming(streams=streams, started=len(started), idle=idle, busy=busy, lines_printed=printed)


def _every(seconds: float, times: int) -> Iterator[int]:
    for index in range(times):
        if index:
            time.sleep(seconds)
        yield index


def _median(samples: Iterator[TreeMemory]) -> TreeMemory:
    ordered = sorted(samples, key=lambda m: m.pss_kib)
    return ordered[len(ordered) // 2]
