"""DockerContainerRuntime: the ContainerRuntime port over the Docker SDK.

It receives a ready-made ``docker.DockerClient`` (the composition root builds it) and
translates SDK and HTTP errors into dockyard's errors where they happen.
"""

from __future__ import annotations

from typing import Any

import docker
import docker.errors
import requests

from dockyard.domain.errors import RuntimeRequestFailed, RuntimeUnavailable
from dockyard.ports.container_runtime import DaemonInfo


class DockerContainerRuntime:
    def __init__(self, client: docker.DockerClient) -> None:
        self._client = client
        self._api: Any = client.api

    def ping(self) -> DaemonInfo:
        try:
            self._api.ping()
            info = self._api.info()
            version = self._api.version()
        except (requests.exceptions.ConnectionError, docker.errors.DockerException) as exc:
            if isinstance(exc, docker.errors.APIError):
                raise RuntimeRequestFailed(f"Docker daemon error: {exc.explanation or exc}") from exc
            raise RuntimeUnavailable(f"Docker daemon not reachable: {exc}") from exc
        return DaemonInfo(
            id=str(info.get("ID", "")),
            version=str(version.get("Version", "")),
            api_version=str(version.get("ApiVersion", "")),
            os_type=str(info.get("OSType", "linux")),
        )
