"""What a pull says in the agent's log: a line every ``PROGRESS_SECONDS`` while it lasts
(layers done, bytes, seconds), and one summing it up at the end. Never a line per chunk:
the runtime reports progress as often as the registry sends it."""

from __future__ import annotations

import logging

from dockyard.domain.agent.runtime_state import PullProgress
from dockyard.domain.log_fields import about_run
from dockyard.ports.clock import Clock

log = logging.getLogger("dockyard.agent")

PROGRESS_SECONDS = 10.0


def size(count: int) -> str:
    """Bytes for people: ``512 B``, ``1.5 kB``, ``23.4 MB`` (powers of 1000, as Docker)."""
    amount = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if amount < 1000 or unit == "GB":
            return f"{count} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    raise AssertionError("unreachable")


def describe(progress: PullProgress) -> str:
    """``3 of 7 layers, 45.2 MB of 120.0 MB``."""
    layers = f"{progress.layers_done} of {progress.layers} layer{'s' * (progress.layers != 1)}"
    of_total = f" of {size(progress.total_bytes)}" if progress.total_bytes else ""
    return f"{layers}, {size(progress.downloaded_bytes)}{of_total}"


def summary(progress: PullProgress) -> str:
    """``7 layers (4 already present), 120.0 MB downloaded``."""
    present = f" ({progress.layers_present} already present)" if progress.layers_present else ""
    return (
        f"{progress.layers} layer{'s' * (progress.layers != 1)}{present}, "
        f"{size(progress.downloaded_bytes)} downloaded"
    )


class PullReporter:
    """Follows one pull for one run; ``update`` is the runtime's progress callback."""

    def __init__(
        self, image: str, run_id: str, run_name: str, clock: Clock, *, every: float = PROGRESS_SECONDS
    ) -> None:
        self.image = image
        self._fields = about_run(run_id, run_name)
        self._clock = clock
        self._every = every
        self.started = clock.monotonic()
        self._last_line = self.started
        self.progress = PullProgress()

    @property
    def seconds(self) -> float:
        return self._clock.monotonic() - self.started

    def update(self, progress: PullProgress) -> None:
        self.progress = progress
        now = self._clock.monotonic()
        if now - self._last_line >= self._every:
            self._last_line = now
            log.info(
                "Pulling image %s: %s, %.0fs so far",
                self.image,
                describe(progress),
                now - self.started,
                extra=self._fields,
            )

    def finished(self) -> str:
        """Log the pull's summary; return it with its duration, for the run's logs."""
        seconds = self.seconds
        log.info(
            "Pulled image %s in %.1fs: %s", self.image, seconds, summary(self.progress), extra=self._fields
        )
        return f"Pulled image {self.image} in {seconds:.1f}s: {summary(self.progress)}"
