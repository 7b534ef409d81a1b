"""The start-a-run form: one text field per declared parameter, holding JSON.

A field holds a JSON value (``3``, ``"text"``, ``[1, 2]``); text that is not JSON is taken
as a plain string, so ``hello`` works as well as ``"hello"``. An empty field leaves the
parameter to its default (the backend refuses a run missing a required one).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.domain.server.views.flows import Parameter

FIELD_PREFIX = "param."


@dataclass(frozen=True)
class ParameterField:
    name: str
    required: bool
    text: str
    placeholder: str

    @property
    def field(self) -> str:
        return FIELD_PREFIX + self.name


@dataclass(frozen=True)
class ParameterForm:
    fields: tuple[ParameterField, ...]
    run_name: str = ""

    @classmethod
    def blank(cls, parameters: Sequence[Parameter]) -> ParameterForm:
        return cls(tuple(ParameterField(p.name, p.required, "", _placeholder(p)) for p in parameters))

    @classmethod
    def posted(cls, parameters: Sequence[Parameter], form: Mapping[str, str]) -> ParameterForm:
        return cls(
            tuple(
                ParameterField(p.name, p.required, form.get(FIELD_PREFIX + p.name, ""), _placeholder(p))
                for p in parameters
            ),
            form.get("run_name", "").strip(),
        )

    def values(self) -> dict[str, Any] | None:
        """The parameters given (None when none was)."""
        given = {f.name: _value(f.text) for f in self.fields if f.text.strip()}
        return given or None


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _placeholder(parameter: Parameter) -> str:
    if parameter.required:
        return "required"
    return "default: " + json.dumps(parameter.default, default=str)
