"""SwarmServiceRuntime: the ServiceRuntime port over a Swarm manager's Engine API.

Each flow run is a service with one replica that Swarm never restarts; supervision sees it
through its task (``swarm_inspect``). What the port calls a container is the run's service:

- stopping it scales it to no replica, so Swarm stops its task (SIGTERM, the spec's
  ``StopGracePeriod``, SIGKILL) and removes the task's container, while the service stays,
  ended, until the run's outcome is written;
- removing it removes the service, and Swarm the containers of its tasks on every node;
- its output is ``service logs``, which Swarm keeps following after the task has ended, so
  a follow is closed here once the task is over: when a listing or an inspection shows it
  ended, or else when a thread per followed service that checks now and then finds it so.

Errors translate as in ``DockerContainerRuntime``: no answer is ``RuntimeUnavailable``, an
error answer ``RuntimeRequestFailed`` with the daemon's words.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import docker
import docker.auth
import docker.errors
from docker.types import CancellableStream, ServiceMode

from dockyard.adapters.docker_client import daemon_address
from dockyard.adapters.docker_errors import UNREACHABLE, explanation, is_conflict, translated, unavailable
from dockyard.adapters.docker_inspect import json_ready, label_filters
from dockyard.adapters.docker_negotiation import ApiVersionAgreement
from dockyard.adapters.swarm_inspect import latest_task, replicas, service_state, task_container
from dockyard.domain.agent.config import RegistryCredentials
from dockyard.domain.agent.runtime_state import ContainerState, DaemonInfo
from dockyard.domain.errors import (
    ConfigurationError,
    ContainerNameConflict,
    PullFailed,
    RuntimeRequestFailed,
)

log = logging.getLogger(__name__)

# Engine API 1.41 (Engine 20.10) has what service plans use: Limits.Pids, CapabilityAdd.
MINIMUM_API = (1, 41)
# How often a followed service is checked for its task's end. Listing or inspecting a
# service that has ended closes its follows at once: a supervisor that lists every second
# never waits for this.
FOLLOW_CHECK_SECONDS = 5.0
# A stream that will not close (docker-py digs for its socket), or a daemon that does not answer.
CLOSING_FAILED: tuple[type[BaseException], ...] = (AttributeError, docker.errors.APIError, *UNREACHABLE)


class SwarmServiceRuntime:
    def __init__(self, client: docker.DockerClient, *, follow_check: float = FOLLOW_CHECK_SECONDS) -> None:
        self._client = client
        self._api: Any = client.api
        self._daemon = daemon_address(client)  # named in every "not reachable" error
        self._follow_check = follow_check
        self._follows: dict[str, set[CancellableStream[bytes]]] = {}  # open log follows, by service
        self._follows_lock = threading.Lock()
        self._node_id = ""  # this manager's own node: its tasks' containers can be inspected
        self._api_version = ApiVersionAgreement(client, self._daemon)

    # -- the Swarm -------------------------------------------------------------------------

    def ping(self) -> DaemonInfo:
        """The Swarm this daemon manages. ``ConfigurationError`` when it manages none."""
        with translated("Docker daemon error", self._daemon):
            version = self._api_version.agree()
            info = self._api.info()
        swarm = info.get("Swarm") or {}
        _check_manager(swarm, str(version.get("ApiVersion", "")))
        self._node_id = str(swarm.get("NodeID", ""))
        return DaemonInfo(
            id=str((swarm.get("Cluster") or {}).get("ID", "")),
            version=str(version.get("Version", "")),
            api_version=str(version.get("ApiVersion", "")),
            os_type=str(info.get("OSType", "linux")),
        )

    def network_scope(self, name: str) -> str | None:
        with translated(f"Cannot inspect network {name}", self._daemon):
            self._api_version.ensure()
            try:
                return str(self._api.inspect_network(name).get("Scope", ""))
            except docker.errors.NotFound:
                return None

    def resolve_image(self, reference: str, credentials: RegistryCredentials | None = None) -> str:
        """Ask the registry, through the daemon (``GET /distribution/{name}/json``), which
        digest the reference names now."""
        try:
            self._api_version.ensure()
            answer = self._api.inspect_distribution(reference, auth_config=_auth_config(credentials))
        except docker.errors.APIError as exc:
            raise PullFailed(f"Cannot resolve image {reference} at its registry: {explanation(exc)}") from exc
        except UNREACHABLE as exc:
            raise unavailable(exc, self._daemon) from exc
        digest = str((answer.get("Descriptor") or {}).get("digest", ""))
        if not digest:
            raise PullFailed(f"The registry of image {reference} gave no digest for it")
        return f"{reference.split('@', 1)[0]}@{digest}"

    # -- services --------------------------------------------------------------------------

    def create_service(
        self, name: str, spec: Mapping[str, Any], credentials: RegistryCredentials | None = None
    ) -> str:
        """``POST /services/create`` with the spec as given. The registry login travels in
        ``X-Registry-Auth``: Swarm hands it to the node that pulls the image."""
        body = {**json_ready(spec), "Name": name}
        image = str(body["TaskTemplate"]["ContainerSpec"]["Image"])
        try:
            self._api_version.ensure()
            headers = self._registry_auth(image, credentials)
            response = self._api._post_json(self._api._url("/services/create"), data=body, headers=headers)
            answer = self._api._result(response, json=True)
        except docker.errors.APIError as exc:
            if is_conflict(exc):
                raise ContainerNameConflict(f"Service name {name} is taken: {explanation(exc)}") from exc
            raise RuntimeRequestFailed(f"Cannot create service {name}: {explanation(exc)}") from exc
        except UNREACHABLE as exc:
            raise unavailable(exc, self._daemon) from exc
        for warning in answer.get("Warnings") or ():
            log.info("Docker, creating service %s: %s", name, warning)
        return str(answer["ID"])

    def _registry_auth(self, image: str, credentials: RegistryCredentials | None) -> dict[str, str]:
        header: bytes | None
        if credentials is not None:
            header = docker.auth.encode_header(_auth_config(credentials))
        else:  # what the agent host's Docker config holds for the image's registry, if anything
            registry, _ = docker.auth.resolve_repository_name(image)
            header = docker.auth.get_config_header(self._api, registry)
        return {"X-Registry-Auth": header.decode()} if header else {}

    def inspect_container(self, container_id: str) -> ContainerState | None:
        """The service's state, by its task; None once the service is gone."""
        with translated(f"Cannot inspect service {container_id}", self._daemon):
            self._api_version.ensure()
            try:
                service = self._api.inspect_service(container_id)
                tasks = self._api.tasks(filters={"service": container_id})
            except docker.errors.NotFound:
                return None
        return self._seen(self._with_oom(service_state(service, tasks), tasks))

    def list_containers(self, labels: Mapping[str, str | None]) -> list[ContainerState]:
        """Every service with all the labels, each with its task's state: two requests
        (the services, then their tasks), whatever their number."""
        filters = {"label": label_filters(labels)} if labels else None
        with translated("Cannot list services", self._daemon):
            self._api_version.ensure()
            services = self._api.services(filters=filters)
            tasks = self._tasks_of([str(service["ID"]) for service in services])
        found = []
        for service in services:
            own = tasks.get(str(service["ID"]))
            if own is not None:  # None: removed while listing
                found.append(self._seen(self._with_oom(service_state(service, own), own)))
        return found

    def _tasks_of(self, service_ids: list[str]) -> dict[str, list[Mapping[str, Any]]]:
        if not service_ids:
            return {}
        try:
            tasks = self._api.tasks(filters={"service": service_ids})
        except docker.errors.NotFound:  # one of them was removed meanwhile: ask one by one
            found: dict[str, list[Mapping[str, Any]]] = {}
            for service_id in service_ids:
                try:
                    found[service_id] = self._api.tasks(filters={"service": service_id})
                except docker.errors.NotFound:
                    continue
            return found
        by_service: dict[str, list[Mapping[str, Any]]] = {service_id: [] for service_id in service_ids}
        for task in tasks:
            by_service.setdefault(str(task.get("ServiceID", "")), []).append(task)
        return by_service

    def _seen(self, state: ContainerState) -> ContainerState:
        """An ended service's output is complete: its follows need not wait any longer."""
        if state.ended:
            self._close_follows(state.id)
        return state

    def _close_follows(self, service_id: str) -> None:
        with self._follows_lock:
            streams = self._follows.pop(service_id, set())
        for stream in streams:
            try:
                stream.close()
            except CLOSING_FAILED:
                log.debug("closing a log stream of service %s failed", service_id, exc_info=True)

    def _with_oom(self, state: ContainerState, tasks: list[Mapping[str, Any]]) -> ContainerState:
        """Swarm reports an OOM kill only as exit code 137. Where the task's container ran
        on this manager's own daemon, the container tells whether the kernel's OOM killer
        ended it; elsewhere it cannot be asked from here."""
        if not state.ended or not state.exit_code:
            return state
        task = latest_task(tasks)
        where = task_container(task) if task is not None else None
        if where is None or not self._node_id or where[0] != self._node_id:
            return state
        try:
            document = self._api.inspect_container(where[1])
        except CLOSING_FAILED:
            return state
        oom = bool((document.get("State") or {}).get("OOMKilled", False))
        return replace(state, oom_killed=oom)

    def start_container(self, container_id: str) -> None:
        """Nothing to do: Swarm starts a service's task when it creates the service."""

    def stop_container(self, container_id: str, grace_seconds: float) -> None:
        """Scale the service to no replica: Swarm stops its task (SIGTERM, then SIGKILL
        after the spec's ``StopGracePeriod``, which the plan set to the agent's grace) and
        removes its container. The service stays as the record of the run. A missing or
        stopped service is no error."""
        with translated(f"Cannot stop service {container_id}", self._daemon):
            self._api_version.ensure()
            for attempt in range(3):
                try:
                    service = self._api.inspect_service(container_id)
                except docker.errors.NotFound:
                    return
                if replicas(service) == 0:
                    return
                try:
                    self._api.update_service(
                        container_id,
                        version=service["Version"]["Index"],
                        mode=ServiceMode("replicated", replicas=0),
                        fetch_current_spec=True,
                    )
                    return
                except docker.errors.NotFound:
                    return
                except docker.errors.APIError as exc:
                    # "update out of sequence": changed since it was read; read it again
                    if attempt == 2 or "out of sequence" not in explanation(exc):
                        raise

    def remove_container(self, container_id: str) -> None:
        """Remove the service; Swarm removes its tasks' containers on their nodes. A missing
        service is no error."""
        with translated(f"Cannot remove service {container_id}", self._daemon):
            self._api_version.ensure()
            try:
                self._api.remove_service(container_id)
            except docker.errors.NotFound:
                return

    # -- logs --------------------------------------------------------------------------------

    def container_logs(self, container_id: str, tail: int | None = None) -> bytes:
        with translated(f"Cannot read the logs of service {container_id}", self._daemon):
            self._api_version.ensure()
            try:
                chunks = self._api.service_logs(
                    container_id, stdout=True, stderr=True, tail="all" if tail is None else tail, is_tty=False
                )
                return b"".join(chunks)
            except docker.errors.NotFound:
                return b""

    def follow_logs(
        self, container_id: str, *, timestamps: bool = False, since: datetime | None = None
    ) -> Iterator[bytes]:
        """The service's output as it comes, until its task has ended (then what it wrote),
        from the start or from the second ``since`` falls in. Ends quietly when the service
        is removed, or the connection drops, mid-stream."""
        state = self.inspect_container(container_id)
        if state is None:
            return
        follow = not state.ended
        params = {
            "stdout": True,
            "stderr": True,
            "follow": follow,
            "timestamps": timestamps,
            # Docker takes whole seconds here; callers drop what they saw already.
            "since": int(since.timestamp()) if since is not None else 0,
            "tail": "all",
        }
        try:
            # docker-py's service_logs hides the response, which closing the stream needs.
            response = self._api._get(
                self._api._url("/services/{0}/logs", container_id), params=params, stream=True
            )
            self._api._raise_for_status(response)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            raise RuntimeRequestFailed(
                f"Cannot follow the logs of service {container_id}: {explanation(exc)}"
            ) from exc
        except UNREACHABLE as exc:
            raise unavailable(exc, self._daemon) from exc
        stream = CancellableStream(self._api._multiplexed_response_stream_helper(response), response)
        done = threading.Event()
        if follow:
            with self._follows_lock:
                self._follows.setdefault(container_id, set()).add(stream)
            threading.Thread(
                target=self._close_when_ended,
                args=(container_id, done),
                name=f"follow-end-{container_id[:12]}",
                daemon=True,
            ).start()
        try:
            yield from stream
        except UNREACHABLE:
            return
        finally:
            done.set()
            with self._follows_lock:
                streams = self._follows.get(container_id, set())
                streams.discard(stream)
                if not streams:
                    self._follows.pop(container_id, None)
            try:
                stream.close()
            except CLOSING_FAILED:
                log.debug("closing the log stream of service %s failed", container_id, exc_info=True)

    def _close_when_ended(self, service_id: str, done: threading.Event) -> None:
        """Swarm keeps a service's log stream open after its task has ended (and even after
        the service is removed): close it once the task is over, should no listing of the
        service have closed it first."""
        while not done.wait(self._follow_check):
            try:
                state = self.inspect_container(service_id)  # closes the follows of an ended one
            except Exception:  # the daemon is away: the stream breaks off by itself, or not yet
                continue
            if state is None:
                self._close_follows(service_id)
                return


def _auth_config(credentials: RegistryCredentials | None) -> dict[str, str] | None:
    if credentials is None:
        return None
    return {
        "username": credentials.username,
        "password": credentials.password,
        "serveraddress": credentials.registry,
    }


def _check_manager(swarm: Mapping[str, Any], api_version: str) -> None:
    """Swarm mode needs a manager of an active Swarm, speaking API 1.41 or later."""
    state = str(swarm.get("LocalNodeState") or "inactive")
    if state != "active":
        detail = f": {swarm['Error']}" if swarm.get("Error") else ""
        raise ConfigurationError(
            f"--swarm runs flow runs as Docker Swarm services, but this Docker daemon is not in an active "
            f"Swarm (its Swarm state is {state}{detail}): run `docker swarm init` on it, or point "
            "--base-url at a Swarm manager"
        )
    if not swarm.get("ControlAvailable"):
        raise ConfigurationError(
            "--swarm needs a Swarm manager, and this Docker daemon is a worker node: services can only be "
            "created and watched on a manager (point --base-url at one, or `docker node promote` this node)"
        )
    version = tuple(int(part) for part in api_version.split(".") if part.isdigit())
    if version < MINIMUM_API:
        raise ConfigurationError(
            f"--swarm needs Docker Engine API {'.'.join(map(str, MINIMUM_API))} or later (Docker 20.10); "
            f"this daemon speaks {api_version}"
        )
