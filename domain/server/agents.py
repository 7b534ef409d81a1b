"""Agents: registration, the work queue, and the logs everyone writes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.domain.server.context import Caller, Dependencies
from dockyard.domain.server.filters import Row, Select, all_of, eq
from dockyard.domain.server.lookup import by_id
from dockyard.domain.server.queue import queue_query
from dockyard.domain.server.tenancy import Tenancy
from dockyard.domain.server.timestamps import normalise

LOG_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})


@dataclass(frozen=True)
class NewLog:
    flow_run_id: str
    message: str | None = None
    task_run_id: str | None = None
    timestamp: str | None = None
    name: str | None = None
    level: str | None = None
    info: Any = None


class Agents:
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps
        self._tenancy = Tenancy(deps)

    def register_agent(
        self,
        *,
        agent_type: str,
        name: str | None,
        labels: Sequence[str],
        tenant_id: str | None,
        agent_config_id: str | None,
        caller: Caller,
    ) -> str:
        """The id of the agent with this identity, registered now if it is new."""
        with self._deps.store.unit_of_work(write=True) as session:
            tenant_id = self._tenancy.tenant_or_default(session, tenant_id)
            identity: Row = {
                "tenant_id": tenant_id,
                "name": name or "agent",
                "type": agent_type,
                "core_version": caller.core_version,
                "labels": sorted(set(labels)),
                "agent_config_id": agent_config_id,
            }
            # NULLs never compare equal in a filter: match the set columns there, all here.
            where = all_of(*(eq(column, value) for column, value in identity.items() if value is not None))
            now = self._deps.now()
            for agent in session.select(Select("agent", where=where)):
                if all(agent.get(column) == value for column, value in identity.items()):
                    session.update("agent", eq("id", agent["id"]), {"last_queried": now, "updated": now})
                    return str(agent["id"])
            agent_id = self._deps.new_id()
            session.insert(
                "agent", {**identity, "id": agent_id, "last_queried": now, "created": now, "updated": now}
            )
            return agent_id

    def runs_in_queue(
        self, tenant_id: str, before: str | None, labels: Sequence[str], caller: Caller
    ) -> list[str]:
        """Ids of runs due by ``before`` (default now) that an agent with ``labels`` may
        take; the calling agent's ``last_queried`` is bumped."""
        due_by = normalise(before) if before else self._deps.now()
        with self._deps.store.unit_of_work(write=False) as session:
            self._tenancy.tenant_or_default(session, tenant_id)
            ids = [str(run["id"]) for run in session.select(queue_query(tenant_id, due_by, labels))]
        if caller.agent_id:
            with self._deps.store.unit_of_work(write=True) as session:
                now = self._deps.now()
                session.update("agent", eq("id", caller.agent_id), {"last_queried": now, "updated": now})
        return ids

    def write_logs(self, logs: Sequence[NewLog]) -> int:
        """Store the logs of known flow runs (others are dropped); return how many."""
        with self._deps.store.unit_of_work(write=True) as session:
            now, runs, written = self._deps.now(), {}, 0
            for log in logs:
                if log.flow_run_id not in runs:
                    runs[log.flow_run_id] = by_id(session, "flow_run", log.flow_run_id)
                run = runs[log.flow_run_id]
                if run is None:
                    continue
                session.insert("log", log_row(log, run, self._deps.new_id(), now))
                written += 1
            return written


def log_row(log: NewLog, run: Mapping[str, Any], log_id: str, now: str) -> Row:
    level = (log.level or "INFO").upper()
    return {
        "id": log_id,
        "tenant_id": run["tenant_id"],
        "flow_run_id": log.flow_run_id,
        "task_run_id": log.task_run_id,
        "timestamp": normalise(log.timestamp) if log.timestamp else now,
        "name": log.name,
        "level": level if level in LOG_LEVELS else "INFO",
        "message": log.message,
        "info": log.info,
        "created": now,
    }
