"""The server's background services: the scheduler, the zombie killer and Lazarus.

Each runs its pass on its own thread every ``interval`` seconds while the server runs;
``wake`` runs one now. A failing pass is logged and tried again at the next tick, so a busy
database or one bad row never stops a service. ``stop`` ends every loop promptly: a pass
under way finishes (each is short: one read, a few short writes), nothing is cut midway.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from dockyard.domain.server.liveness import DEFAULT_RESURRECTIONS, DEFAULT_THRESHOLD, Lazarus, ZombieKiller
from dockyard.domain.server.service import ServerService
from dockyard.ports.metrics import NO_SERVICES_METRICS, ServicesMetrics

log = logging.getLogger("dockyard.server.services")

DEFAULT_SCHEDULER_INTERVAL = 30.0


def check_interval(threshold: float) -> float:
    """How often a heartbeat service looks: a fifth of its threshold, between 1 s and 60 s,
    so a dead run is noticed at most a fifth later than the threshold says."""
    return min(60.0, max(1.0, threshold / 5))


@dataclass(frozen=True)
class ServicesSettings:
    scheduler: bool = True
    scheduler_interval: float = DEFAULT_SCHEDULER_INTERVAL
    zombie_killer: bool = True
    zombie_threshold: float = DEFAULT_THRESHOLD
    lazarus: bool = True
    lazarus_threshold: float = DEFAULT_THRESHOLD
    lazarus_attempts: int = DEFAULT_RESURRECTIONS


@runtime_checkable
class PassReport(Protocol):
    """What a service's pass returns: its own summary, and what it did by kind."""

    def actions(self) -> Mapping[str, int]: ...


class ServiceLoop:
    def __init__(
        self,
        name: str,
        run_once: Callable[[], object],
        interval: float,
        metrics: ServicesMetrics = NO_SERVICES_METRICS,
    ) -> None:
        self.name = name
        self.interval = interval
        self._run_once = run_once
        self._metrics = metrics
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=f"service-{self.name}", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def run_pass(self) -> object:
        """One pass now, on the calling thread; returns what it did. Timed and counted
        (its metrics), failed or not."""
        began = time.perf_counter()
        try:
            result = self._run_once()
        except Exception:
            self._metrics.service_pass(self.name, seconds=time.perf_counter() - began, ok=False, actions={})
            raise
        actions = result.actions() if isinstance(result, PassReport) else {}
        self._metrics.service_pass(self.name, seconds=time.perf_counter() - began, ok=True, actions=actions)
        return result

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop after the pass under way; False if it did not end within ``timeout``."""
        self._stopping.set()
        self._wake.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_pass()
            except Exception:
                log.exception("The %s pass failed; trying again in %gs", self.name, self.interval)
            self.passes += 1
            self._wake.wait(self.interval)
            self._wake.clear()


class BackgroundServices:
    """The loops a server runs, built from its settings."""

    def __init__(
        self,
        service: ServerService,
        settings: ServicesSettings,
        metrics: ServicesMetrics = NO_SERVICES_METRICS,
    ) -> None:
        self.settings = settings
        self.loops: list[ServiceLoop] = []
        if settings.scheduler:
            self.loops.append(
                ServiceLoop("scheduler", service.scheduler.run_once, settings.scheduler_interval, metrics)
            )
        if settings.zombie_killer:
            killer = ZombieKiller(
                service.deps, service.flow_runs, service.task_runs, threshold=settings.zombie_threshold
            )
            self.loops.append(
                ServiceLoop(
                    "zombie killer", killer.run_once, check_interval(settings.zombie_threshold), metrics
                )
            )
        if settings.lazarus:
            lazarus = Lazarus(
                service.deps,
                service.flow_runs,
                threshold=settings.lazarus_threshold,
                attempts=settings.lazarus_attempts,
            )
            self.loops.append(
                ServiceLoop("lazarus", lazarus.run_once, check_interval(settings.lazarus_threshold), metrics)
            )

    def start(self) -> None:
        for loop in self.loops:
            loop.start()
        if self.loops:
            log.info("Services running: %s", describe(self.loops))

    def ask_to_stop(self) -> None:
        """Tell every loop to stop after its pass under way, without waiting."""
        for loop in self.loops:
            loop.stop(0)

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop every loop; False if one is still in its pass after ``timeout``."""
        self.ask_to_stop()
        stopped = True
        for loop in self.loops:
            if not loop.stop(timeout):
                log.warning("The %s did not stop within %gs", loop.name, timeout)
                stopped = False
        return stopped


def describe(loops: Sequence[ServiceLoop]) -> str:
    return ", ".join(f"{loop.name} (every {loop.interval:g}s)" for loop in loops)
