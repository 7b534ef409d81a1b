"""SQL LIKE as the stores evaluate it: the same answers as a regex with ``.*`` per ``%``,
without that regex's exponential backtracking on patterns a client chose."""

from __future__ import annotations

import re
import time

from hypothesis import given
from hypothesis import strategies as st

from dockyard.domain.server.filters import like


def _reference_like(pattern: str, value: str, insensitive: bool) -> bool:
    parts, escaped = [], False
    for char in pattern:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    flags = re.DOTALL | (re.IGNORECASE if insensitive else 0)
    return re.fullmatch("".join(parts), value, flags) is not None


@given(
    pattern=st.text(alphabet="ab%_\\A", max_size=8),
    value=st.text(alphabet="abAB%_\n", max_size=10),
    insensitive=st.booleans(),
)
def test_like_matches_as_sql_does(pattern: str, value: str, insensitive: bool) -> None:
    assert like(pattern, value, insensitive) == _reference_like(pattern, value, insensitive)


def test_like_patterns_cannot_make_matching_exponential() -> None:
    began = time.monotonic()
    assert not like("%" * 5000 + "x", "a" * 10_000, False)  # one regex of .* would never end
    assert not like("%a" * 2000 + "%b", "a" * 10_000, True)
    assert like("%a%" * 100, "a" * 10_000, False)
    assert time.monotonic() - began < 10.0
