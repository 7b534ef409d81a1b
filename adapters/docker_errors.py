"""How Docker SDK and HTTP failures become dockyard errors.

Two kinds matter to callers: the daemon could not be reached or did not answer
(``RuntimeUnavailable``: retry later, the run is not at fault; the message names the
daemon's address and the reason) and the daemon answered with an error
(``RuntimeRequestFailed``, carrying the daemon's own explanation).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import docker.errors
import requests
import urllib3.exceptions

from dockyard.adapters.connection_errors import connection_problem
from dockyard.domain.errors import RuntimeRequestFailed, RuntimeUnavailable

# Everything that means "no answer": refused or reset connections, TLS handshakes, socket
# timeouts, and docker-py's own wrappers around them.
UNREACHABLE: tuple[type[BaseException], ...] = (
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,
    OSError,
    docker.errors.DockerException,
)


@contextmanager
def translated(action: str, daemon: str) -> Iterator[None]:
    """Run a call to the daemon at ``daemon``, raising
    ``RuntimeRequestFailed("<action>: <daemon's words>")`` for an error answer and
    ``RuntimeUnavailable`` when there is no answer."""
    try:
        yield
    except docker.errors.APIError as exc:
        if _speaks_only_tls(exc):
            raise RuntimeUnavailable(
                f"Docker daemon at {daemon} not reachable: it only accepts TLS connections "
                f"({explanation(exc)}); give its CA, client certificate and key"
            ) from exc
        raise RuntimeRequestFailed(f"{action}: {explanation(exc)}") from exc
    except UNREACHABLE as exc:
        raise unavailable(exc, daemon) from exc


def explanation(exc: docker.errors.APIError) -> str:
    """The daemon's message (its JSON ``message``), else the HTTP status line."""
    return str(exc.explanation or exc).strip()


def unavailable(exc: BaseException, daemon: str) -> RuntimeUnavailable:
    """``Docker daemon at <address> not reachable: <why>``, the reason in full."""
    text = str(exc)
    where = f"Docker daemon at {daemon} not reachable"
    if isinstance(exc, requests.exceptions.SSLError) or "SSL" in text or "TLS" in text:
        return RuntimeUnavailable(f"{where}: the TLS connection failed ({text})")
    if isinstance(exc, requests.exceptions.Timeout):
        return RuntimeUnavailable(f"{where}: no answer in time ({text})")
    return RuntimeUnavailable(f"{where}: {connection_problem(exc)}")


def _speaks_only_tls(exc: docker.errors.APIError) -> bool:
    # Go's TLS listener answers a plain HTTP request with this 400.
    return exc.status_code == 400 and "HTTP request to an HTTPS server" in explanation(exc)


def is_not_found(exc: docker.errors.APIError) -> bool:
    return exc.status_code == 404


def is_conflict(exc: docker.errors.APIError) -> bool:
    return exc.status_code == 409


def pull_stream_error(line: Any) -> str | None:
    """The error a line of a pull's progress stream reports (``errorDetail``/``error``)."""
    if not isinstance(line, Mapping):
        return None
    detail = line.get("errorDetail")
    if isinstance(detail, Mapping) and detail.get("message"):
        return str(detail["message"])
    error = line.get("error")
    return str(error) if error else None


def timed_out(exc: BaseException) -> bool:
    # requests reports a read timeout as ReadTimeout before the answer's headers and as a
    # ConnectionError around urllib3's ReadTimeoutError after them (the daemon sends the
    # headers of a wait at once).
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return True
    cause = exc.args[0] if exc.args else None
    return isinstance(exc, requests.exceptions.ConnectionError) and isinstance(
        cause, urllib3.exceptions.ReadTimeoutError
    )
