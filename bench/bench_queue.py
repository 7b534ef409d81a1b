"""get_runs_in_queue latency of `dockyard server` with 10,000 runs in the store.

Starts the server as a real process on a temporary database, stores 10,000 flow runs with
mixed states, labels and start times (through the SQLite store adapter, for speed), then
times the agent's queue mutation over HTTP, exactly as Prefect 1.4.1 sends it (variables as
a JSON string, the agent-id header, a realistic label set).

    .venv/bin/python bench/bench_queue.py [--runs 10000] [--calls 300]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from dockyard.adapters.sqlite import SqliteRunStore
from dockyard.adapters.system_clock import SystemClock
from dockyard.domain.server.context import Caller, Dependencies
from dockyard.domain.server.service import ServerService
from dockyard.domain.server.timestamps import canonical

TARGET_MS = 20.0
AGENT_LABELS = ["docker", "prod", "eu-west"]
LABEL_SETS = [
    [],
    ["docker"],
    ["docker", "prod"],
    ["gpu"],
    ["docker", "staging"],
    ["k8s", "prod"],
    ["eu-west"],
]
STATES = [
    ("Scheduled", 30),
    ("Success", 35),
    ("Failed", 10),
    ("Running", 10),
    ("Submitted", 5),
    ("Cancelled", 5),
    ("Retrying", 3),
    ("Paused", 2),
]
QUEUE = (
    "mutation($input: get_runs_in_queue_input!) {\n    get_runs_in_queue(input: $input) {\n"
    "        flow_run_ids\n    }\n}"
)


def seed(db: Path, runs: int) -> tuple[str, str]:
    """Store ``runs`` flow runs; return the tenant id and a registered agent's id."""
    store = SqliteRunStore(db, durable=False)
    service = ServerService(Dependencies(store=store, clock=SystemClock()))
    tenant = service.tenancy.ensure_default_tenant()
    project = service.tenancy.create_project(tenant, "bench", None)
    flow = service.flows.create_flow(
        project, {"name": "bench", "__version__": "1.4.1", "tasks": [{"slug": "t"}]}
    )
    agent = service.agents.register_agent(
        agent_type="DockerAgent",
        name="bench",
        labels=AGENT_LABELS,
        tenant_id=tenant,
        agent_config_id=None,
        caller=Caller(),
    )
    rng, now = random.Random(7), datetime.now(UTC)
    names, weights = zip(*STATES, strict=True)
    with store.unit_of_work(write=True) as session:
        for i in range(runs):
            state = rng.choices(names, weights)[0]
            start = now + timedelta(seconds=rng.randint(-86_400, 3_600))
            scheduled = state in ("Scheduled", "Retrying")
            run_id = f"{i:08x}-0000-4000-8000-{rng.getrandbits(48):012x}"
            session.insert(
                "flow_run",
                {
                    "id": run_id,
                    "tenant_id": tenant,
                    "flow_id": flow,
                    "name": f"run-{i}",
                    "labels": rng.choice(LABEL_SETS),
                    "parameters": {},
                    "context": {},
                    "version": 3,
                    "state": state,
                    "serialized_state": {"type": state, "message": "bench"},
                    "state_message": "bench",
                    "state_start_time": canonical(start) if scheduled else None,
                    "scheduled_start_time": canonical(start),
                    "state_timestamp": canonical(now),
                    "created": canonical(start),
                    "updated": canonical(now),
                },
            )
            if state == "Running":  # the retry branch of the queue looks at these
                retrying = rng.random() < 0.2
                session.insert(
                    "task_run",
                    {
                        "id": f"{i:08x}-1111-4000-8000-{rng.getrandbits(48):012x}",
                        "tenant_id": tenant,
                        "flow_run_id": run_id,
                        "task_id": run_id,
                        "map_index": -1,
                        "version": 2,
                        "state": "Retrying" if retrying else "Running",
                        "state_start_time": canonical(start) if retrying else None,
                    },
                )
    store.close()
    return tenant, agent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(db: Path, port: int) -> subprocess.Popen[bytes]:
    dockyard = Path(sys.executable).parent / "dockyard"
    process = subprocess.Popen(
        [
            str(dockyard),
            "server",
            "start",
            "--port",
            str(port),
            "--db",
            str(db),
            "--no-docker-bridge",
            "--log-level",
            "WARNING",
        ],
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok:
                return process
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start")


def measure(url: str, tenant: str, agent: str, calls: int) -> tuple[list[float], int]:
    session = requests.Session()
    headers = {"X-PREFECT-AGENT-ID": agent, "X-PREFECT-CORE-VERSION": "1.4.1"}
    timings, found = [], 0
    for i in range(calls + 20):  # the first 20 warm up connections and caches
        before = (datetime.now(UTC) + timedelta(seconds=10)).isoformat()
        variables = json.dumps({"input": {"before": before, "labels": AGENT_LABELS, "tenant_id": tenant}})
        started = time.perf_counter()
        answer = session.post(url, json={"query": QUEUE, "variables": variables}, headers=headers, timeout=30)
        elapsed = (time.perf_counter() - started) * 1000
        payload: Any = answer.json()
        assert "errors" not in payload, payload
        found = len(payload["data"]["get_runs_in_queue"]["flow_run_ids"])
        if i >= 20:
            timings.append(elapsed)
    return timings, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=300)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as directory:
        db = Path(directory) / "bench.db"
        tenant, agent = seed(db, options.runs)
        port = free_port()
        server = start_server(db, port)
        try:
            timings, found = measure(f"http://127.0.0.1:{port}", tenant, agent, options.calls)
        finally:
            os.kill(server.pid, signal.SIGTERM)
            server.wait(30)
    median = statistics.median(timings)
    p95 = statistics.quantiles(timings, n=100)[94]
    print(f"get_runs_in_queue over HTTP: {options.runs} runs stored, {len(timings)} calls,")
    print(f"  agent labels {AGENT_LABELS}, with the agent-id header (last_queried is written each call)")
    print(f"  runs returned per call: {found} (cap 25)")
    print(f"  {'':10}{'dockyard':>10}{'target':>10}")
    print(f"  {'median':10}{median:>8.2f}ms{TARGET_MS:>8.1f}ms")
    print(f"  {'p95':10}{p95:>8.2f}ms{'':>10}")
    print(f"  median {'meets' if median < TARGET_MS else 'MISSES'} the {TARGET_MS:.0f} ms target")


if __name__ == "__main__":
    main()
