"""Why a connection failed, in words a user can act on.

requests and urllib3 wrap the operating system's error three or four times over
(``ConnectionError`` around ``MaxRetryError`` around ``NewConnectionError`` around
``ConnectionRefusedError``), and their texts repeat the host and port inside object reprs.
The reason a user needs is at the bottom: the OS error. Callers put it beside the address
they were trying (the API's URL, the Docker daemon's socket), so the message says both what
and where, in full.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

_OS_MODULES = frozenset({"builtins", "socket", "ssl"})
_REASONS: tuple[tuple[type[OSError], str], ...] = (
    (ConnectionRefusedError, "connection refused"),
    (ConnectionResetError, "connection reset"),
    (FileNotFoundError, "no such socket file"),
    (PermissionError, "permission denied"),
    (TimeoutError, "no answer in time"),
)


def connection_problem(exc: BaseException) -> str:
    """The OS's reason under ``exc`` (``connection refused``, ``no such socket file``,
    ``host name not resolved (...)``...), else ``exc``'s own text, never shortened."""
    os_error = _deepest_os_error(exc)
    if os_error is None:
        return str(exc) or type(exc).__name__
    if isinstance(os_error, socket.gaierror):
        return f"host name not resolved ({os_error.strerror or os_error})"
    for kind, reason in _REASONS:
        if isinstance(os_error, kind):
            return reason
    return str(os_error.strerror or os_error)


def _deepest_os_error(exc: BaseException) -> OSError | None:
    """The innermost error the OS (or the socket and ssl modules) raised; requests' own
    exceptions are ``OSError`` subclasses too, but only wrappers."""
    found = None
    for error in _chain(exc):
        if isinstance(error, OSError) and type(error).__module__ in _OS_MODULES:
            found = error
    return found


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it wraps: causes, contexts, urllib3's ``reason`` and
    exceptions passed as arguments (requests keeps urllib3's error in ``args[0]``)."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        error = pending.pop(0)
        if id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        wrapped = [error.__cause__, error.__context__, getattr(error, "reason", None), *error.args]
        pending.extend(item for item in wrapped if isinstance(item, BaseException))
