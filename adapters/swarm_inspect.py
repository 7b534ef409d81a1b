"""Reading a Swarm service and its task into the port's value (``ContainerState``).

A run's service has one replica and is never restarted, so it has at most one task, whose
state is the run's (Swarm's task states, in order: new, allocated, pending, assigned,
accepted, preparing, ready, starting, running, then complete, failed, rejected, shutdown,
remove or orphaned). A service scaled to no replica with no task left is one the agent
stopped (``stop_container``), kept as the run's record until its outcome is written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from dockyard.adapters.docker_inspect import parse_timestamp
from dockyard.domain.agent.runtime_state import ContainerState

WAITING = frozenset({"new", "allocated", "pending"})  # no node has it yet
PREPARING = frozenset({"assigned", "accepted", "preparing", "ready", "starting"})  # a node has it
# Swarm's own words for an exit code the task's ContainerStatus already gives.
_BARE_EXIT = re.compile(r"task: non-zero exit \(-?\d+\)")
STOPPED = "the service was stopped (scaled to no replica) before its task ended"


def replicas(service: Mapping[str, Any]) -> int:
    mode = (service.get("Spec") or {}).get("Mode") or {}
    return int((mode.get("Replicated") or {}).get("Replicas", 1))


def latest_task(tasks: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    return max(tasks, key=lambda task: str(task.get("CreatedAt", "")), default=None)


def service_state(service: Mapping[str, Any], tasks: Sequence[Mapping[str, Any]]) -> ContainerState:
    """A ``GET /services/{id}`` answer and its tasks as a ``ContainerState``: the service's
    id, name and labels, its task's status. ``started_at`` is when the service was created:
    its run's time counts from there, as a container's from its start."""
    spec = service.get("Spec") or {}
    state = ContainerState(
        id=str(service.get("ID", "")),
        name=str(spec.get("Name", "")),
        status="pending",
        labels=dict(spec.get("Labels") or {}),
        started_at=parse_timestamp(service.get("CreatedAt")),
    )
    task = latest_task(tasks)
    if task is None:
        return replace(state, status="exited", error=STOPPED) if replicas(service) == 0 else state
    status = task.get("Status") or {}
    name = str(status.get("State", ""))
    error = str(status.get("Err") or "")
    exit_code = (status.get("ContainerStatus") or {}).get("ExitCode")
    ended_at = parse_timestamp(status.get("Timestamp"))
    if name in WAITING:
        return replace(state, status="pending", error=error or str(status.get("Message") or ""))
    if name in PREPARING:
        return replace(state, status="starting")
    if name == "running":
        return replace(state, status="running")
    if name == "complete":
        return replace(state, status="exited", exit_code=int(exit_code or 0), finished_at=ended_at)
    if name == "failed":
        return replace(
            state,
            status="exited",
            exit_code=None if exit_code is None else int(exit_code),
            error="" if _BARE_EXIT.fullmatch(error) else error,
            finished_at=ended_at,
        )
    if name == "rejected":
        return replace(state, status="rejected", error=error or str(status.get("Message") or ""))
    # shutdown, remove, orphaned: it ended without completing
    ran = (status.get("ContainerStatus") or {}).get("ContainerID")
    code = int(exit_code) if ran and exit_code is not None else None
    if replicas(service) == 0:
        return replace(state, status="exited", exit_code=code, error=STOPPED, finished_at=ended_at)
    why = error or str(status.get("Message") or "") or "no reason given"
    return replace(
        state,
        status="dead",
        exit_code=code,
        error=f"Swarm reports the task {name}: {why}",
        finished_at=ended_at,
    )


def task_container(task: Mapping[str, Any]) -> tuple[str, str] | None:
    """(node id, container id) of a task that has a container."""
    container_id = ((task.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID")
    return (str(task.get("NodeID", "")), str(container_id)) if container_id else None
