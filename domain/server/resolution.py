"""How a new flow run gets its labels, run config and parameters.

Each comes from the first source that has one: the request, then the flow group's
settings, then the flow as registered. A run config a request brings is checked first when
it is one dockyard's agent runs (``DockerRun``); other types (``LocalRun``,
``KubernetesRun``...) are other agents' to read and are stored as they come.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockyard.domain.agent.run_config import check_docker_run
from dockyard.domain.errors import RunRefused
from dockyard.domain.server.errors import InvalidInput
from dockyard.domain.server.filters import Row


def _labels_of(config: Any) -> list[str] | None:
    if isinstance(config, Mapping) and config.get("labels") is not None:
        labels = config["labels"]
        # A string would iterate as single characters: labels must be a real list.
        if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
            raise InvalidInput("run_config.labels must be a list of strings.")
        return list(labels)
    return None


def run_labels(requested: list[str] | None, run_config: Any, flow_group: Row, flow: Row) -> list[str]:
    """Sorted, de-duplicated labels; the first source that defines labels wins."""
    candidates = (
        requested,
        _labels_of(run_config),
        flow_group.get("labels"),
        _labels_of(flow_group.get("run_config")),
        _labels_of(flow.get("run_config")),
        _labels_of(flow.get("environment")),
    )
    for labels in candidates:
        if labels is not None:
            return sorted({str(label) for label in labels})
    return []


def check_requested_run_config(requested: Any) -> None:
    """``InvalidInput`` for a run config dockyard's agent would refuse: a ``DockerRun`` with
    a key it does not know, a value it cannot read, or an image reference that is not one."""
    if requested is None:
        return
    if not isinstance(requested, Mapping):
        raise InvalidInput(f"run_config is not an object but {_json_kind(requested)}.")
    _labels_of(requested)
    if requested.get("type") == "DockerRun":
        try:
            check_docker_run(requested)
        except RunRefused as exc:
            reason = str(exc)
            raise InvalidInput(
                f"{reason if reason.startswith('run_config') else 'run_config: ' + reason}."
            ) from None


def _json_kind(value: Any) -> str:
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "a boolean" if isinstance(value, bool) else "a number"


def run_config(requested: Any, flow_group: Row, flow: Row) -> Any:
    for config in (requested, flow_group.get("run_config"), flow.get("run_config")):
        if config is not None:
            return config
    return None


def run_parameters(requested: Any, flow_group: Row, flow: Row) -> dict[str, Any]:
    """Flow defaults (Prefect Server keeps only truthy ones) < flow group defaults <
    the request; every required parameter must end up with a value."""
    if requested is not None and not isinstance(requested, Mapping):
        raise InvalidInput("Flow run parameters must be a JSON object.")
    declared = [p for p in flow.get("parameters") or [] if isinstance(p, Mapping) and "name" in p]
    values: dict[str, Any] = {p["name"]: p["default"] for p in declared if p.get("default")}
    values.update(flow_group.get("default_parameters") or {})
    values.update(requested or {})
    missing = sorted(p["name"] for p in declared if p.get("required") and p["name"] not in values)
    if missing:
        raise InvalidInput(f"Required parameters were not supplied: {set(missing)}")
    return values
