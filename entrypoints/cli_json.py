"""JSON given on the command line."""

from __future__ import annotations

import json
from typing import Any

import click


def json_object(text: str, *, param_hint: str) -> dict[str, Any]:
    """``text`` parsed as a JSON object; a usage error (exit 2) naming the option if not."""
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint=param_hint) from None
    if not isinstance(parsed, dict):
        raise click.BadParameter("must be a JSON object", param_hint=param_hint)
    return parsed
