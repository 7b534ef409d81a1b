"""DockerContainerRuntime: the ContainerRuntime port over the Docker SDK's low-level API.

It receives a ready-made ``docker.DockerClient`` (``docker_client.build_docker_client``)
and translates SDK and HTTP errors into dockyard's errors where they happen: no answer is
``RuntimeUnavailable``, an error answer is ``RuntimeRequestFailed`` (or ``PullFailed``,
``ImageNotFound``, ``ContainerNameConflict``) with the daemon's own words.

One instance is shared by every thread of an agent. docker-py's client is a
``requests.Session`` whose adapters keep thread-safe connection pools; the factory sizes
them so that a log stream and a ``wait`` per running container do not churn connections.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

import docker
import docker.errors

from dockyard.adapters.docker_client import daemon_address
from dockyard.adapters.docker_errors import (
    UNREACHABLE,
    explanation,
    is_conflict,
    is_not_found,
    pull_stream_error,
    timed_out,
    translated,
    unavailable,
)
from dockyard.adapters.docker_inspect import (
    container_state,
    container_summary,
    image_info,
    json_ready,
    label_filters,
)
from dockyard.adapters.docker_negotiation import ApiVersionAgreement
from dockyard.adapters.docker_pull import PullStream
from dockyard.domain.agent.config import RegistryCredentials
from dockyard.domain.agent.runtime_state import ContainerState, DaemonInfo, ImageInfo, PullProgress
from dockyard.domain.errors import ContainerNameConflict, ImageNotFound, PullFailed, RuntimeRequestFailed

log = logging.getLogger(__name__)


class DockerContainerRuntime:
    def __init__(self, client: docker.DockerClient) -> None:
        self._client = client
        self._api: Any = client.api
        self._daemon = daemon_address(client)  # named in every "not reachable" error
        self._api_version = ApiVersionAgreement(client, self._daemon)

    # -- the daemon ---------------------------------------------------------------------

    def ping(self) -> DaemonInfo:
        """Who the daemon is. Negotiates the API version every time, so an agent started
        while the daemon was away (or across a daemon upgrade) settles on the right one."""
        with translated("Docker daemon error", self._daemon):
            version = self._api_version.agree()
            info = self._api.info()
        return DaemonInfo(
            id=str(info.get("ID", "")),
            version=str(version.get("Version", "")),
            api_version=str(version.get("ApiVersion", "")),
            os_type=str(info.get("OSType", "linux")),
        )

    # -- images and volumes ---------------------------------------------------------------

    def inspect_image(self, reference: str) -> ImageInfo | None:
        with translated(f"Cannot inspect image {reference}", self._daemon):
            self._api_version.ensure()
            try:
                return image_info(self._api.inspect_image(reference))
            except docker.errors.NotFound:
                return None

    def pull_image(
        self,
        reference: str,
        credentials: RegistryCredentials | None = None,
        progress: Callable[[PullProgress], None] | None = None,
    ) -> ImageInfo:
        """Pull, reading every line of the progress stream: the registry's errors arrive
        inside it (HTTP 200) as well as in the HTTP answer, and its layer events are summed
        up for ``progress``. Without ``credentials`` docker-py sends what the agent host's
        Docker config holds for the registry."""
        auth = None
        if credentials is not None:
            auth = {
                "username": credentials.username,
                "password": credentials.password,
                "serveraddress": credentials.registry,
            }
        summary = PullStream()
        try:
            self._api_version.ensure()
            for line in self._api.pull(reference, stream=True, decode=True, auth_config=auth):
                problem = pull_stream_error(line)
                if problem:
                    raise PullFailed(f"Pulling image {reference} failed: {problem}")
                if summary.feed(line) and progress is not None:
                    progress(summary.progress)
        except docker.errors.APIError as exc:
            raise PullFailed(f"Pulling image {reference} failed: {explanation(exc)}") from exc
        except UNREACHABLE as exc:
            raise unavailable(exc, self._daemon) from exc
        image = self.inspect_image(reference)
        if image is None:
            raise PullFailed(f"Pulling image {reference} ended without the image being present")
        if progress is not None:
            progress(summary.progress)
        return image

    def ensure_volume(self, name: str, labels: Mapping[str, str]) -> bool:
        """True if this call created the volume. Creating an existing local volume is a
        no-op on the daemon, so a concurrent creator is no error (both may say True)."""
        with translated(f"Cannot create volume {name}", self._daemon):
            self._api_version.ensure()
            try:
                self._api.inspect_volume(name)
                return False
            except docker.errors.NotFound:
                pass
            self._api.create_volume(name, driver="local", labels=dict(labels))
            return True

    # -- containers ----------------------------------------------------------------------

    def create_container(self, name: str, body: Mapping[str, Any]) -> str:
        """Create from the Engine API body exactly as given (``POST /containers/create``)."""
        try:
            self._api_version.ensure()
            answer = self._api.create_container_from_config(json_ready(body), name)
        except docker.errors.ImageNotFound as exc:
            raise ImageNotFound(f"Image {body.get('Image')} not found: {explanation(exc)}") from exc
        except docker.errors.APIError as exc:
            if is_conflict(exc):
                raise ContainerNameConflict(f"Container name {name} is taken: {explanation(exc)}") from exc
            raise RuntimeRequestFailed(f"Cannot create container {name}: {explanation(exc)}") from exc
        except UNREACHABLE as exc:
            raise unavailable(exc, self._daemon) from exc
        for warning in answer.get("Warnings") or ():
            log.warning("Docker, creating container %s: %s", name, warning)
        return str(answer["Id"])

    def connect_network(self, container_id: str, network: str) -> None:
        """Attach to ``network``; already being attached to it is no error."""
        with translated(f"Cannot connect container {container_id} to network {network}", self._daemon):
            self._api_version.ensure()
            try:
                self._api.connect_container_to_network(container_id, network)
            except docker.errors.APIError:
                if not self._attached(container_id, network):
                    raise

    def _attached(self, container_id: str, network: str) -> bool:
        with contextlib.suppress(docker.errors.APIError):
            document = self._api.inspect_container(container_id)
            attached = (document.get("NetworkSettings") or {}).get("Networks") or {}
            return any(
                name == network or str(endpoint.get("NetworkID", "")).startswith(network)
                for name, endpoint in attached.items()
            )
        return False

    def start_container(self, container_id: str) -> None:
        with translated(f"Cannot start container {container_id}", self._daemon):
            self._api_version.ensure()
            self._api.start(container_id)

    def inspect_container(self, container_id: str) -> ContainerState | None:
        with translated(f"Cannot inspect container {container_id}", self._daemon):
            self._api_version.ensure()
            try:
                return container_state(self._api.inspect_container(container_id))
            except docker.errors.NotFound:
                return None

    def list_containers(self, labels: Mapping[str, str | None]) -> list[ContainerState]:
        """Every container (any status) with all the labels. One request for the list;
        a supervisor lists often, and most containers are running or exited cleanly, so
        only those that ended otherwise are inspected (for their OOM flag, error and
        times). Containers removed while listing are left out."""
        filters = {"label": label_filters(labels)} if labels else None
        with translated("Cannot list containers", self._daemon):
            self._api_version.ensure()
            summaries = self._api.containers(all=True, filters=filters)
        found = []
        for summary in map(container_summary, summaries):
            clean_exit = summary.status == "exited" and summary.exit_code == 0
            state = self.inspect_container(summary.id) if summary.ended and not clean_exit else summary
            if state is not None:
                found.append(state)
        return found

    def wait_container(self, container_id: str, timeout: float | None = None) -> ContainerState | None:
        """Block until the container is not running (or ``timeout`` seconds pass), then
        return its state: ``ended`` tells which. None if the container does not exist.
        Holds one connection while waiting."""
        try:
            self._api_version.ensure()
            self._api.wait(container_id, timeout=timeout)
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as exc:
            raise RuntimeRequestFailed(
                f"Cannot wait for container {container_id}: {explanation(exc)}"
            ) from exc
        except UNREACHABLE as exc:
            if not timed_out(exc):
                raise unavailable(exc, self._daemon) from exc
        return self.inspect_container(container_id)

    def stop_container(self, container_id: str, grace_seconds: float) -> None:
        """SIGTERM (or the image's stop signal), SIGKILL after ``grace_seconds`` rounded up
        to whole seconds (the Engine API's unit). Missing or stopped is no error."""
        grace = max(0, math.ceil(grace_seconds))
        with translated(f"Cannot stop container {container_id}", self._daemon):
            self._api_version.ensure()
            try:
                self._api.stop(container_id, timeout=grace)
            except docker.errors.NotFound:
                return

    def remove_container(self, container_id: str) -> None:
        """Force-remove with its anonymous volumes. Missing, or already being removed by
        someone else, is no error."""
        with translated(f"Cannot remove container {container_id}", self._daemon):
            self._api_version.ensure()
            try:
                self._api.remove_container(container_id, force=True, v=True)
            except docker.errors.APIError as exc:
                if not (is_not_found(exc) or (is_conflict(exc) and "in progress" in explanation(exc))):
                    raise

    # -- logs ------------------------------------------------------------------------------

    def container_logs(self, container_id: str, tail: int | None = None) -> bytes:
        with translated(f"Cannot read the logs of container {container_id}", self._daemon):
            self._api_version.ensure()
            output = self._api.logs(
                container_id, stdout=True, stderr=True, tail="all" if tail is None else tail
            )
        return bytes(output)

    def follow_logs(
        self, container_id: str, *, timestamps: bool = False, since: datetime | None = None
    ) -> Iterator[bytes]:
        """Raw output chunks (stdout and stderr as written; a chunk may end inside a
        multi-byte character) from the start until the container ends. Ends quietly if the
        container is missing or removed, or the connection drops, mid-stream. Closing the
        iterator early releases the connection."""
        try:
            self._api_version.ensure()
            stream = self._api.logs(
                container_id,
                stdout=True,
                stderr=True,
                stream=True,
                follow=True,
                timestamps=timestamps,
                # Docker takes whole seconds here; callers drop what they saw already.
                since=int(since.timestamp()) if since is not None else None,
            )
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            raise RuntimeRequestFailed(
                f"Cannot follow the logs of {container_id}: {explanation(exc)}"
            ) from exc
        except UNREACHABLE as exc:
            raise unavailable(exc, self._daemon) from exc
        try:
            yield from stream
        except UNREACHABLE:
            return
        finally:
            with contextlib.suppress(*UNREACHABLE):
                stream.close()
