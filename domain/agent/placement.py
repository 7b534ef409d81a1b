"""Where Swarm may run a flow run's task: the operator's placement and what a run asks for.

Constraints are Swarm's ``<attribute>==<value>`` or ``<attribute>!=<value>``
(``node.labels.role==flows``, ``node.hostname!=build-1``); preferences are
``spread=<attribute>`` (``spread=node.labels.zone``), the only kind Swarm has. The
operator's (``--constraint``, ``--placement-pref``) apply to every run. A run may add its
own in its run config's ``placement`` (``{"constraints": [...], "preferences": [...]}``),
each allowed only when it matches one of the operator's ``--allow-placement`` patterns
(``*`` matches any text, ``node.labels.zone==*``): a constraint can pin runs to nodes the
operator keeps for other work, so a run may never add one unasked. A run's constraints add
to the operator's; they can narrow where it runs, never widen it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from dockyard.domain.errors import RunRefused

_ATTRIBUTE = r"[A-Za-z0-9_.\-]+"
_CONSTRAINT = re.compile(rf"\s*(?P<key>{_ATTRIBUTE})\s*(?P<op>==|!=)\s*(?P<value>[^\s=!](?:.*[^\s])?)\s*")
_PREFERENCE = re.compile(rf"\s*spread\s*=\s*(?P<descriptor>{_ATTRIBUTE})\s*")


def parse_constraint(text: str) -> str:
    """A constraint as Swarm takes it, spaces dropped (``node.labels.a == b`` → ``node.labels.a==b``);
    ``ValueError`` saying what is expected otherwise."""
    match = _CONSTRAINT.fullmatch(text) if isinstance(text, str) else None
    if match is None or "==" in match["value"] or "!=" in match["value"]:
        raise ValueError(f"{text!r} is not a placement constraint (ATTRIBUTE==VALUE or ATTRIBUTE!=VALUE)")
    return f"{match['key']}{match['op']}{match['value']}"


def parse_preference(text: str) -> str:
    """A preference as ``spread=<attribute>``; ``ValueError`` otherwise."""
    match = _PREFERENCE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"{text!r} is not a placement preference (spread=ATTRIBUTE, e.g. spread=node.labels.zone)"
        )
    return f"spread={match['descriptor']}"


@dataclass(frozen=True)
class RunPlacement:
    """A run config's ``placement``, read (not yet allowed)."""

    constraints: tuple[str, ...] = ()
    preferences: tuple[str, ...] = ()


def parse_run_placement(raw: object) -> RunPlacement | None:
    """``{"constraints": [...], "preferences": [...]}``; a preference may also be written
    ``{"spread": "node.labels.zone"}``. ``RunRefused`` naming what is wrong."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not set(raw) <= {"constraints", "preferences"}:
        raise RunRefused("run_config `placement` must be an object of `constraints` and `preferences` lists")
    constraints = tuple(_read(raw.get("constraints"), "constraints", parse_constraint))
    preferences = tuple(
        _read(
            [_spread_text(item) for item in _items(raw.get("preferences"), "preferences")],
            "preferences",
            parse_preference,
        )
    )
    return RunPlacement(constraints, preferences)


def _items(value: object, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise RunRefused(f"run_config `placement.{field}` must be a list")
    return list(value)


def _spread_text(item: object) -> object:
    if isinstance(item, Mapping) and set(item) == {"spread"}:
        return f"spread={item['spread']}"
    return item


def _read(value: object, field: str, parse: Any) -> Iterable[str]:
    for item in _items(value, field):
        try:
            yield parse(item)
        except ValueError as exc:
            raise RunRefused(f"run_config `placement.{field}`: {exc}") from None


@dataclass(frozen=True)
class Placement:
    """A service's placement: the operator's, then the run's allowed ones."""

    constraints: tuple[str, ...] = ()
    preferences: tuple[str, ...] = ()

    def spec(self) -> dict[str, Any]:
        """The Engine API ``TaskTemplate.Placement``."""
        spec: dict[str, Any] = {}
        if self.constraints:
            spec["Constraints"] = list(self.constraints)
        if self.preferences:
            spec["Preferences"] = [
                {"Spread": {"SpreadDescriptor": preference.removeprefix("spread=")}}
                for preference in self.preferences
            ]
        return spec


def service_placement(
    constraints: Sequence[str],
    preferences: Sequence[str],
    requested: RunPlacement | None,
    allowed: Sequence[str],
) -> Placement:
    """The operator's placement with the run's added, each of the run's allowed by a pattern
    of ``allowed`` or already the operator's (``RunRefused`` naming the flag otherwise)."""
    if requested is None:
        return Placement(tuple(constraints), tuple(preferences))
    given = (
        ("constraint", requested.constraints, constraints),
        ("preference", requested.preferences, preferences),
    )
    for kind, items, operators in given:
        for item in items:
            # One the operator applies to every run already grants nothing.
            if item not in operators and not any(fnmatchcase(item, pattern) for pattern in allowed):
                raise RunRefused(
                    f"The run asks for the placement {kind} {item!r}, which this agent does not allow "
                    f"(start the agent with --allow-placement '{item}', or a pattern that matches it)"
                )
    return Placement(
        tuple(dict.fromkeys((*constraints, *requested.constraints))),
        tuple(dict.fromkeys((*preferences, *requested.preferences))),
    )
