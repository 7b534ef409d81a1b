"""ErrorCounting: counts the errors a driven adapter's calls raise, for the metrics.

Wrapped around the agent's backend and container runtime in the composition root, it
passes every call through unchanged and reports each failure by kind: ``unavailable``
(no answer) or ``error`` (an error answer). Errors that are part of the normal flow (a
run another agent claimed first, an image to pull before the create) are not failures.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from dockyard.domain.errors import (
    BackendError,
    BackendUnavailable,
    ContainerNameConflict,
    ImageNotFound,
    RuntimeRequestFailed,
    RuntimeUnavailable,
    SubmissionConflict,
)


class ErrorCounting:
    def __init__(
        self,
        target: object,
        count: Callable[[str], None],
        *,
        unavailable: type[Exception],
        error: type[Exception],
        expected: tuple[type[Exception], ...] = (),
    ) -> None:
        self._target = target
        self._count = count
        self._unavailable = unavailable
        self._error = error
        self._expected = expected

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute) or name.startswith("_"):
            return attribute

        @functools.wraps(attribute)
        def counted(*args: Any, **kwargs: Any) -> Any:
            try:
                return attribute(*args, **kwargs)
            except self._expected:
                raise
            except self._unavailable:
                self._count("unavailable")
                raise
            except self._error:
                self._count("error")
                raise

        return counted


def counting_backend_errors(backend: object, count: Callable[[str], None]) -> Any:
    return ErrorCounting(
        backend, count, unavailable=BackendUnavailable, error=BackendError, expected=(SubmissionConflict,)
    )


def counting_daemon_errors(runtime: object, count: Callable[[str], None]) -> Any:
    return ErrorCounting(
        runtime,
        count,
        unavailable=RuntimeUnavailable,
        error=RuntimeRequestFailed,
        expected=(ImageNotFound, ContainerNameConflict),
    )
