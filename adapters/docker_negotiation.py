"""The API version a runtime adapter speaks, agreed with the daemon when it can answer.

An agent may start while its daemon is away, so the version cannot be fixed when the client
is built: it is agreed at every ping (the daemon may have been upgraded meanwhile) and,
failing that, before the first request that needs it.
"""

from __future__ import annotations

import threading
from typing import Any

import docker

from dockyard.adapters.docker_client import negotiate_api_version
from dockyard.adapters.docker_errors import translated


class ApiVersionAgreement:
    def __init__(self, client: docker.DockerClient, daemon: str) -> None:
        self._client = client
        self._daemon = daemon  # named in the "not reachable" error
        self._agreed = False
        self._lock = threading.Lock()

    def agree(self) -> dict[str, Any]:
        """Agree on the version now; return the daemon's version document. Raises what
        docker-py raises (the caller translates)."""
        with self._lock:
            version = negotiate_api_version(self._client)
            self._agreed = True
        return version

    def ensure(self) -> None:
        """Agree on the version unless that is done; raises dockyard's runtime errors."""
        if not self._agreed:
            with translated("Docker daemon error", self._daemon):
                self.agree()
