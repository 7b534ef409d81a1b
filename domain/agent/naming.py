"""Container names: the flow run's name as Docker allows it, unique by suffix.

The slug is Prefect 1's (``[a-zA-Z0-9_.-]``, at most 250 characters, no leading ``_-.``,
Unicode transliterated), falling back to the run id. Docker also wants two characters at
least, so a one-character slug gets the run id appended (Prefect's run then failed), and
name conflicts try a bounded series ``name``, ``name-1``, ``name-2``...
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from slugify import slugify

DOCKER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
MAX_SLUG = 250
NAME_ATTEMPTS = 100


def slug(text: str) -> str:
    return str(slugify(text, lowercase=False, max_length=MAX_SLUG, regex_pattern=r"[^a-zA-Z0-9_.-]+")).lstrip(
        "_-."
    )


def container_name(flow_run_name: str, flow_run_id: str) -> str:
    """A valid Docker container name for the run (always matches ``DOCKER_NAME``)."""
    name, ident = slug(flow_run_name or ""), slug(flow_run_id or "")
    if len(name) >= 2:
        return name
    if name:
        return _fit(f"{name}-{ident or 'run'}")
    if len(ident) >= 2:
        return ident
    return _fit(f"flow-run-{ident}") if ident else "flow-run"


def _fit(name: str) -> str:
    return name[:MAX_SLUG].rstrip("_-.")


def name_candidates(base: str, attempts: int = NAME_ATTEMPTS) -> Iterator[str]:
    """``base``, ``base-1``, ``base-2``... ``attempts`` names in all: what to try, in order,
    while Docker reports the name as taken."""
    yield base
    for index in range(1, attempts):
        yield f"{base}-{index}"


# Swarm names services as DNS labels: letters, digits and inner dashes, 63 at most. Room is
# kept for name_candidates' "-99".
SERVICE_NAME = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?")
MAX_SERVICE_NAME = 63 - len("-99")


def service_name(flow_run_name: str, flow_run_id: str) -> str:
    """A valid Swarm service name for the run (always matches ``SERVICE_NAME``)."""
    for text in (flow_run_name, flow_run_id):
        name = re.sub(r"[^a-zA-Z0-9]+", "-", slug(text or ""))[:MAX_SERVICE_NAME].strip("-")
        if name:
            return name
    return "flow-run"
