"""Starting a registered flow by name (``dockyard run create --flow NAME``): which flow the
name means, and whether the parameters given fit it.

The rules, as ``prefect run`` has them: the newest version that is not archived, unless a
version is asked for; a name registered in several projects needs ``--project``; every
parameter given must be one the flow declares, and every required one must have a value
(given, or a default of its flow group).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class NoSuchFlow(ValueError):
    """No flow fits the name (and project, and version) given."""


class AmbiguousFlow(ValueError):
    """The name is registered in several projects and none was chosen."""


class ParametersRefused(ValueError):
    """Parameters the flow does not declare, or required ones without a value."""


def _project(flow: Mapping[str, Any]) -> str:
    return str((flow.get("project") or {}).get("name") or "")


def choose_flow(
    flows: Sequence[Mapping[str, Any]], name: str, *, project: str | None, version: int | None
) -> Mapping[str, Any]:
    """The flow to start among ``flows``, every version of every flow called ``name`` (with
    ``version``, ``archived`` and ``project.name``)."""
    if project is not None:
        elsewhere = sorted({_project(flow) for flow in flows})
        flows = [flow for flow in flows if _project(flow) == project]
        if not flows:
            noun = "project" if len(elsewhere) == 1 else "projects"
            where = f" (it is in {noun} {', '.join(elsewhere)})" if elsewhere else ""
            raise NoSuchFlow(f"no flow named {name!r} in project {project!r}{where}")
    if not flows:
        raise NoSuchFlow(f"no flow named {name!r}")
    projects = sorted({_project(flow) for flow in flows})
    if len(projects) > 1:
        raise AmbiguousFlow(
            f"a flow named {name!r} is in several projects: {', '.join(projects)}; choose one with --project"
        )
    if version is not None:
        chosen = [flow for flow in flows if flow.get("version") == version]
        if not chosen:
            versions = ", ".join(str(v) for v in sorted({int(flow.get("version") or 0) for flow in flows}))
            raise NoSuchFlow(f"flow {name!r} has no version {version} (its versions: {versions})")
        if chosen[0].get("archived"):
            raise NoSuchFlow(f"version {version} of flow {name!r} is archived")
        return chosen[0]
    live = [flow for flow in flows if not flow.get("archived")]
    if not live:
        raise NoSuchFlow(f"every version of flow {name!r} is archived")
    return max(live, key=lambda flow: int(flow.get("version") or 0))


def check_parameters(flow: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    """``ParametersRefused`` unless every name in ``given`` is one of the flow's parameters
    and every required parameter has a value (given, or the flow group's default)."""
    declared = [p for p in flow.get("parameters") or [] if isinstance(p, Mapping) and p.get("name")]
    names = [str(p["name"]) for p in declared]
    unknown = [name for name in given if name not in names]
    if unknown:
        listed = ", ".join(
            f"{p['name']} (required)" if p.get("required") else str(p["name"]) for p in declared
        )
        its = f"its parameters are {listed}" if declared else "it has no parameters"
        raise ParametersRefused(f"flow {flow.get('name')!r} has no parameter {', '.join(unknown)}; {its}")
    defaults = (flow.get("flow_group") or {}).get("default_parameters") or {}
    missing = [
        str(p["name"])
        for p in declared
        if p.get("required") and p["name"] not in given and p["name"] not in defaults
    ]
    if missing:
        raise ParametersRefused(
            f"flow {flow.get('name')!r} needs a value for its required parameter {', '.join(missing)}: "
            + " ".join(f"--param {name}=VALUE" for name in missing)
        )
