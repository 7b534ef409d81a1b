"""Query bombs and storms of them against a real server, for e2e tests and the benchmark.

    with Storm(server.url, threads=4) as storm:
        latencies = probe(server.url, tenant_id, seconds=5)
    storm.answers  # (bomb, seconds, status, body) for every bomb sent

Every bomb is sent with a different trailing comment, so none is answered from the
server's document cache: each is refused the hard way.
"""

from __future__ import annotations

import itertools
import statistics
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

# 10,000 aliases of one list field, as the fault-injection session sent them.
ALIASES = "query {" + " ".join(f"a{i}: flow_run {{ id }}" for i in range(10_000)) + "}"
# Lists nested four deep through three fragments: 50 runs make 50**4 rows.
FRAGMENTS = (
    "query { flow_run { ...F0 } } "
    "fragment F0 on flow_run { flow { flow_runs { ...F1 } } } "
    "fragment F1 on flow_run { flow { flow_runs { ...F2 } } } "
    "fragment F2 on flow_run { flow { flow_runs { id } } }"
)
# Fifteen levels of selections through seven fragments, each only two or three deep.
DEPTH = (
    "query { flow_run { ...D1 } } "
    + " ".join(f"fragment D{i} on flow_run {{ flow {{ flow_runs {{ ...D{i + 1} }} }} }}" for i in range(1, 8))
    + " fragment D8 on flow_run { id }"
)
BOMBS = {"aliases": ALIASES, "fragments": FRAGMENTS, "depth": DEPTH}
# The limit each bomb is refused by, with the server's default limits.
REFUSED_BY = {"aliases": "max_tokens", "fragments": "max_cost", "depth": "max_depth"}

QUEUE = "mutation($input: get_runs_in_queue_input!) { get_runs_in_queue(input: $input) { flow_run_ids } }"


@dataclass(frozen=True)
class Answer:
    bomb: str
    seconds: float
    status: int | None  # None: no HTTP answer (the exception's text is the body)
    body: Any


@dataclass
class Storm:
    """Threads sending bombs in turn, as fast as they are answered, until the block ends."""

    url: str
    threads: int = 4
    bombs: Mapping[str, str] = field(default_factory=lambda: dict(BOMBS))
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _serial: itertools.count[int] = field(default_factory=itertools.count)

    def __enter__(self) -> Storm:
        for _ in range(self.threads):
            worker = threading.Thread(target=self._fire, daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(60)

    def _fire(self) -> None:
        session = requests.Session()
        names = itertools.cycle(self.bombs)
        while not self._stop.is_set():
            name = next(names)
            query = f"{self.bombs[name]} # {next(self._serial)}"
            began = time.monotonic()
            try:
                response = session.post(self.url, json={"query": query}, timeout=60)
                answer = Answer(name, time.monotonic() - began, response.status_code, response.json())
            except (requests.RequestException, ValueError) as exc:
                answer = Answer(name, time.monotonic() - began, None, str(exc))
                time.sleep(0.05)  # the server is going away: do not spin
            with self._lock:
                self.answers.append(answer)


@dataclass(frozen=True)
class Latencies:
    health: list[float]
    queue: list[float]

    @staticmethod
    def summary(values: list[float]) -> dict[str, float]:
        ordered = sorted(values)
        return {
            "n": len(ordered),
            "p50": statistics.median(ordered),
            "p95": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
            "max": ordered[-1],
        }


def probe(url: str, tenant_id: str, *, seconds: float, interval: float = 0.05) -> Latencies:
    """Time ``GET /health`` and the agent's queue query, one after the other, for ``seconds``."""
    health: list[float] = []
    queue: list[float] = []
    variables = {"input": {"tenant_id": tenant_id, "labels": [], "before": None}}
    session = requests.Session()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        began = time.monotonic()
        answered = session.get(f"{url}/health", timeout=30)
        health.append(time.monotonic() - began)
        assert answered.status_code == 200, answered.text
        began = time.monotonic()
        body = session.post(url, json={"query": QUEUE, "variables": variables}, timeout=30).json()
        queue.append(time.monotonic() - began)
        assert "errors" not in body, body
        time.sleep(interval)
    return Latencies(health, queue)


def rss_mib(pid: int) -> tuple[float, float]:
    """The process's resident memory now and at its peak (VmRSS, VmHWM), in MiB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _data(session: requests.Session, url: str, query: str, variables: Any = None) -> dict[str, Any]:
    body = session.post(url, json={"query": query, "variables": variables}, timeout=60).json()
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


def seed(url: str, runs: int) -> tuple[str, str]:
    """A project, a flow and ``runs`` flow runs of it; return the tenant's and flow's ids."""
    session = requests.Session()
    tenant = _data(session, url, "{ tenant { id } }")["tenant"][0]["id"]
    project = _data(
        session,
        url,
        "mutation($i: create_project_input!) { create_project(input: $i) { id } }",
        {"i": {"tenant_id": tenant, "name": "storm"}},
    )["create_project"]["id"]
    flow = _data(
        session,
        url,
        "mutation($i: create_flow_input!) { create_flow(input: $i) { id } }",
        {"i": {"project_id": project, "serialized_flow": {"name": "f", "tasks": [{"slug": "t-1"}]}}},
    )["create_flow"]["id"]
    for _ in range(runs):
        create_run(session, url, flow)
    return tenant, flow


def create_run(session: requests.Session, url: str, flow_id: str) -> str:
    created = _data(
        session,
        url,
        "mutation($i: create_flow_run_input!) { create_flow_run(input: $i) { id } }",
        {"i": {"flow_id": flow_id, "labels": ["storm"]}},
    )
    run_id: str = created["create_flow_run"]["id"]
    return run_id
