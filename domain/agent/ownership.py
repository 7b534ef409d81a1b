"""Which agent process a claim or a container belongs to.

An agent's name says which Submitted runs and containers are its kind; it cannot say which
process they belong to, and two processes must never both take a run for their own (both
would run it, or ship its output twice). So every agent process has an instance id of its
own, new at every start, and holds a lease on its name and Docker daemon on its host: a lock
that ends with the process, kill -9 included. It stamps both ids on the Submitted states it
writes and on the containers it creates.

From those stamps a process tells three standings apart:

- its own (same instance);
- a dead predecessor's (same lease, another instance): this process holds that lease now, so
  every earlier holder has ended. It takes them over at once (restart recovery);
- another process's (another lease, or none: made before instance ids): a same-named agent
  on another host, alive or not. It is left alone while its owner may be alive. Only when it
  leaves one of its containers waiting for an action any live owner takes within seconds
  (record an ended container, start or remove a created one, stop a cancelled one) for
  ``grace`` seconds is its owner taken for dead and the container taken over. Its claims
  without a container stay its own: they wait for it, or for the backend's Lazarus service.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from dockyard.domain.agent.labels import INSTANCE, LEASE
from dockyard.domain.agent.model import RunStatus
from dockyard.domain.agent.runtime_state import ContainerState, DaemonInfo

CANCEL_STATES = frozenset({"Cancelling", "Cancelled"})


@dataclass(frozen=True)
class Owner:
    """One agent process, as its claims and containers name it."""

    agent: str  # the agent's name
    daemon: str  # the Docker daemon's id
    instance: str  # this process: new at every start
    lease: str  # the host lease this process holds for (agent, daemon): the same across restarts

    def claim_context(self) -> dict[str, str]:
        """What the Submitted states this process writes carry (under ``dockyard``)."""
        return {"agent": self.agent, "daemon": self.daemon, "instance": self.instance, "lease": self.lease}


@dataclass(frozen=True)
class AgentIdentity:
    """Who a connected agent process is: its backend id, its daemon, and itself."""

    agent_id: str
    daemon: DaemonInfo
    owner: Owner  # this process, as its claims and containers name it


class Standing(Enum):
    MINE = "mine"  # this process's
    INHERITED = "inherited"  # a dead predecessor's on this host: this process carries on with it
    FOREIGN = "foreign"  # another process's, which may be alive


def standing(instance: object, lease: object, me: Owner) -> Standing:
    if instance == me.instance:
        return Standing.MINE
    if lease == me.lease:
        return Standing.INHERITED
    return Standing.FOREIGN


def claim_standing(context: Mapping[str, Any], me: Owner) -> Standing | None:
    """The standing of a Submitted state's claim (its ``context["dockyard"]``); None when it
    is another agent's or another daemon's altogether."""
    if context.get("agent") != me.agent or context.get("daemon") != me.daemon:
        return None
    return standing(context.get("instance"), context.get("lease"), me)


def container_standing(labels: Mapping[str, str], me: Owner) -> Standing:
    """The standing of a container carrying this agent's name on this agent's daemon."""
    return standing(labels.get(INSTANCE), labels.get(LEASE), me)


def awaits_its_owner(container: ContainerState, status: RunStatus | None, status_known: bool) -> bool | None:
    """Whether the container waits for an action any live owner takes within seconds of
    seeing the need; None when that cannot be told now (its run's state was not asked)."""
    if container.ended or container.status == "created":
        return True
    if not status_known:
        return None
    return status is not None and status.state in CANCEL_STATES


class Takeover:
    """Other processes' containers, and since when each has waited for its owner. One that
    waited ``grace`` seconds is taken over, and stays taken over until it is gone."""

    def __init__(self, grace: float) -> None:
        self._grace = grace
        self._waiting_since: dict[str, float] = {}
        self._taken: set[str] = set()

    def observe(self, container_id: str, waiting: bool | None, now: float) -> None:
        if waiting is None:
            return
        if waiting:
            self._waiting_since.setdefault(container_id, now)
        else:
            self._waiting_since.pop(container_id, None)

    def waited(self, container_id: str, now: float) -> float:
        since = self._waiting_since.get(container_id)
        return 0.0 if since is None else now - since

    def taken(self, container_id: str) -> bool:
        return container_id in self._taken

    def take_if_due(self, container_id: str, now: float) -> bool:
        """Take the container over if it has waited long enough; True if this did."""
        if container_id in self._waiting_since and self.waited(container_id, now) >= self._grace:
            self._taken.add(container_id)
            return True
        return False

    def forget_all_but(self, container_ids: set[str]) -> None:
        """Drop what is known of containers that are gone."""
        self._waiting_since = {cid: t for cid, t in self._waiting_since.items() if cid in container_ids}
        self._taken &= container_ids
