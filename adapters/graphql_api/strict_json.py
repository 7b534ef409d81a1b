"""JSON as the standard has it, and only values the server can keep.

Every JSON text a client sends is parsed here. Python's parser also takes ``NaN`` and
``Infinity``, turns ``1e400`` into infinity and ``"\\ud83d"`` into a lone UTF-16 surrogate,
which no UTF-8 text (nor SQLite) can hold; integers may have thousands of digits. Stored,
such values would break later, deep inside the server, or be sent back to clients that
cannot read them. So they are refused here, with the place they were found:
``variables.input.flow_run_name``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

INT_RANGE = (-(2**63), 2**63 - 1)  # what SQLite and most JSON readers keep exactly
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class InvalidJsonValue(ValueError):
    """A well-formed JSON text holding a value the server refuses; names where it is."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where} {problem}")
        self.where, self.problem = where, problem


class _Refused:
    """Stands in for a number the parser hooks refused, until the walk names its place."""

    def __init__(self, text: str, problem: str) -> None:
        self.text, self.problem = text, problem


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _integer(text: str) -> Any:
    if len(text) > 20:  # before int(): thousands of digits cost quadratic time
        return _Refused(text, f"is an integer outside the 64-bit range: {text[:20]}…")
    value = int(text)
    if not INT_RANGE[0] <= value <= INT_RANGE[1]:
        return _Refused(text, f"is an integer outside the 64-bit range: {text}")
    return value


def _float(text: str) -> Any:
    value = float(text)
    if not math.isfinite(value):
        return _Refused(text, f"is a number too large for a double: {text[:40]}")
    return value


def parse(text: str | bytes) -> tuple[Any, bool]:
    """Parse one JSON text, or raise ``ValueError``. Return the value and whether it may
    hold a value the server refuses: if so, ``check`` its parts, each by its own name
    (numbers the server refuses are left in place as markers for ``check`` to report)."""
    if isinstance(text, bytes):
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    refused: list[_Refused] = []

    def integer(token: str) -> Any:
        value = _integer(token)
        if isinstance(value, _Refused):
            refused.append(value)
        return value

    def decimal(token: str) -> Any:
        value = _float(token)
        if isinstance(value, _Refused):
            refused.append(value)
        return value

    value = json.loads(text, parse_constant=_not_json, parse_int=integer, parse_float=decimal)
    return value, bool(refused) or _may_hold_surrogate(text)


def _may_hold_surrogate(text: str) -> bool:
    # A lone surrogate can only come from a \uD800-\uDFFF escape (bytes are decoded with
    # surrogatepass) or from the character itself; both searches run at C speed.
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        return True
    return not text.isascii() and _SURROGATE.search(text) is not None


def loads(text: str | bytes, *, where: str) -> Any:
    """Parse one JSON text; raise ``ValueError`` when it is not JSON and
    ``InvalidJsonValue`` (a ValueError) naming the place of a value the server refuses."""
    value, suspect = parse(text)
    if suspect:
        check(value, where)
    return value


def check(value: Any, where: str) -> None:
    """Raise ``InvalidJsonValue`` for the first refused value in ``value``: a lone
    surrogate in a string or key, an integer beyond 64 bits, a non-finite number."""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            _check_text(item, path)
        elif isinstance(item, dict):
            for key, inner in item.items():
                _check_text(key, f"a key of {path}")
                stack.append((inner, f"{path}.{key[:64]}"))
        elif isinstance(item, list):
            stack.extend((inner, f"{path}[{i}]") for i, inner in enumerate(item))
        elif isinstance(item, _Refused):
            raise InvalidJsonValue(path, item.problem)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int) and not INT_RANGE[0] <= item <= INT_RANGE[1]:
            raise InvalidJsonValue(path, "is an integer outside the 64-bit range")
        elif isinstance(item, float) and not math.isfinite(item):
            raise InvalidJsonValue(path, "is not a finite number")


def _check_text(text: str, path: str) -> None:
    if not text.isascii():
        found = _SURROGATE.search(text)
        if found is not None:
            code = f"\\u{ord(found.group()):04x}"
            raise InvalidJsonValue(
                path,
                f"contains a lone UTF-16 surrogate ({code}) at character {found.start()}: not Unicode text",
            )
