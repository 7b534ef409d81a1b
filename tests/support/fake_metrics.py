"""Fakes of the metrics ports: they record every call, for tests to assert on."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakeAgentMetrics:
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _record(self, name: str, **values: Any) -> None:
        with self._lock:
            self.calls.append((name, values))

    def of(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return [values for called, values in self.calls if called == name]

    def count(self, name: str) -> int:
        return len(self.of(name))

    def settled(self) -> Counter[str]:
        return Counter(values["state"] for values in self.of("run_settled"))

    def last(self, name: str) -> dict[str, Any] | None:
        found = self.of(name)
        return found[-1] if found else None

    def run_claimed(self) -> None:
        self._record("run_claimed")

    def run_deployed(self, *, since_ready: float, since_scheduled: float) -> None:
        self._record("run_deployed", since_ready=since_ready, since_scheduled=since_scheduled)

    def deploy_failed(self) -> None:
        self._record("deploy_failed")

    def run_requeued(self) -> None:
        self._record("run_requeued")

    def run_settled(self, state: str) -> None:
        self._record("run_settled", state=state)

    def runs_in_flight(self, *, deploying: int, running: int) -> None:
        self._record("runs_in_flight", deploying=deploying, running=running)

    def containers_running(self, count: int) -> None:
        self._record("containers_running", count=count)

    def pull(self, *, seconds: float, ok: bool, downloaded_bytes: int) -> None:
        self._record("pull", seconds=seconds, ok=ok, downloaded_bytes=downloaded_bytes)

    def poll(self, *, seconds: float, ok: bool) -> None:
        self._record("poll", seconds=seconds, ok=ok)

    def backend_error(self, kind: str) -> None:
        self._record("backend_error", kind=kind)

    def daemon_error(self, kind: str) -> None:
        self._record("daemon_error", kind=kind)


@dataclass
class FakeServicesMetrics:
    passes: list[tuple[str, bool, dict[str, int]]] = field(default_factory=list)

    def service_pass(self, service: str, *, seconds: float, ok: bool, actions: Mapping[str, int]) -> None:
        assert seconds >= 0
        self.passes.append((service, ok, dict(actions)))
