"""Flow groups: the settings every version of a flow shares, and that new runs inherit
(labels, run config and default parameters: see resolution.py).

Each setter answers whether the group (or the flow) exists, as Prefect Server's
``success`` does; a group is deleted with all its flows and their runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dockyard.domain.server.context import Dependencies
from dockyard.domain.server.errors import InvalidInput
from dockyard.domain.server.filters import eq
from dockyard.domain.server.lookup import by_id
from dockyard.domain.server.removal import delete_flows

HEARTBEAT_ENABLED = "heartbeat_enabled"
LAZARUS_ENABLED = "lazarus_enabled"


class FlowGroups:
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    def _set(self, flow_group_id: str, changes: Mapping[str, Any]) -> bool:
        with self._deps.store.unit_of_work(write=True) as session:
            changes = {**changes, "updated": self._deps.now()}
            return session.update("flow_group", eq("id", flow_group_id), changes) > 0

    def set_labels(self, flow_group_id: str, labels: Sequence[str] | None) -> bool:
        """Labels for new runs of the group's flows (sorted, without duplicates); ``None``
        removes them, and runs take their labels from the run config again."""
        return self._set(flow_group_id, {"labels": None if labels is None else sorted(set(labels))})

    def set_description(self, flow_group_id: str, description: str | None) -> bool:
        return self._set(flow_group_id, {"description": description})

    def set_default_parameters(self, flow_group_id: str, parameters: Any) -> bool:
        if not isinstance(parameters, Mapping):
            raise InvalidInput("Default parameters must be a JSON object.")
        return self._set(flow_group_id, {"default_parameters": dict(parameters)})

    def set_run_config(self, flow_group_id: str, run_config: Any) -> bool:
        if run_config is not None and not isinstance(run_config, Mapping):
            raise InvalidInput("A run config must be a serialized run config object or null.")
        return self._set(flow_group_id, {"run_config": run_config})

    def set_flow_setting(self, flow_id: str, name: str, value: bool) -> bool:
        """Turn a setting of the flow's group on or off (heartbeats, Lazarus)."""
        with self._deps.store.unit_of_work(write=True) as session:
            flow = by_id(session, "flow", flow_id)
            group = by_id(session, "flow_group", flow["flow_group_id"]) if flow else None
            if group is None:
                return False
            settings = {**(group.get("settings") or {}), name: value}
            session.update(
                "flow_group", eq("id", group["id"]), {"settings": settings, "updated": self._deps.now()}
            )
            return True

    def delete_flow_group(self, flow_group_id: str) -> bool:
        """Delete the group with every flow in it, and their runs."""
        with self._deps.store.unit_of_work(write=True) as session:
            delete_flows(session, eq("flow_group_id", flow_group_id))
            return session.delete("flow_group", eq("id", flow_group_id)) > 0
