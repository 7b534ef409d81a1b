"""get_runs_in_queue latency of `dockyard server` on SQLite and PostgreSQL, with 10,000 and
100,000 runs in the store.

For each database and size: stores the flow runs (mixed states, labels and start times;
through the store adapter, for speed) in a new database (a temporary SQLite file, or a new
database in the PostgreSQL cluster of scripts/ensure-postgres.sh, analysed once loaded as
autovacuum would), starts the server as a real process on it, and times the agent's queue
mutation over HTTP, exactly as Prefect 1.4.1 sends it (variables as a JSON string, the
agent-id header, a realistic label set). Prints a table beside the 20 ms target.

    .venv/bin/python bench/bench_queue.py [--runs 10000,100000] [--databases sqlite,postgres]
        [--calls 300] [--postgres URL-of-a-cluster-database]
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
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from dockyard.adapters.sqlite import SqliteRunStore
from dockyard.adapters.system_clock import SystemClock
from dockyard.domain.server.context import Caller, Dependencies
from dockyard.domain.server.service import ServerService
from dockyard.domain.server.timestamps import canonical
from dockyard.ports.run_store import RunStore

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


def seed(store: RunStore, runs: int) -> tuple[str, str]:
    """Store ``runs`` flow runs; return the tenant id and a registered agent's id."""
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
    return tenant, agent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(db: str, port: int) -> subprocess.Popen[bytes]:
    dockyard = Path(sys.executable).parent / "dockyard"
    process = subprocess.Popen(
        [
            str(dockyard),
            "server",
            "start",
            "--port",
            str(port),
            "--db",
            db,
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


@contextmanager
def database(kind: str, runs: int, cluster: str | None) -> Iterator[tuple[str, str, str]]:
    """A new database of ``kind`` holding ``runs`` runs: (location, tenant, agent)."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as directory:
            db = str(Path(directory) / "bench.db")
            store = SqliteRunStore(db, durable=False)
            try:
                tenant, agent = seed(store, runs)
            finally:
                store.close()
            yield db, tenant, agent
        return
    import psycopg

    from dockyard.adapters.postgres import PostgresRunStore

    assert cluster is not None
    name = f"dy_bench_{os.getpid()}_{runs}"
    with psycopg.connect(cluster, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0")
    url = urlunsplit(urlsplit(cluster)._replace(path=f"/{name}"))
    try:
        store = PostgresRunStore(url, pool_size=2)
        try:
            tenant, agent = seed(store, runs)
        finally:
            store.close()
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("ANALYZE")  # as autovacuum does after a bulk load
        yield url, tenant, agent
    finally:
        with psycopg.connect(cluster, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def bench(kind: str, runs: int, calls: int, cluster: str | None) -> tuple[float, float, int]:
    with database(kind, runs, cluster) as (location, tenant, agent):
        port = free_port()
        server = start_server(location, port)
        try:
            timings, found = measure(f"http://127.0.0.1:{port}", tenant, agent, calls)
        finally:
            os.kill(server.pid, signal.SIGTERM)
            server.wait(30)
    return statistics.median(timings), statistics.quantiles(timings, n=100)[94], found


def test_cluster() -> str:
    """The PostgreSQL cluster the tests use (started if needed)."""
    script = Path(__file__).resolve().parents[1] / "scripts" / "ensure-postgres.sh"
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="10000,100000", help="comma-separated store sizes")
    parser.add_argument("--databases", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--postgres", help="URL of a database of the cluster to create bench databases in")
    options = parser.parse_args()
    sizes = [int(n) for n in options.runs.split(",")]
    kinds = [k.strip() for k in options.databases.split(",")]
    cluster = (options.postgres or test_cluster()) if "postgres" in kinds else None
    print(f"get_runs_in_queue over HTTP, {options.calls} calls per row: agent labels {AGENT_LABELS},")
    print("  with the agent-id header (last_queried is written each call); runs returned per call, cap 25")
    print(f"  {'database':10}{'runs':>9}{'median':>11}{'p95':>11}{'target':>9}{'returned':>10}")
    for kind in kinds:
        for runs in sizes:
            median, p95, found = bench(kind, runs, options.calls, cluster)
            verdict = "meets" if median < TARGET_MS else "MISSES"
            row = f"  {kind:10}{runs:>9,}{median:>9.2f}ms{p95:>9.2f}ms{TARGET_MS:>7.0f}ms{found:>10}"
            print(f"{row}  {verdict}", flush=True)
    if cluster is not None:
        print("  (PostgreSQL: the tests' local cluster over a unix socket, fsync and synchronous_commit off)")


if __name__ == "__main__":
    main()
